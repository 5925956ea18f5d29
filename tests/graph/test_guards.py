"""Python control flow on tensor values inside chainrule.function (what TensorFlow's AutoGraph
covers): each decision on a traced tensor is a guard; a call that decides otherwise runs
the trace of its own path. Every form is checked against the same Python run eagerly."""

import numpy as np
import pytest

import chainrule as tf
from chainrule.graph import TraceError
from chainrule.graph.graph import GuardMismatch
from chainrule.testing import check_grads
from chainrule.testing.gradcheck import numerical_gradient


def both(fn, **options):
    """``fn`` as a chainrule.function, and ``fn`` itself (the eager reference)."""
    return tf.function(fn, **options), fn


def assert_same(traced, eager, *args):
    got, want = traced(*args), eager(*args)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def branchy(x):  # the guide's `if`
    if tf.reduce_sum(x) > 0:
        x = x * 2
    else:
        x = -x
    return x


def halving(x):  # the guide's `while`
    while tf.reduce_sum(x) > 1:
        x = x / 2
    return x


def counting(n):  # the guide's `for ... in tf.range(n)`
    acc = tf.constant(0)
    for i in tf.range(n):
        acc += i * i
    return acc


def early_return(x):
    if tf.reduce_max(x) > 3:
        return x - 3
    y = x * x
    if tf.reduce_min(y) < 1:
        return y + 1
    return y


def with_break_and_continue(x, n):
    total = tf.zeros_like(x)
    for i in tf.range(n):
        if tf.equal(i % 2, 1):
            continue
        total = total + x * tf.cast(i, x.dtype)
        if tf.reduce_sum(total) > 10:
            break
    return total


@pytest.mark.parametrize("jit", [False, True])
def test_if_else_follows_each_call_and_traces_once_per_branch(jit):
    f, eager = both(branchy, jit_compile=jit)
    inputs = [[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0], [-5.0, 1.0], [0.0, 0.0]]
    for v in inputs:
        assert_same(f, eager, tf.constant(v))
    assert f.tracing_count == 2  # one trace per branch, whatever the number of calls
    assert "guard bool(%3)" in str(f.graph) and "if tf.reduce_sum(x) > 0:" in str(f.graph)


def test_while_on_a_tensor_traces_once_per_trip_count():
    f, eager = both(halving)
    inputs = [[1.0, 2.0], [10.0, 2.0], [3.0, 1.0], [0.2, 0.1], [2.0, 1.0], [12.0, 0.0]]
    trips = set()
    for v in inputs:
        assert_same(f, eager, tf.constant(v))
        trips.add(int(np.ceil(np.log2(max(sum(v), 1.0)))))
    assert f.tracing_count == len(trips) == 3  # 2, 4, 2, 0, 2, 4 halvings: 3 lengths


def test_for_over_tf_range_of_a_tensor():
    f, eager = both(counting)
    for n in (0, 3, 5, 3, 0):
        assert int(f(tf.constant(n))) == int(eager(tf.constant(n))) == sum(i * i for i in range(n))
    assert f.tracing_count == 3  # the bound is a guard: one trace per value of n


def test_early_returns():
    f, eager = both(early_return)
    for v in ([5.0, 1.0], [0.5, 2.0], [1.5, 2.0], [4.0, -9.0], [2.0, 2.0]):
        assert_same(f, eager, tf.constant(v))
    assert f.tracing_count == 3


def test_break_and_continue():
    f, eager = both(with_break_and_continue)
    for v, n in (([1.0, 2.0], 6), ([0.1, 0.1], 6), ([5.0, 5.0], 6), ([0.1, 0.1], 6)):
        assert_same(f, eager, tf.constant(v), tf.constant(n))
    assert f.tracing_count == 3


def test_python_print_runs_while_tracing_each_path(capsys):
    @tf.function
    def f(x):
        if x > 0:
            print("positive branch traced")
            return x
        print("negative branch traced")
        return -x

    for v in (1.0, 2.0, -1.0, -3.0, 4.0):
        assert float(f(tf.constant(v))) == abs(v)
    out = capsys.readouterr().out
    assert out.count("positive branch traced") == 1 and out.count("negative branch traced") == 1


def test_a_float_read_is_a_guard_not_a_frozen_number():
    @tf.function
    def f(x):
        scale = float(tf.reduce_max(x))  # a Python number taken from a tensor
        return x * (scale + 1.0)

    for v in ([1.0, 2.0], [3.0, 1.0], [1.0, 2.0]):
        np.testing.assert_allclose(f(tf.constant(v)).numpy(), np.array(v) * (max(v) + 1))
    assert f.tracing_count == 2


def test_a_condition_on_a_variable_reads_it_live():
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        if v > 0:
            return x + v
        return x - v

    assert float(f(tf.constant(1.0))) == 2.0
    v.assign(-2.0)
    assert float(f(tf.constant(1.0))) == 3.0
    v.assign(4.0)
    assert float(f(tf.constant(1.0))) == 5.0
    assert f.tracing_count == 2


@pytest.mark.parametrize("jit", [False, True])
def test_updates_made_before_a_failed_guard_are_put_back(jit):
    def step(v, x):
        v.assign_add(x)  # before the decision: runs once per call whatever the path
        if v > 2.0:
            v.assign(0.0)
        return v * 1.0

    v_traced, v_eager = tf.Variable(0.0), tf.Variable(0.0)
    f = tf.function(step, jit_compile=jit)
    for x in (1.0, 0.5, 1.0, 2.0, 0.25, 3.0, 0.5):
        got, want = float(f(v_traced, tf.constant(x))), float(step(v_eager, tf.constant(x)))
        assert got == want and float(v_traced) == float(v_eager)
    assert f.tracing_count == 2


def test_nested_functions_guard_in_the_outer_trace():
    inner = tf.function(branchy)

    @tf.function
    def outer(x):
        return inner(x) + 1.0

    for v in ([1.0, 2.0], [-1.0, -2.0], [2.0, 1.0], [-3.0, 0.0]):
        np.testing.assert_array_equal(outer(tf.constant(v)).numpy(),
                                      branchy(tf.constant(v)).numpy() + 1.0)
    assert outer.tracing_count == 2


def test_gradients_through_guarded_functions_match_finite_differences():
    for fn, point in ((branchy, [0.3, 0.4]), (branchy, [-0.3, -0.4]),
                      (halving, [1.3, 2.4]), (halving, [0.2, 0.3]),
                      (early_return, [0.5, 0.6]), (early_return, [1.5, 2.0])):
        f = tf.function(fn)
        f(tf.constant(np.array(point), tf.float64))  # traced outside the tape first
        check_grads(lambda x: tf.reduce_sum(f(x) * f(x)), (np.array(point),))


def test_a_tape_inside_the_function_differentiates_the_path_taken():
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            while tf.reduce_sum(y * y) > 1.0:
                y = tf.sin(y) * 0.5
            loss = tf.reduce_sum(y * y * y)
        return tape.gradient(loss, x)

    trips = set()

    def loss_of(a, count=False):
        y, n = a, 0
        while np.sum(y * y) > 1.0:
            y, n = np.sin(y) * 0.5, n + 1
        if count:
            trips.add(n)
        return np.sum(y ** 3)

    for point in ([0.3, 0.2], [2.0, 1.0], [0.4, -0.1], [30.0, 3.0], [2.0, 1.5]):
        x = np.array(point)
        got = grad(tf.constant(x)).numpy()
        np.testing.assert_allclose(got, numerical_gradient(loss_of, x), rtol=1e-6, atol=1e-9)
        loss_of(x, count=True)
    assert grad.tracing_count == len(trips) == 2


def test_while_loop_has_tensorflows_semantics():
    i, total = tf.while_loop(lambda i, t: i < 5, lambda i, t: (i + 1, t + i),
                             (tf.constant(0), tf.constant(0)))
    assert (int(i), int(total)) == (5, 10)
    assert int(tf.while_loop(lambda i: i < 10, lambda i: i + 1, tf.constant(0))) == 10
    single = tf.while_loop(lambda i: i < 3, lambda i: i + 1, [tf.constant(0)])
    assert isinstance(single, list) and int(single[0]) == 3
    capped = tf.while_loop(lambda i: True, lambda i: i + 1, tf.constant(0), maximum_iterations=7)
    assert int(capped) == 7
    out = tf.while_loop(lambda d: d["n"] > 1, lambda d: {"n": d["n"] // 2, "k": d["k"] + 1},
                        {"n": tf.constant(40), "k": tf.constant(0)})
    assert (int(out["n"]), int(out["k"])) == (1, 5)
    grown = tf.while_loop(lambda x: tf.shape(x)[0] < 8, lambda x: tf.concat([x, x], 0),
                          [tf.ones((1, 2))], shape_invariants=[tf.TensorShape([None, 2])])
    assert tuple(grown[0].shape) == (8, 2)


def test_while_loop_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"loop variable 0 has shape \(1,\) before the loop "
                                         r"and \(2,\) after.*shape_invariants"):
        tf.while_loop(lambda x: tf.size(x) < 4, lambda x: tf.concat([x, x], 0), [tf.ones(1)])
    with pytest.raises(TypeError, match="entered the loop as int32 and the body returned "
                                        "float32; cast it"):
        tf.while_loop(lambda i: i < 2, lambda i: tf.cast(i, tf.float32) + 1.0, tf.constant(0))
    with pytest.raises(ValueError, match="the same structure"):
        tf.while_loop(lambda a, b: a < 2, lambda a, b: (a + 1,), (tf.constant(0), tf.constant(1)))
    with pytest.raises(TypeError, match="callables"):
        tf.while_loop(None, lambda i: i, tf.constant(0))


def test_while_loop_in_a_function_and_its_gradient():
    @tf.function
    def power(x, n):
        i, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * x),
                             (tf.constant(0), tf.ones_like(x)))
        return y

    for n in (0, 1, 3, 1):
        x = tf.constant([1.5, -0.5], tf.float64)
        np.testing.assert_allclose(power(x, tf.constant(n)).numpy(), x.numpy() ** n)
    assert power.tracing_count == 3
    for n in (1, 3):
        check_grads(lambda x: tf.reduce_sum(power(x, tf.constant(n))), (np.array([1.5, -0.5]),))
    # The guide's eager form, differentiated by an outer tape.
    check_grads(lambda x: tf.while_loop(lambda v: tf.reduce_sum(v * v) < 10.0,
                                        lambda v: v * 1.5 + 0.1, [x])[0],
                (np.array([0.5, 0.25]),))


def test_cond_gradient_matches_finite_differences_in_float64():
    f = tf.function(lambda x: tf.cond(tf.reduce_sum(x) > 0, lambda: tf.sin(x) * x,
                                      lambda: tf.exp(x)))
    for point in ([0.4, 0.3], [-0.4, -0.3]):
        check_grads(lambda x: f(x), (np.array(point),))


def test_too_many_paths_fall_back_to_eager_with_one_warning():
    f, eager = both(halving)
    f.max_paths = 3
    values = [[2.0 ** k, 0.0] for k in range(8)]
    with pytest.warns(UserWarning, match=r"'halving'.*while tf.reduce_sum\(x\) > 1.*"
                                         r"took 3 different paths") as record:
        for v in values + values:
            assert_same(f, eager, tf.constant(v))
    assert len(record) == 1
    assert f.tracing_count == 3


def test_a_graph_run_on_another_path_raises_naming_the_line():
    f = tf.function(branchy)
    graph = f.get_concrete_function(tf.constant([1.0, 1.0])).graph
    np.testing.assert_array_equal(graph.run(tf.constant([2.0, 1.0]))[0].numpy(), [4.0, 2.0])
    with pytest.raises(GuardMismatch, match=r"test_guards.py:\d+ \(`if tf.reduce_sum\(x\) > 0:`"
                                            r"\) read bool\(\) of %3 as True; these inputs "
                                            r"give False"):
        graph.run(tf.constant([-2.0, 1.0]))


def test_autograph_false_refuses_an_if_on_a_tensor_naming_the_line():
    f = tf.function(branchy, autograph=False)
    with pytest.raises(TraceError) as info:
        f(tf.constant([1.0, -3.0]))
    assert isinstance(info.value, tf.errors.OperatorNotAllowedInGraphError)
    message = str(info.value)
    assert "test_guards.py" in message and "(`if tf.reduce_sum(x) > 0:`)" in message
    assert "autograph=False" in message and "chainrule.cond" in message
    # tf.while_loop and Python conditions on Python values are fine, as in TensorFlow.
    loop = tf.function(lambda x: tf.while_loop(lambda v: tf.reduce_sum(v) < 10.0,
                                               lambda v: v * 2.0, [x])[0], autograph=False)
    for v, want in (([1.0, 2.0], [4.0, 8.0]), ([3.0, 4.0], [6.0, 8.0]), ([1.0, 2.0], [4.0, 8.0])):
        assert loop(tf.constant(v)).numpy().tolist() == want
    assert loop.tracing_count == 2
    with pytest.raises(ValueError, match=r"cond must return a scalar boolean; it returned "
                                         r"shape \(2,\)"):
        tf.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, [tf.ones(2)])
    g = tf.function(lambda x, flag: x * 2.0 if flag else x, autograph=False)
    assert float(g(tf.constant(1.0), True)) == 2.0


def test_do_not_convert_refuses_inside_and_runs_eagerly():
    plain = tf.autograph.experimental.do_not_convert(branchy)
    assert plain(tf.constant([1.0])).numpy().tolist() == [2.0]  # eager: a plain call
    f = tf.function(lambda x: plain(x) + 1.0)
    with pytest.raises(TraceError, match=r"test_guards.py:\d+ .*do_not_convert is in effect"):
        f(tf.constant([1.0]))
    assert tf.autograph.do_not_convert is tf.autograph.experimental.do_not_convert
    g = tf.function(lambda x: branchy(x) + 1.0)  # the same code, converted: guarded
    assert g(tf.constant([-1.0])).numpy().tolist() == [2.0]


def test_autograph_namespace(capsys):
    f = tf.function(branchy)
    f(tf.constant([1.0]))
    tf.autograph.set_verbosity(1, alsologtostdout=True)
    try:
        assert tf.autograph.get_verbosity() == 1
        f(tf.constant([-1.0]))
        f(tf.constant([-2.0]))
    finally:
        tf.autograph.set_verbosity(0)
    out = capsys.readouterr().out
    assert out.count("chainrule.function 'branchy'") == 1 and "now gives False" in out
    tf.autograph.trace("traced", 3)
    assert capsys.readouterr().out == "traced 3\n"
    with pytest.raises(AttributeError, match="'to_code' is a TensorFlow name"):
        tf.autograph.to_code(branchy)
    with pytest.raises(ValueError, match="level must be >= 0"):
        tf.autograph.set_verbosity(-1)


def test_random_draws_follow_eager_code_across_a_path_switch():
    def noisy(x):
        noise = tf.random.uniform(x.shape)  # drawn before the decision
        if tf.reduce_sum(x) > 0:
            return x + noise
        return x - noise * tf.random.uniform(x.shape)

    f = tf.function(noisy)
    inputs = [[1.0], [-1.0], [2.0], [-2.0], [-3.0], [3.0]]
    tf.random.set_seed(7)
    traced = [f(tf.constant(v)).numpy() for v in inputs]
    tf.random.set_seed(7)
    eager = [noisy(tf.constant(v)).numpy() for v in inputs]
    np.testing.assert_array_equal(np.concatenate(traced), np.concatenate(eager))


def test_a_compiled_keras_step_with_a_tensor_if_runs_eagerly_saying_why():
    from chainrule import keras

    class Doubler(keras.layers.Layer):
        def call(self, x):
            if tf.reduce_mean(x) > 0:
                return x * 2.0
            return x

    model = keras.Sequential([keras.Input((3,)), Doubler(), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", jit_compile=True)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"runs eagerly: its Python decides on tensor values "
                                         r"\(.*test_guards.py:\d+ \(`if tf.reduce_mean\(x\) > 0:`"):
        loss = model.train_on_batch(x, np.zeros((8, 1), np.float32))
    assert np.isfinite(loss)
