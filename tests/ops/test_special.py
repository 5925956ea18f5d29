"""tf.math's trigonometric, hyperbolic and error functions: values against NumPy/math in
float64 and float32, and gradients against finite differences (float64) across shapes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as tf
from chainrule.testing import check_grads

erf_ref = np.vectorize(math.erf)
erfc_ref = np.vectorize(math.erfc)

WIDE = np.concatenate([np.linspace(-30, 30, 1201), [0.0, 1e-9, -1e-9, 1e4, -7.3e3]])
UNIT = np.linspace(-0.999, 0.999, 401)
CASES = [  # name, reference, inputs
    ("sin", np.sin, WIDE), ("cos", np.cos, WIDE), ("tan", np.tan, WIDE),
    ("atan", np.arctan, WIDE), ("sinh", np.sinh, WIDE), ("cosh", np.cosh, WIDE),
    ("asinh", np.arcsinh, WIDE), ("expm1", np.expm1, WIDE), ("erf", erf_ref, WIDE),
    ("erfc", erfc_ref, WIDE), ("asin", np.arcsin, UNIT), ("acos", np.arccos, UNIT),
    ("atanh", np.arctanh, UNIT), ("log1p", np.log1p, UNIT * 5 + 4),
    ("acosh", np.arccosh, np.linspace(1, 1e3, 500)),
]


@pytest.mark.parametrize("name, ref, x", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-14), ("float32", 1e-6)])
def test_values_match_numpy(name, ref, x, dtype, tol):
    x = x.astype(dtype)
    with np.errstate(over="ignore"):
        want = ref(x.astype(np.float64))
        got = getattr(tf.math, name)(tf.constant(x))
    assert got.dtype == dtype
    finite = np.isfinite(want)
    err = np.abs(got.numpy()[finite] - want[finite]) / np.maximum(np.abs(want[finite]), 1)
    assert err.max() < tol


def test_small_arguments_keep_their_digits():
    x = tf.constant([1e-10, -3e-9], dtype="float64")
    for fn, ref in [(tf.math.expm1, np.expm1), (tf.math.log1p, np.log1p),
                    (tf.math.sinh, np.sinh), (tf.math.sin, np.sin), (tf.math.asinh, np.arcsinh)]:
        np.testing.assert_allclose(fn(x).numpy(), ref(x.numpy()), rtol=1e-15)


def test_atan2_quadrants_and_axes():
    y, x = np.meshgrid(np.linspace(-3, 3, 13), np.linspace(-3, 3, 13))
    np.testing.assert_allclose(tf.math.atan2(y, x).numpy(), np.arctan2(y, x), atol=1e-15)
    assert float(tf.math.atan2(tf.constant(0.0), tf.constant(0.0))) == 0.0


def test_top_level_and_integer_error():
    assert float(tf.sin(tf.constant(0.5))) == pytest.approx(math.sin(0.5), rel=1e-7)
    with pytest.raises(TypeError, match="sin: needs a floating tensor, not int32"):
        tf.math.sin(tf.constant([1, 2]))


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
DOMAINS = {  # each function on a domain away from its poles and branch points
    "sin": (-20, 20), "cos": (-20, 20), "tan": (-1.4, 1.4), "atan": (-8, 8),
    "sinh": (-3, 3), "cosh": (-3, 3), "asinh": (-5, 5), "expm1": (-3, 3), "log1p": (-0.9, 4),
    "erf": (-5, 5), "erfc": (-5, 5), "asin": (-0.95, 0.95), "acos": (-0.95, 0.95),
    "atanh": (-0.95, 0.95), "acosh": (1.05, 6),
}


@pytest.mark.parametrize("name", sorted(DOMAINS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_gradients_match_finite_differences(name, data):
    lo, hi = DOMAINS[name]
    x = data.draw(hnp.arrays(np.float64, data.draw(SHAPES), elements=st.floats(lo, hi)))
    check_grads(getattr(tf.math, name), x, order=2 if name in ("sin", "erf", "atan") else 1)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_atan2_gradient(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    y, x = (data.draw(hnp.arrays(np.float64, s, elements=st.floats(0.2, 3))) *
            data.draw(st.sampled_from([-1, 1])) for s in shapes.input_shapes)
    check_grads(tf.math.atan2, y, x)


def test_derivatives_are_the_known_ones():
    x = tf.constant(np.linspace(-3, 3, 7))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        s, e = tf.math.sin(x), tf.math.erf(x)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), np.cos(x.numpy()), rtol=1e-13)
    np.testing.assert_allclose(tape.gradient(e, x).numpy(),
                               2 / np.sqrt(np.pi) * np.exp(-x.numpy() ** 2), rtol=1e-10, atol=1e-14)
