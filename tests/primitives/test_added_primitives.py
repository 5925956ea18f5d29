"""Finite-difference checks for the primitives the Keras work added or changed:
softplus, dense, relu's VJP and the one_hot kernel."""

import numpy as np

import chainrule as cr
from chainrule import ops
from chainrule.testing import numerical_gradient as numeric_gradient

rng = np.random.default_rng(0)


def check(f, *arrays):
    """d sum(f(*arrays) * w) / d each array, tape vs central differences, in float64."""
    variables = [cr.Variable(a) for a in arrays]
    with cr.GradientTape() as tape:
        out = f(*variables)
        weights = rng.uniform(0.5, 1.5, out.shape)
        total = cr.reduce_sum(out * weights)
    grads = tape.gradient(total, variables)
    for k, (a, g) in enumerate(zip(arrays, grads)):
        def f_k(value, k=k):
            args = [cr.constant(b) for b in arrays]
            args[k] = cr.constant(value)
            return float(np.sum(f(*args).numpy() * weights))
        np.testing.assert_allclose(g.numpy(), numeric_gradient(f_k, a), rtol=1e-6, atol=1e-8)


def test_softplus_values_and_gradient():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0])
    y = ops.softplus(cr.constant(x)).numpy()
    np.testing.assert_allclose(y, np.logaddexp(0, x))
    assert np.isfinite(y).all()
    check(ops.softplus, rng.normal(0, 3, (4, 5)))
    v = cr.Variable(0.0)
    with cr.GradientTape() as tape:
        y = ops.softplus(v)
    assert float(tape.gradient(y, v)) == 0.5  # exactly sigmoid(0)


def test_dense_matches_matmul_plus_bias_and_its_gradient():
    x, k, b = rng.normal(0, 1, (5, 4)), rng.normal(0, 1, (4, 3)), rng.normal(0, 1, 3)
    np.testing.assert_allclose(ops.dense(cr.constant(x), cr.constant(k), cr.constant(b)).numpy(),
                               x @ k + b)
    check(ops.dense, x, k, b)
    check(ops.dense, rng.normal(0, 1, (2, 5, 4)), k, b)  # leading axes
    assert ops.dense(cr.constant(x[0]), cr.constant(k), cr.constant(b)).shape == (3,)


def test_dense_skips_the_input_gradient_when_not_needed():
    x = cr.constant(rng.normal(0, 1, (5, 4)))
    k, b = cr.Variable(rng.normal(0, 1, (4, 3))), cr.Variable(np.zeros(3))
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(ops.dense(x, k, b))
    gk, gb, gx = tape.gradient(y, [k, b, x])
    assert gx is None and gk.shape == (4, 3)
    np.testing.assert_allclose(gb.numpy(), [5.0, 5.0, 5.0])


def test_relu_gradient_and_its_second_derivative():
    x = rng.normal(0, 1, (6, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink for finite differences
    check(ops.relu, x)
    v = cr.Variable(np.array([-1.0, 0.0, 2.0]))
    with cr.GradientTape() as outer:
        with cr.GradientTape() as inner:
            y = cr.reduce_sum(ops.relu(v) * v)
        g = inner.gradient(y, v)
    np.testing.assert_allclose(g.numpy(), [0.0, 0.0, 4.0])
    np.testing.assert_allclose(outer.gradient(g, v).numpy(), [0.0, 0.0, 2.0])


def test_one_hot_kernel():
    labels = np.array([[0, 2], [1, 1]], np.uint8)
    got = ops.one_hot(labels, 3).numpy()
    assert got.dtype == np.float32 and got.shape == (2, 2, 3)
    np.testing.assert_array_equal(got, np.eye(3, dtype=np.float32)[labels])
    np.testing.assert_array_equal(ops.one_hot(np.array([3, -1, 1]), 3).numpy(),
                                  [[0, 0, 0], [0, 0, 0], [0, 1, 0]])
