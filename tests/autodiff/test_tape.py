"""GradientTape semantics: what is watched, structures, persistence, nesting, Jacobians."""

import gc
import tracemalloc

import numpy as np
import pytest

import chainrule as cr


def test_reused_tensor_sums_paths():
    x = cr.Variable(3.0)
    with cr.GradientTape() as tape:
        y = x * x + x  # x used three times
    assert float(tape.gradient(y, x)) == 7.0


def test_unconnected_source_is_none_or_zero():
    x, z = cr.Variable(1.0), cr.Variable([1.0, 2.0])
    with cr.GradientTape(persistent=True) as tape:
        y = x * 2
    assert tape.gradient(y, z) is None
    np.testing.assert_array_equal(tape.gradient(y, z, unconnected_gradients="zero").numpy(), [0, 0])
    with pytest.raises(ValueError, match="no gradient for Variable"):
        tape.gradient(y, z, unconnected_gradients="raise")


def test_sources_keep_their_structure():
    a, b, c = cr.Variable(1.0), cr.Variable(2.0), cr.Variable(3.0)
    with cr.GradientTape(persistent=True) as tape:
        y = a * b * c
    assert isinstance(tape.gradient(y, (a, b)), tuple)
    grads = tape.gradient(y, {"a": a, "rest": [b, c]})
    assert set(grads) == {"a", "rest"}
    assert [float(g) for g in [grads["a"], *grads["rest"]]] == [6.0, 3.0, 2.0]


def test_list_of_targets_is_summed():
    x = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        y1, y2 = x * x, 3 * x
    assert float(tape.gradient([y1, y2], x)) == 7.0


def test_output_gradients_seed_the_sweep():
    x = cr.Variable([1.0, 2.0])
    with cr.GradientTape() as tape:
        y = x * x
    g = tape.gradient(y, x, output_gradients=cr.constant([10.0, 100.0]))
    np.testing.assert_array_equal(g.numpy(), [20.0, 400.0])


def test_non_persistent_tape_is_one_shot():
    x = cr.Variable(1.0)
    with cr.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="only be called once"):
        tape.gradient(y, x)


def test_persistent_tape_allows_many_calls():
    x = cr.Variable(2.0)
    with cr.GradientTape(persistent=True) as tape:
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == 4.0
    assert float(tape.gradient(z, x)) == 32.0
    assert float(tape.gradient(z, y)) == 8.0  # an intermediate tensor as source


def test_watch_accessed_variables_off():
    x, w = cr.Variable(1.0), cr.Variable(2.0)
    with cr.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = x * w
    gx, gw = tape.gradient(y, [x, w])
    assert gx is None and float(gw) == 1.0


def test_non_trainable_variable_not_watched():
    v = cr.Variable(1.0, trainable=False)
    with cr.GradientTape() as tape:
        y = v * 3
    assert tape.gradient(y, v) is None


def test_watched_variables_in_order():
    a, b = cr.Variable(1.0), cr.Variable(2.0)
    with cr.GradientTape() as tape:
        _ = b * a
    assert tape.watched_variables() == (b, a)


def test_watch_integer_tensor_warns_and_ignores():
    with cr.GradientTape() as tape:
        with pytest.warns(UserWarning, match="floating"):
            tape.watch(cr.constant(3))


def test_stop_recording_and_reset():
    x = cr.Variable(2.0)
    with cr.GradientTape(persistent=True) as tape:
        with tape.stop_recording():
            y = x * x
        z = x * 3
    assert tape.gradient(y, x) is None and float(tape.gradient(z, x)) == 3.0
    with cr.GradientTape() as tape:
        y = x * x
        tape.reset()
        z = x * 5
    assert float(tape.gradient(z, x)) == 5.0
    with pytest.raises(RuntimeError):
        with tape.stop_recording():
            pass


def test_ops_outside_the_block_are_not_recorded():
    x = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        pass
    y = x * x
    assert tape.gradient(y, x) is None


def test_integer_path_gives_no_gradient():
    x = cr.Variable([1.5, 2.5])
    with cr.GradientTape(persistent=True) as tape:
        y = cr.cast(cr.cast(x, cr.int32), cr.float32) * x
        i = cr.argmax(x * 2)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0])  # only the direct path
    assert tape.gradient(cr.cast(i, cr.float32), x) is None


def test_slice_assign_and_gradient_through_slice():
    v = cr.Variable([[1.0, 2.0], [3.0, 4.0]])
    with cr.GradientTape() as tape:
        y = v[0, 1] * 10
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [[0, 10], [0, 0]])
    v[1].assign([7.0, 8.0])
    np.testing.assert_array_equal(v.numpy(), [[1, 2], [7, 8]])


def test_jacobian():
    x = cr.Variable([1.0, 2.0, 3.0])
    with cr.GradientTape() as tape:
        y = x[:2] * x[1:]  # (2,)
    j = tape.jacobian(y, x)
    np.testing.assert_array_equal(j.numpy(), [[2, 1, 0], [0, 3, 2]])


def test_jacobian_of_matrix_function():
    rng = np.random.default_rng(0)
    a = cr.constant(rng.standard_normal((3, 2)))
    x = cr.Variable(rng.standard_normal((2, 4)))
    with cr.GradientTape() as tape:
        y = cr.matmul(a, x)
    j = tape.jacobian(y, x)
    assert j.shape == (3, 4, 2, 4)
    expected = np.einsum("ik,jl->ijkl", a.numpy(), np.eye(4))
    np.testing.assert_allclose(j.numpy(), expected)


def test_batch_jacobian():
    x = cr.constant(np.arange(6.0).reshape(3, 2))
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.concat([x * x, cr.reduce_sum(x, axis=1, keepdims=True)], axis=1)  # (3, 3)
    j = tape.batch_jacobian(y, x)
    assert j.shape == (3, 3, 2)
    xs = x.numpy()
    expected = np.stack([[[2 * r[0], 0], [0, 2 * r[1]], [1, 1]] for r in xs])
    np.testing.assert_array_equal(j.numpy(), expected)


def test_hessian_from_nested_jacobian():
    x = cr.Variable([1.0, 2.0])
    with cr.GradientTape() as outer:
        with cr.GradientTape() as inner:
            y = x[0] ** 2 * x[1] ** 3
        g = inner.gradient(y, x)
    h = outer.jacobian(g, x)
    a, b = 1.0, 2.0
    np.testing.assert_allclose(h.numpy(), [[2 * b**3, 6 * a * b**2], [6 * a * b**2, 6 * a**2 * b]])


def test_gradient_inside_persistent_tape_is_recorded():
    x = cr.Variable(3.0)
    with cr.GradientTape(persistent=True) as tape:
        y = x ** 3
        dy = tape.gradient(y, x)
    assert float(dy) == 27.0
    assert float(tape.gradient(dy, x)) == 18.0


def test_deep_chain_has_no_recursion_limit():
    x = cr.Variable(1.0)
    with cr.GradientTape() as tape:
        y = x
        for _ in range(20000):
            y = y * 1.0001
    np.testing.assert_allclose(float(tape.gradient(y, x)), 1.0001 ** 20000, rtol=1e-3)


def test_memory_stays_flat_over_many_steps():
    """A non-persistent tape releases its record after gradient(): no growth per step."""
    rng = np.random.default_rng(0)
    w = cr.Variable(rng.standard_normal((64, 32)).astype(np.float32))
    x = cr.constant(rng.standard_normal((16, 64)).astype(np.float32))

    def step():
        with cr.GradientTape() as tape:
            loss = cr.reduce_mean(cr.nn.relu(cr.matmul(x, w)) ** 2)
        w.assign_sub(0.01 * tape.gradient(loss, w))

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(10000):
        step()
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert growth < 200_000, f"memory grew by {growth} bytes over 10,000 steps"


def test_a_variable_changed_after_it_was_recorded_is_refused_not_misused():
    from chainrule.keras import optimizers
    # The derivative of v * v needs v as it was when recorded; after an in-place change
    # the tape would silently use the new value, so it says so instead.
    for change in (lambda v: v.assign([10.0, 10.0]),
                   lambda v: v.assign_add([1.0, 1.0]),
                   lambda v: v[0].assign(5.0),
                   lambda v: optimizers.SGD(0.1).apply_gradients([(cr.ones((2,)), v)])):
        v = cr.Variable([1.0, 2.0], name="weights")
        with cr.GradientTape(persistent=True) as tape:
            y = v * v
        np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])
        change(v)
        with pytest.raises(RuntimeError, match="Variable 'weights' was changed in place .* "
                                               "'multiply'"):
            tape.gradient(y, v)


def test_changes_before_the_read_or_to_other_variables_are_fine():
    v, other = cr.Variable(3.0), cr.Variable(1.0)
    with cr.GradientTape() as tape:
        v.assign(2.0)  # before the op that reads it: the op saw 2
        y = v * v
        z = other * 1.0  # noqa: F841 (recorded, never differentiated)
    other.assign(5.0)
    assert float(tape.gradient(y, v)) == 4.0
    u = cr.Variable(1.0)
    with cr.GradientTape() as tape:
        a = u * 2.0
        u.assign(7.0)  # changed mid-recording, then read again
        total = a + u * u
    with pytest.raises(RuntimeError, match="after the tape recorded 'multiply'"):
        tape.gradient(total, u)  # a's op was recorded against u = 1


def test_sources_that_are_not_tensors_are_an_error_naming_position_and_type():
    v = cr.Variable(1.0)
    with cr.GradientTape(persistent=True) as tape:
        y = v * 2
    with pytest.raises(TypeError, match=r"gradient: sources\[1\] has type float, not a Tensor"):
        tape.gradient(y, [v, 5.0, np.ones(2), "abc"])
    with pytest.raises(TypeError, match=r"sources\[0\] has type ndarray.*model\.trainable_weights"):
        tape.gradient(y, [np.ones(2), v])  # what passing model.get_weights() looks like
    with pytest.raises(TypeError, match=r"sources\['b'\]\[0\] has type str"):
        tape.gradient(y, {"a": v, "b": ["abc"]})
    with pytest.raises(TypeError, match=r"jacobian: sources\[1\] has type int"):
        tape.jacobian(y, [v, 3])
    assert float(tape.gradient(y, [v])[0]) == 2.0  # the tape is still usable


def test_an_unconnected_jacobian_of_zeros_has_the_jacobians_shape():
    x, y = cr.constant([1.0, 2.0]), cr.constant(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        out = x * 2.0
    jx, jy = tape.jacobian(out, [x, y], unconnected_gradients="zero")
    assert jx.shape == (2, 2) and jy.shape == (2,) and not jy.numpy().any()
