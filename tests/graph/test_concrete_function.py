"""TensorSpec, ``input_signature`` and ``get_concrete_function``, as TensorFlow's guides use
them."""

import numpy as np
import pytest

import chainrule as tf


def test_tensor_spec():
    spec = tf.TensorSpec(shape=[None, 3], dtype=tf.int32, name="x")
    assert repr(spec) == "TensorSpec(shape=(None, 3), dtype=tf.int32, name='x')"
    assert spec.shape.as_list() == [None, 3] and not spec.shape.is_fully_defined()
    assert spec.is_compatible_with(tf.zeros((7, 3), tf.int32))
    assert not spec.is_compatible_with(tf.zeros((7, 3)))  # float32
    assert not spec.is_compatible_with(tf.zeros((7, 3, 1), tf.int32))
    assert tf.TensorSpec(None).is_compatible_with(tf.zeros((2, 2, 2)))
    assert tf.TensorSpec.from_tensor(tf.ones((2,))) == tf.TensorSpec((2,), tf.float32)
    assert spec.example(size=4).shape == (4, 3)


def test_input_signature_checks_and_converts_the_arguments():
    @tf.function(input_signature=(tf.TensorSpec(shape=[None], dtype=tf.int32),))
    def next_collatz(x):
        return tf.where(x % 2 == 0, x // 2, 3 * x + 1)

    np.testing.assert_array_equal(next_collatz(tf.constant([1, 2, 3])).numpy(), [4, 1, 10])
    np.testing.assert_array_equal(next_collatz([4, 5]).numpy(), [2, 16])  # converted
    with pytest.raises(TypeError, match=r"shape \(2, 2\) does not fit TensorSpec"):
        next_collatz(tf.constant([[1, 2], [3, 4]]))
    with pytest.raises(TypeError, match="a float32 tensor of shape"):
        next_collatz(tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="takes 1 argument"):
        next_collatz(tf.constant([1]), tf.constant([2]))
    assert next_collatz(x=tf.constant([6])).numpy().tolist() == [3]


def test_input_signature_on_a_method_leaves_self_out():
    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return x * self.w

    m = Scale()
    assert m(tf.ones((3, 2))).numpy().sum() == 12.0
    with pytest.raises(TypeError, match="does not fit"):
        m(tf.ones((3, 3)))
    concrete = m.__call__.get_concrete_function()
    assert concrete(tf.ones((1, 2))).numpy().tolist() == [[2.0, 2.0]]


def test_get_concrete_function_from_specs_or_tensors():
    @tf.function
    def pow_(a, b):
        return a ** b

    square = pow_.get_concrete_function(a=tf.TensorSpec(None, tf.float32), b=2)
    assert float(square(tf.constant(3.0))) == 9.0
    assert square(a=tf.constant([1.0, 2.0])).numpy().tolist() == [1.0, 4.0]  # open shape
    with pytest.raises(TypeError, match="a int32 tensor"):
        square(tf.constant(3))
    with pytest.raises(TypeError, match="takes 1 tensor argument"):
        square(tf.constant(3.0), 2)
    assert square.structured_input_signature == ((), {"a": tf.TensorSpec(None, tf.float32),
                                                      "b": 2})
    assert "a: TensorSpec(shape=<unknown>" in square.pretty_printed_signature()

    cube = pow_.get_concrete_function(tf.constant(2.0), 3)
    assert float(cube(tf.constant(2.0))) == 8.0
    assert [n.prim.name for n in cube.graph] == ["power"]
    assert len(cube.inputs) == 1 and len(cube.outputs) == 1
    assert cube.structured_outputs == tf.TensorSpec((), tf.float32)
    listing = pow_.pretty_printed_concrete_signatures()
    # three traces: a=() with b=2, a=(2,) with b=2 (open shapes trace anew), a=() with b=3
    assert listing.count("Args:") == pow_.tracing_count == 3


def test_get_concrete_function_without_arguments_needs_a_signature():
    f = tf.function(lambda x: x)
    with pytest.raises(ValueError, match="needs arguments"):
        f.get_concrete_function()


def test_a_concrete_function_refuses_other_dtypes_as_tensorflow_does():
    double = tf.function(lambda a: a + a)
    concrete = double.get_concrete_function(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not fit"):
        concrete(tf.constant(1))
    with pytest.raises(TypeError):  # the same error is a TypeError too
        concrete(tf.constant(1))


def test_a_graph_as_tensorflow_lists_it():
    w = tf.Variable(2.0, name="w")

    @tf.function
    def f(x):
        return tf.exp(x) * w + 1.0

    graph = f.get_concrete_function(tf.constant(1.0)).graph
    nodes = graph.as_graph_def().node
    by_name = {n.name: n for n in nodes}
    assert [n.op for n in nodes[:3]] == ["Placeholder", "VarHandleOp", "Const"]
    exp = next(n for n in nodes if n.op == "exp")
    assert exp.input == ["x"]
    multiply = next(n for n in nodes if n.op == "multiply")
    assert multiply.input == [exp.name, "w"] and by_name["w"].op == "VarHandleOp"
    assert len(graph.get_operations()) == 3


def test_function_type_and_inference_fn():
    @tf.function
    def scale(a, b):
        return a * b

    concrete = scale.get_concrete_function(tf.TensorSpec([2], tf.float32), 3.0)
    ftype = concrete.function_type
    assert ftype.parameters == {"a": tf.TensorSpec([2], tf.float32), "b": 3.0}
    assert ftype.output == tf.TensorSpec([2], tf.float32)
    assert str(ftype) == f"(a: {tf.TensorSpec([2], tf.float32)!r}, b: 3.0) -> " \
                         f"{tf.TensorSpec([2], tf.float32)!r}"
    atomic = concrete.inference_fn
    np.testing.assert_allclose(atomic(tf.constant([1.0, 2.0])).numpy(), [3.0, 6.0])
    assert "AtomicFunction" in repr(atomic)
    with pytest.raises(TypeError, match="positionally"):
        atomic(tf.constant([1.0, 1.0]), tf.constant([2.0, 2.0]))
