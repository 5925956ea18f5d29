"""chainrule.cond, a Python `if` on a traced tensor (guards; an error with autograph=False), and
config.run_functions_eagerly."""

import numpy as np
import pytest

import chainrule as tf
from chainrule.graph import TraceError


def test_cond_eagerly_runs_one_branch():
    calls = []
    out = tf.cond(tf.constant(2.0) > 1, lambda: calls.append("t") or tf.constant(1.0),
                  lambda: calls.append("f") or tf.constant(0.0))
    assert float(out) == 1.0 and calls == ["t"]


def test_cond_in_a_traced_function_follows_each_call():
    @tf.function
    def f(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: -x)

    assert f(tf.constant([1.0, 2.0])).numpy().tolist() == [2.0, 4.0]
    assert f(tf.constant([-1.0, -2.0])).numpy().tolist() == [1.0, 2.0]
    assert f.tracing_count == 1


def test_cond_gradient_goes_to_the_selected_branch():
    x = tf.Variable(3.0)
    f = tf.function(lambda: tf.cond(x > 0, lambda: x * x, lambda: 5.0 * x))
    with tf.GradientTape() as tape:
        y = f()
    assert float(tape.gradient(y, x)) == 6.0


def test_cond_refuses_branch_updates_when_traced():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: v.assign_add(1.0), lambda: v.assign_sub(1.0))

    with pytest.raises(ValueError, match="cond: a branch updates"):
        f(tf.constant(1.0))


def test_python_if_on_a_traced_tensor_follows_each_call():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:  # a guard of the trace (tests/graph/test_guards.py)
            return x
        return -x

    assert f(tf.constant([1.0, -3.0])).numpy().tolist() == [-1.0, 3.0]
    assert f(tf.constant([3.0, -1.0])).numpy().tolist() == [3.0, -1.0]
    assert f.tracing_count == 2


def test_python_if_on_a_traced_tensor_with_autograph_off_is_an_error_naming_the_line():
    @tf.function(autograph=False)
    def f(x):
        if tf.reduce_sum(x) > 0:  # the line the error names
            return x
        return -x

    with pytest.raises(TraceError) as info:
        f(tf.constant([1.0, -3.0]))
    message = str(info.value)
    assert "test_control_flow.py" in message and "(`if tf.reduce_sum(x) > 0:" in message
    assert "::" not in message  # the line's own colon is not followed by another
    assert "chainrule.cond" in message and "run_functions_eagerly" in message
    assert isinstance(info.value, tf.errors.OperatorNotAllowedInGraphError)
    # Eagerly, the same code is fine.
    assert f.__wrapped__(tf.constant([1.0, -3.0])).numpy().tolist() == [-1.0, 3.0]


def test_the_guides_example_gives_tensorflows_answers():
    # A guide's function with a Python `if` that TensorFlow converts with AutoGraph:
    # here it runs eagerly under run_functions_eagerly, with TensorFlow's results.
    @tf.function
    def relu_like(x):
        if tf.greater(x, 0):
            return x
        return tf.constant(0.0)

    tf.config.run_functions_eagerly(True)
    try:
        assert float(relu_like(tf.constant(1.0))) == 1.0
        assert float(relu_like(tf.constant(-1.0))) == 0.0
        assert relu_like.tracing_count == 0
    finally:
        tf.config.run_functions_eagerly(False)
    rewritten = tf.function(lambda x: tf.cond(x > 0, lambda: x, lambda: tf.zeros_like(x)))
    assert [float(rewritten(tf.constant(v))) for v in (1.0, -1.0)] == [1.0, 0.0]


def test_python_values_still_branch_freely():
    @tf.function
    def f(x, training):
        return x * 2.0 if training else x

    assert float(f(tf.constant(1.0), True)) == 2.0 and float(f(tf.constant(1.0), False)) == 1.0
    assert np.isfinite(float(f(tf.constant(1.0), True)))


def test_tensor_array_in_a_traced_loop():
    @tf.function
    def running_sums(x):
        states = tf.TensorArray(tf.float32, size=x.shape[0])
        state = tf.zeros(x.shape[1:])
        for i in tf.range(x.shape[0]):
            state = state + x[i]
            states = states.write(i, state)
        return states.stack()

    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(running_sums(x).numpy(), np.cumsum(x.numpy(), axis=0))
    np.testing.assert_array_equal(running_sums(x * 2).numpy(), 2 * np.cumsum(x.numpy(), 0))
    assert running_sums.tracing_count == 1


def test_tensor_array_reads_sizes_and_errors():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    ta = ta.write(0, [1.0]).write(2, [3.0])
    assert int(ta.size()) == 3
    with pytest.raises(ValueError, match=r"indices \[1\] were never written"):
        ta.stack()
    ta = ta.write(1, [2.0])
    assert ta.concat().numpy().tolist() == [1.0, 2.0, 3.0]
    assert ta.gather([2, 0]).numpy().tolist() == [[3.0], [1.0]]
    fixed = tf.TensorArray(tf.int32, size=1)
    with pytest.raises(IndexError, match="out of range for size 1"):
        fixed.write(1, 5)
    assert fixed.unstack(tf.constant([[1, 2], [3, 4]])).read(1).numpy().tolist() == [3, 4]


def test_init_scope_runs_once_while_tracing():
    v = tf.Variable(0)
    calls = []

    @tf.function
    def f():
        if not calls:
            with tf.init_scope():
                calls.append(1)
                v.assign_add(1)
        return v + 0

    assert [int(f()) for _ in range(3)] == [1, 1, 1]
    assert int(v.numpy()) == 1
