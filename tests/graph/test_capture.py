"""chainrule.function: trace once per signature, replay, and stay differentiable."""

import numpy as np
import pytest

import chainrule as cr
from .graph_op_suite import CASES, as_tensors


@pytest.mark.parametrize("case", sorted(CASES))
def test_captured_equals_eager_on_the_op_suite(case):
    fn, arrays = CASES[case]
    eager = fn(*as_tensors(arrays))
    f = cr.function(fn)
    first = f(*as_tensors(arrays))  # traces, then replays
    again = f(*as_tensors(arrays))  # replays only
    assert f.tracing_count == 1
    for got in (first, again):
        np.testing.assert_allclose(got.numpy(), eager.numpy(), rtol=1e-6, atol=1e-6)
        assert got.dtype == eager.dtype and got.shape == eager.shape


def test_suite_covers_every_primitive():
    from chainrule.primitives.table import PRIMITIVES
    seen = set()
    for fn, arrays in CASES.values():
        seen |= {node.prim.name for node in cr.function(fn).get_graph(*as_tensors(arrays))}
    assert set(PRIMITIVES) - seen == set()


def test_decorator_forms_and_retracing():
    calls = []

    @cr.function
    def f(x, scale):
        calls.append(1)  # a Python side effect: runs only while tracing
        return x * scale

    g = cr.function(jit_compile=False)(lambda x: x + 1.0)
    assert float(g(cr.constant(1.0))) == 2.0
    x2, x3 = cr.constant([1.0, 2.0]), cr.constant([1.0, 2.0, 3.0])
    f(x2, 2.0)
    f(cr.constant([5.0, 6.0]), 2.0)
    assert f.tracing_count == 1 and len(calls) == 1
    f(x3, 2.0)  # new shape
    assert f.tracing_count == 2
    f(x3, 3.0)  # new Python scalar
    assert f.tracing_count == 3
    f(cr.constant([1.0, 2.0], dtype=cr.float64), 2.0)  # new dtype
    assert f.tracing_count == 4
    np.testing.assert_array_equal(f(x3, 3.0).numpy(), [3.0, 6.0, 9.0])
    assert f.tracing_count == 4
    assert f.graph.inputs[0].shape == (3,)
    assert f.get_graph(x2, 2.0).inputs[0].shape == (2,)


def test_nested_structures_and_numpy_arguments():
    @cr.function
    def f(pair, extra=None):
        a, b = pair
        return {"sum": a + b, "scaled": extra["k"] * a}

    out = f((np.ones(2, np.float32), cr.constant([1.0, 2.0])), extra={"k": cr.constant(3.0)})
    assert sorted(out) == ["scaled", "sum"]
    np.testing.assert_array_equal(out["sum"].numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(out["scaled"].numpy(), [3.0, 3.0])


def test_variables_are_read_live():
    w = cr.Variable([1.0, 2.0])
    f = cr.function(lambda x: x * w)
    np.testing.assert_array_equal(f(cr.constant([1.0, 1.0])).numpy(), [1.0, 2.0])
    w.assign([10.0, 20.0])
    np.testing.assert_array_equal(f(cr.constant([1.0, 1.0])).numpy(), [10.0, 20.0])
    assert f.tracing_count == 1


def test_reading_a_variable_into_python_is_noted_as_a_value_read():
    """A replay reads Variables live, but a number Python took from one while tracing is
    frozen: the trace says so, as for any traced value."""
    from chainrule.graph.capture import trace

    w = cr.Variable([1.0, 2.0])
    for read in (lambda: float(w[0]), lambda: w.numpy()[0], lambda: float(cr.reduce_sum(w))):
        traced = trace(lambda x: x * read(), cr.constant([1.0, 1.0]))
        assert traced.value_reads
    traced = trace(lambda x: x * float(w.numpy()[1]), cr.constant([1.0, 1.0]))
    assert traced.value_reads == ["numpy() of Variable '%s' (2,)" % w.name]
    assert trace(lambda x: x * w, cr.constant([1.0, 1.0])).value_reads == []


@pytest.mark.parametrize("first_call_inside_tape", [False, True])
def test_gradients_flow_through_a_function_called_in_a_tape(first_call_inside_tape):
    w = cr.Variable([0.5, -1.5])
    x = cr.constant([0.3, 0.7])
    model = cr.function(lambda x: cr.reduce_sum(cr.tanh(x * w) * x))
    if not first_call_inside_tape:
        model(x)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
    got_w, got_x = tape.gradient(y, [w, x])
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.reduce_sum(cr.tanh(x * w) * x)
    want_w, want_x = tape.gradient(y, [w, x])
    np.testing.assert_allclose(got_w.numpy(), want_w.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got_x.numpy(), want_x.numpy(), rtol=1e-6)


def test_a_captured_training_step_updates_variables_once_per_call():
    v = cr.Variable([1.0, 2.0])

    @cr.function
    def step(x):
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(v * v * x)
        v.assign_sub(0.1 * tape.gradient(loss, v))
        return loss

    def eager_step(u, x):
        return u - 0.1 * 2 * u * x

    x = np.array([1.0, 0.5], np.float32)
    expected = v.numpy()
    for _ in range(3):
        step(cr.constant(x))
        expected = eager_step(expected, x)
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6)
    names = [n.prim.name for n in step.graph]
    assert names[-1] == "assign_sub" and step.graph.nodes[-1].is_update
    assert step.tracing_count == 1


def test_slice_assign_and_method_decorator():
    class Counter:
        def __init__(self):
            self.v = cr.Variable([0.0, 0.0, 0.0])

        @cr.function
        def bump(self, amount):
            self.v[1].assign_add(amount)
            return self.v * 1.0

    c = Counter()
    c.bump(cr.constant(2.0))
    out = c.bump(cr.constant(3.0))
    np.testing.assert_array_equal(c.v.numpy(), [0.0, 5.0, 0.0])
    np.testing.assert_array_equal(out.numpy(), [0.0, 5.0, 0.0])


def test_an_index_that_is_a_traced_value_is_refused_not_frozen():
    from chainrule.graph import TraceError

    f = cr.function(lambda x, i: x[i] * 2.0)
    with pytest.raises(TraceError, match="getitem: .* traced tensor i"):
        f(cr.constant([1.0, 2.0, 3.0]), np.array([2, 0]))
    fixed = np.array([2, 0])  # captured from the enclosing scope: a true constant
    g = cr.function(lambda x: x[fixed] * 2.0)
    np.testing.assert_array_equal(g(cr.constant([1.0, 2.0, 3.0])).numpy(), [6.0, 2.0])


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("draw", [
    lambda shape: cr.random.uniform(shape, -2.0, 3.0),
    lambda shape: cr.random.uniform(shape, 0, 100, dtype="int32"),
    lambda shape: cr.random.normal(shape, 1.0, 0.5),
    lambda shape: cr.random.truncated_normal(shape, 0.0, 2.0),
], ids=["uniform", "integers", "normal", "truncated_normal"])
def test_random_ops_draw_anew_at_every_call(draw, jit_compile):
    def noisy(x):
        return cr.cast(draw(x.shape), x.dtype) + x

    x = cr.constant(np.zeros(6, np.float32))
    f = cr.function(noisy, jit_compile=jit_compile)
    cr.random.set_seed(5)
    eager = [noisy(x).numpy() for _ in range(3)]
    cr.random.set_seed(5)
    traced = [f(x).numpy() for _ in range(3)]  # the first call traces; then replays
    assert f.tracing_count == 1
    for a, b in zip(eager, traced):  # the same sequence as eager code: nothing frozen
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(traced[1], traced[2])
    cr.random.set_seed(None)


def test_a_layer_built_inside_a_trace_draws_its_weights_once():
    from chainrule.keras import layers
    layer = layers.Dense(3)
    f = cr.function(lambda x: layer(x))
    x = cr.constant(np.ones((2, 4), np.float32))
    first, again = f(x).numpy(), f(x).numpy()
    np.testing.assert_array_equal(first, again)
    assert "random" not in [node.prim.name for node in f.get_graph(x)]


def test_the_graph_package_traces_without_the_compiler():
    # chainrule.graph knows no compiler: its function replays op by op, and says where
    # compiling is; a trace made without a compiler says so instead of compiling.
    from chainrule.graph import function, trace
    f = function(lambda x: x * 2.0)
    assert float(f(cr.constant(3.0))) == 6.0 and float(f(cr.constant(4.0))) == 8.0
    assert f.tracing_count == 1 and f.compile is None
    with pytest.raises(ValueError, match=r"chainrule.function\(jit_compile=True\)"):
        function(lambda x: x, jit_compile=True)
    with pytest.raises(ValueError, match="without a compiler"):
        trace(lambda x: x * 2.0, cr.constant(1.0)).compiled()
