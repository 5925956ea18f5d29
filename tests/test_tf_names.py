"""TensorFlow names the guides use beyond the chapter: TensorShape, NumPy functions on
tensors, tf.errors, tf.device, tf.config, tape.watched_variables, optimizer.apply."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras


def test_shape_is_a_tensorshape_and_a_tuple():
    x = tf.zeros((2, 3))
    assert x.shape.as_list() == [2, 3] and x.shape == (2, 3) and x.shape[1] == 3
    assert x.shape.rank == 2 and x.shape.num_elements() == 6 and x.get_shape() == (2, 3)
    assert repr(x.shape) == "TensorShape([2, 3])" and f"{x.shape}" == "(2, 3)"
    rows, cols = x.shape
    assert (rows, cols) == (2, 3)
    assert tf.Variable(np.zeros(4, np.float32)).shape.as_list() == [4]


def test_numpy_reductions_on_tensors():
    t = tf.constant([[1.0, 2.0], [3.0, 5.0]])
    assert np.mean(t, axis=0).numpy().tolist() == [2.0, 3.5]
    assert float(np.sum(t)) == 11.0 and float(np.max(t)) == 5.0 and float(np.min(t)) == 1.0
    assert float(np.prod(t)) == 30.0
    np.testing.assert_allclose(np.std(t, axis=1).numpy(), np.std(t.numpy(), axis=1), rtol=1e-6)
    np.testing.assert_allclose(np.var(t, ddof=1), np.var(t.numpy(), ddof=1), rtol=1e-6)
    assert int(np.argmax(t)) == 3 and np.argmax(t, axis=1).numpy().tolist() == [1, 1]
    assert float(np.mean(tf.constant([1, 2]))) == 1.5  # NumPy's mean of ints is a float
    assert np.mean(t, keepdims=True).shape == (1, 1)
    with pytest.raises(TypeError, match="out= is not supported"):
        t.mean(out=np.zeros(2))


def test_errors_catch_what_ops_raise():
    with pytest.raises(tf.errors.InvalidArgumentError, match="add: shapes"):
        tf.constant([1, 2]) + tf.constant([1, 2, 3])
    assert issubclass(tf.errors.InvalidArgumentError, ValueError)
    assert issubclass(tf.errors.ResourceExhaustedError, tf.errors.OpError)


def test_device_and_config():
    with tf.device("/CPU:0"):
        y = tf.constant(2.0) * 3
    with tf.device("/GPU:0"):  # soft placement: runs on the CPU
        z = y + 1
    assert float(z) == 7.0
    assert tf.config.list_physical_devices("GPU") == []
    assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"
    assert tf.config.functions_run_eagerly() is False


def test_watched_variables_after_gradient():
    w, b = tf.Variable(2.0), tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = w * 3.0 + b
    tape.gradient(y, [w, b])
    assert tape.watched_variables() == (w, b)


def test_optimizer_apply():
    w = tf.Variable([1.0, 2.0])
    opt = keras.optimizers.SGD(learning_rate=0.5)
    opt.apply([tf.constant([1.0, 1.0])], [w])
    assert w.numpy().tolist() == [0.5, 1.5]
    opt.apply([tf.constant([1.0, 0.0])])  # the variables of the previous call
    assert w.numpy().tolist() == [0.0, 1.5] and int(opt.iterations) == 2
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([tf.constant(1.0)], [w, w])


def test_linalg_math_nn_namespaces():
    assert tf.linalg.matmul is tf.matmul and callable(tf.linalg.einsum)
    for name in ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf",
                 "log1p", "expm1", "reduce_prod", "cumsum", "is_nan", "sigmoid", "softplus"]:
        assert callable(getattr(tf.math, name)), name
    for name in ["elu", "gelu", "selu", "leaky_relu", "softplus", "relu6", "silu", "swish"]:
        assert callable(getattr(tf.nn, name)), name
    assert tf.is_tensor(tf.constant(1.0)) and not tf.is_tensor(1.0)


def test_types_experimental_for_isinstance_checks():
    f = tf.function(lambda x: x * 2.0)
    concrete = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    kinds = tf.types.experimental
    assert isinstance(f, kinds.GenericFunction) and isinstance(f, kinds.PolymorphicFunction)
    assert isinstance(concrete, kinds.ConcreteFunction)
    assert not isinstance(f, kinds.ConcreteFunction) and not isinstance(concrete,
                                                                          kinds.GenericFunction)
    assert not isinstance(lambda x: x, kinds.GenericFunction)

    class Scaler(tf.Module):
        @tf.function
        def __call__(self, x):
            return x * 3.0

    assert isinstance(Scaler().__call__, kinds.GenericFunction)  # a bound method too
    for value in (tf.constant(1.0), tf.Variable(1.0), 1, 2.5, "text", np.zeros(2),
                  np.float32(1), [1, 2], (3,)):
        assert isinstance(value, kinds.TensorLike), value
    for value in ({}, None, object()):
        assert not isinstance(value, kinds.TensorLike)
    with pytest.raises(AttributeError, match="'TraceType' is a TensorFlow name that chainrule "
                                             "does not have yet"):
        kinds.TraceType  # noqa: B018


def test_string_tensors():
    t = tf.constant("Gray wolf")
    assert t.dtype == tf.string and t.shape == () and t.numpy() == b"Gray wolf"
    assert repr(t) == "<chainrule.Tensor: shape=(), dtype=string, numpy=b'Gray wolf'>"
    words = tf.constant(["Gray", "wolf", "Quick brown fox", "你好"])
    assert str(words).endswith("shape=(4,), dtype=string)")
    assert words.numpy().tolist() == [b"Gray", b"wolf", b"Quick brown fox",
                                      "你好".encode("utf-8")]
    assert (words == "wolf").numpy().tolist() == [False, True, False, False]
    assert tf.equal(words, tf.constant("Gray")).numpy().tolist() == [True, False, False, False]
    assert repr(words[1]) == "<chainrule.Tensor: shape=(), dtype=string, numpy=b'wolf'>"
    assert [w.numpy() for w in words][:2] == [b"Gray", b"wolf"]  # one element: a 0-d tensor
    grid = tf.reshape(words, (2, 2))
    assert grid[1, 0].numpy() == b"Quick brown fox" and grid[:, 1].shape == (2,)
    assert tf.concat([words, words], 0).shape == (8,) and tf.stack([words, words]).shape == (2, 4)
    assert tf.gather(words, [0, 2]).numpy().tolist() == [b"Gray", b"Quick brown fox"]
    assert tf.constant(b"raw", dtype="string").numpy() == b"raw"
    assert tf.as_dtype("string") == tf.string and tf.as_dtype(7) == tf.string
    assert repr(tf.TensorSpec([None], tf.string)) == \
        "TensorSpec(shape=(None,), dtype=tf.string, name=None)"
    with pytest.raises(TypeError, match="a tf.string tensor holds text \\(str or bytes\\); "
                                        "received int 3"):
        tf.constant(["a", 3], dtype=tf.string)
    with pytest.raises(AttributeError, match="'strings' is a TensorFlow name that chainrule does "
                                             "not have yet \\(chainrule\\). There are string "
                                             "tensors"):
        tf.strings  # noqa: B018


def test_string_tensors_through_a_traced_function():
    # The function guide's `double`: `a + a` joins strings, as TensorFlow's add does.
    double = tf.function(lambda a: a + a)
    assert double(tf.constant("a")).numpy() == b"aa"
    concrete = double.get_concrete_function(tf.TensorSpec(shape=[], dtype=tf.string))
    assert concrete(tf.constant("c")).numpy() == b"cc"
    assert (tf.constant(["a", "b"]) + "x").numpy().tolist() == [b"ax", b"bx"]
