"""tf.py_function and tf.numpy_function: Python code as an op, eagerly, traced and compiled,
with py_function's gradient checked against finite differences."""

import numpy as np
import pytest

import chainrule as tf
from chainrule.testing import check_grads


def log_huber(x, m):
    if tf.abs(x) <= m:  # Python control flow on the concrete value
        return x ** 2
    return m ** 2 * (1 - 2 * tf.math.log(m) + tf.math.log(x ** 2))


def test_the_tensorflow_docstring_example():
    x, m = tf.constant(1.0), tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch([x, m])
        y = tf.py_function(func=log_huber, inp=[x, m], Tout=tf.float32)
    assert y.dtype == np.float32 and float(y) == 1.0
    dx, dm = tape.gradient(y, [x, m])
    assert float(dx) == 2.0 and dm is None  # the branch taken does not read m


def test_py_function_gradient_matches_finite_differences():
    def f(x, w):
        return tf.py_function(lambda a, b: tf.tanh(a * b) + a, [x, w], tf.float64) * 2.0
    check_grads(f, np.array([0.3, -0.8, 1.1]), np.array([1.5, 0.4, -0.7]))
    # the other branch of log_huber, through both inputs
    check_grads(lambda x, m: tf.py_function(log_huber, [x, m], tf.float64),
                np.array(3.0), np.array(1.5))


def test_several_results_each_carry_their_gradient():
    calls = []

    def two(a, b):
        calls.append(1)
        return [a * b, tf.sin(a) - b]

    def f(a, b):
        p, q = tf.py_function(two, [a, b], [tf.float64, tf.float64])
        return p * 3.0 + q * q

    check_grads(f, np.array([0.5, 1.5]), np.array([-1.0, 2.0]))
    calls.clear()
    out = tf.py_function(two, [tf.constant(2.0), tf.constant(3.0)], (tf.float32, tf.float32))
    assert isinstance(out, list) and [float(t) for t in out] == [6.0, np.float32(np.sin(2.0)) - 3]
    assert len(calls) == 1  # one run of func for all its results


def test_only_float_inputs_get_gradients_and_python_results_are_constants():
    x, n = tf.constant([1.0, 2.0]), tf.constant(3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.py_function(lambda a, k: a * tf.cast(k, "float32"), [x, n], tf.float32)
        z = tf.py_function(lambda a: 5.0, [x], tf.float32)
    assert tape.gradient(y, x).numpy().tolist() == [3.0, 3.0]
    assert tape.gradient(y, n) is None
    assert float(z) == 5.0 and tape.gradient(z, x) is None


def test_traced_function_runs_func_at_every_call_bit_for_bit():
    seen = []

    def noisy(x):
        seen.append(x.numpy().copy())
        return tf.exp(x) / (1.0 + x * x)

    def eager(x):
        return tf.reduce_sum(tf.py_function(noisy, [x * 2.0], tf.float32)) + x

    compiled = tf.function(eager)
    jitted = tf.function(eager, jit_compile=True)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = tf.constant(rng.normal(size=4).astype(np.float32))
        want = eager(x).numpy()
        seen.clear()
        assert np.array_equal(compiled(x).numpy(), want)
        assert np.array_equal(seen[-1], x.numpy() * 2.0)  # func saw this call's values
        assert np.array_equal(jitted(x).numpy(), want)


def test_gradient_inside_a_traced_function_reruns_func_with_the_new_values():
    v = tf.Variable([0.3, -1.2, 0.8])

    def step(x):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.py_function(lambda a: tf.sin(a) * a, [x * v], tf.float32))
        return tape.gradient(y, v)

    compiled = tf.function(step)
    for scale in (1.0, 0.5, -2.0):
        x = tf.constant([scale, 2.0 * scale, 1.0])
        assert np.array_equal(compiled(x).numpy(), step(x).numpy())
        a = x.numpy() * v.numpy()
        np.testing.assert_allclose(compiled(x).numpy(),
                                   (np.cos(a) * a + np.sin(a)) * x.numpy(), rtol=1e-6)


def test_a_tape_around_a_compiled_call():
    f = tf.function(lambda x: tf.py_function(lambda a: a * a * a, [x], tf.float32) + x)
    x = tf.Variable([1.0, -2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(x))
    assert tape.gradient(y, x).numpy().tolist() == [4.0, 13.0]


def test_no_results_still_runs_at_every_call_and_not_while_tracing():
    seen = []

    @tf.function
    def f(x):
        out = tf.py_function(lambda a: seen.append(float(a)), [x], [])
        assert out == []
        return x + 1.0

    for value in (1.0, 2.0, 3.0):
        f(tf.constant(value))
    assert seen == [1.0, 2.0, 3.0]
    assert tf.py_function(lambda: None, [], []) == []


def test_numpy_function_gets_array_copies_and_has_no_gradient():
    received = []

    def f(a, b):
        received.append((type(a), type(b)))
        a[0] = 7.0  # a copy: the input tensor keeps its value
        return np.sinh(a) + b

    x = tf.constant([0.5, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.numpy_function(f, [x, 2.0], tf.float32)
    assert received == [(np.ndarray, np.ndarray)]
    assert x.numpy().tolist() == [0.5, 1.0]
    assert y.numpy()[1] == np.float32(np.sinh(np.float32(1.0)) + 2)
    assert tape.gradient(y, x) is None
    assert "numpy_function runs NumPy code that chainrule cannot differentiate" in \
        tape.explain(y, x)


def test_numpy_function_in_a_traced_function():
    # TensorFlow's docstring example: sinh through NumPy, squared by the graph.
    @tf.function
    def tf_function(x):
        y = tf.numpy_function(np.sinh, [x], tf.float32)
        return y * y
    for value in (1.0, 0.25):
        x = tf.constant(value)
        assert tf_function(x).numpy() == np.float32(np.sinh(np.float32(value))) ** 2


def test_results_must_have_the_dtypes_tout_names():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError, match=r"numpy_function\(mean\): result 0 of func has dtype "
                                        r"float64, where Tout says float32; cast it"):
        tf.numpy_function(lambda a: np.zeros(2), [x], tf.float32, name="mean")
    with pytest.raises(TypeError, match="Tout names 2 results, but func returned one Tensor"):
        tf.py_function(lambda a: a, [x], [tf.float32, tf.float32])
    with pytest.raises(TypeError, match="returned the Variable 'w' as result 0"):
        w = tf.Variable(1.0, name="w")
        tf.py_function(lambda a: w, [x], tf.float32)
    with pytest.raises(TypeError, match="func must be callable; received int"):
        tf.py_function(3, [x], tf.float32)
    with pytest.raises(TypeError, match="Tout is \\[\\], so func must return None"):
        tf.py_function(lambda a: a, [x], [])


def test_a_traced_function_needs_results_of_fixed_shapes():
    @tf.function
    def f(x):
        return tf.numpy_function(lambda a: a[a > 0], [x], tf.float32)

    assert f(tf.constant([1.0, -1.0, 2.0])).numpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"result 0 of func has shape \(1,\), but it had shape "
                                         r"\(2,\) when the function was traced"):
        f(tf.constant([1.0, -1.0, -2.0]))


def test_ops_inside_func_are_not_recorded_by_an_outer_trace():
    def f(x):
        return tf.py_function(lambda a: tf.exp(a) + tf.sin(a), [x], tf.float32)

    graph = tf.graph.trace(f, tf.constant([1.0])).graph
    names = [node.prim.name for node in graph.nodes]
    assert names == ["py_function(<lambda>)"]


def test_decorator_forms():
    # TensorFlow's function guide: a decorated py_function called from a traced function.
    runs = []

    @tf.py_function(Tout=tf.float32)
    def py_plus(x, y):
        runs.append("eager")
        return x + y

    @tf.function
    def tf_wrapper(x, y):
        return py_plus(x, y)

    assert tf_wrapper(tf.constant(1.0), tf.constant(2.0)).numpy() == 3.0
    assert tf_wrapper(tf.constant(2.0), tf.constant(2.0)).numpy() == 4.0
    assert py_plus.__name__ == "py_plus" and len(runs) == 3  # traced once, then each call
    sinh = tf.numpy_function(np.sinh, Tout=tf.float32)
    assert sinh(tf.constant(0.0)).numpy() == 0.0
    with pytest.raises(TypeError, match="py_function: Tout is required"):
        tf.py_function(lambda: 1.0, [])

