"""The compiled executor gives eager results, reuses buffers, and replays training steps."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import CompiledGraph, compile
from tests.graph.graph_op_suite import CASES, as_tensors


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_equals_eager_on_the_op_suite(case):
    fn, arrays = CASES[case]
    eager = fn(*as_tensors(arrays))
    compiled = compile(cr.function(fn).get_graph(*as_tensors(arrays)))
    for _ in range(2):  # the second call runs on reused buffers
        (got,) = compiled(*arrays)
        assert got.dtype == eager.dtype and got.shape == eager.shape
        np.testing.assert_array_equal(got, eager.numpy())  # bit for bit


def test_buffers_are_reused_and_outputs_are_copies():
    def chain(x):
        y = x
        for _ in range(10):
            y = cr.tanh(y * 1.5 + 0.1)
        return y

    x = np.linspace(-1, 1, 1000).astype(np.float32)
    compiled = compile(cr.function(chain).get_graph(cr.constant(x)))
    # Ten tanh and ten loops of the multiply-add (or twenty ufuncs without numba), in two
    # buffers that take turns.
    assert compiled.planned_count >= 20 and compiled.buffer_count <= 2
    first = compiled(x)[0]
    second = compiled(x * 0)[0]
    np.testing.assert_allclose(first, chain(cr.constant(x)).numpy(), rtol=1e-6)
    assert not np.array_equal(first, second)  # the first result was not overwritten


def test_views_keep_their_buffers_alive():
    def f(x):
        a = x * 2.0  # a planned buffer
        t = cr.transpose(a)  # a view of it
        b = x * 3.0  # must not reuse a's buffer while t is still needed
        return cr.matmul(t, b)

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    compiled = compile(cr.function(f).get_graph(cr.constant(x)))
    np.testing.assert_allclose(compiled(x)[0], f(cr.constant(x)).numpy())


def test_jit_compiled_training_step_matches_eager():
    def make():  # a small version of the book's model: Dense relu -> Dense, RMSprop slots
        rng = np.random.default_rng(1)
        params = [cr.Variable(rng.normal(size=(6, 5)).astype(np.float32) * 0.5),
                  cr.Variable(np.zeros(5, np.float32)),
                  cr.Variable(rng.normal(size=(5, 4)).astype(np.float32) * 0.5),
                  cr.Variable(np.zeros(4, np.float32))]
        return params, [cr.Variable(np.zeros(v.shape, np.float32)) for v in params]

    def train_step(params, slots, x, y):
        w1, b1, w2, b2 = params
        with cr.GradientTape() as tape:
            logits = cr.matmul(cr.nn.relu(cr.matmul(x, w1) + b1), w2) + b2
            loss = cr.reduce_mean(cr.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, params)
        for p, g, s in zip(params, grads, slots):  # RMSprop, epsilon inside the root
            s.assign(0.9 * s + 0.1 * g * g)
            p.assign_sub(0.01 * g / cr.sqrt(s + 1e-7))
        return loss

    rng = np.random.default_rng(2)
    batches = [(rng.normal(size=(8, 6)).astype(np.float32), rng.integers(0, 4, 8).astype(np.uint8))
               for _ in range(6)]
    eager_params, eager_slots = make()
    jit_params, jit_slots = make()
    step = cr.function(lambda x, y: train_step(jit_params, jit_slots, x, y), jit_compile=True)
    for x, y in batches:
        want = train_step(eager_params, eager_slots, cr.constant(x), cr.constant(y))
        got = step(x, y)
        np.testing.assert_allclose(float(got), float(want), rtol=1e-6)
    assert step.tracing_count == 1
    for a, b in zip(jit_params + jit_slots, eager_params + eager_slots):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


def test_jit_function_inside_a_tape_falls_back_to_recorded_replay():
    w = cr.Variable([1.0, 2.0])
    f = cr.function(lambda x: cr.reduce_sum(x * w * w), jit_compile=True)
    x = cr.constant([3.0, 4.0])
    f(x)
    with cr.GradientTape() as tape:
        y = f(x)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [6.0, 16.0])


def test_compiled_graph_refuses_inputs_it_was_not_planned_for():
    compiled = compile(cr.function(lambda x: x * 2.0).get_graph(cr.constant([1.0, 2.0])))
    with pytest.raises(ValueError, match=r"planned for inputs of shape \(2,\)"):
        compiled(np.ones(3, np.float32))


def test_a_kernel_gradient_rescans_an_input_buffer_refilled_in_place():
    # A layer's product and its kernel gradient share what was found about x's zero
    # columns; a caller that refills the same input array between runs must not get the
    # previous run's columns back.
    rng = np.random.default_rng(5)
    kernel = cr.Variable(rng.standard_normal((300, 64)).astype(np.float32))
    bias = cr.Variable(np.zeros(64, np.float32))

    def step(x):
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(cr.nn.relu(cr.ops.dense(x, kernel, bias)) ** 2)
        return tape.gradient(loss, kernel)

    compiled = cr.function(step, jit_compile=True)
    x = np.zeros((128, 300), np.float32)
    for trial in range(3):
        x[...] = 0
        live = rng.choice(300, 100, replace=False)  # different zero columns each time
        x[:, live] = rng.random((128, 100))
        np.testing.assert_array_equal(compiled(x).numpy(), step(cr.constant(x)).numpy())
    ops = [op for op in compile(compiled.get_graph(x)).program.ops]
    assert ops[0].params.get("scan") is not None  # the pairing under test took place


def test_variable_updates_compiled_equal_eager():
    """Whole-Variable updates run as one in-place NumPy call each (checked once, when the
    program is made); a slice update keeps the Variable's own method."""
    def updates(v, count, total, x):
        v.assign_add(x)  # same shape
        v.assign_sub(cr.reduce_sum(x) * 0.5)  # a scalar, broadcast over v
        v[1].assign(x[0])  # a slice
        count.assign_add(1)  # a Python int into an int64 Variable
        total.assign(cr.reduce_max(x))
        return v * 1.0

    def fresh():
        return (cr.Variable(np.float32([1.0, 2.0, 3.0])), cr.Variable(np.int64(0)),
                cr.Variable(np.float32(0.0)))

    x = np.float32([0.25, -1.5, 4.0])
    eager, jit = fresh(), fresh()
    step = cr.function(lambda x: updates(*jit, x), jit_compile=True)
    for k in range(3):
        want = updates(*eager, cr.constant(x * k))
        got = step(x * k)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        for a, b in zip(jit, eager):
            assert a.dtype == b.dtype and a.numpy().tolist() == b.numpy().tolist()
    assert jit[1].numpy() == 3

    v = cr.Variable(np.int32([1, 2]))
    compiled = compile(cr.function(lambda x: v.assign_add(x) * 1).get_graph(
        cr.constant(np.int32([1, 1]))))
    compiled(np.int32([1, 1]))
    assert v.numpy().tolist() == [2, 3]


def test_jit_compile_gives_the_function_the_compiler():
    f = cr.function(lambda x: cr.exp(x) * 2.0, jit_compile=True)
    assert f.compile is compile and cr.function(lambda x: x).compile is None
    x = cr.constant([0.0, 1.0])
    np.testing.assert_array_equal(f(x).numpy(), (cr.exp(x) * 2.0).numpy())
    (traced,) = f._traces.values()
    assert isinstance(traced._compiled, CompiledGraph)  # made by the call, which ran on it
    with cr.GradientTape() as tape:  # a tape cannot see the executor: replayed op by op
        tape.watch(x)
        y = f(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), (cr.exp(x) * 2.0).numpy())
