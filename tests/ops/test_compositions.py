"""Products, scans, norms, clipping, padding, einsum, linear solves and tf.nn activations:
values against NumPy, TensorFlow's documented results, and float64 gradient checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as tf
from chainrule.testing import check_grads

rng = np.random.default_rng(0)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def arrays(data, shape=None, lo=-2.0, hi=2.0):
    shape = data.draw(SHAPES) if shape is None else shape
    return data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))


# -- reductions and scans --------------------------------------------------------------------

@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(axis, keepdims):
    x = rng.standard_normal((3, 4, 5))
    for ours, ref in [(tf.reduce_prod, np.prod), (tf.math.reduce_variance, np.var),
                      (tf.math.reduce_std, np.std)]:
        np.testing.assert_allclose(ours(x, axis, keepdims).numpy(), ref(x, axis, keepdims=keepdims),
                                   rtol=1e-12)
    b = x > 0.5
    np.testing.assert_array_equal(tf.reduce_any(b, axis, keepdims).numpy(), b.any(axis, keepdims=keepdims))
    np.testing.assert_array_equal(tf.reduce_all(b, axis, keepdims).numpy(), b.all(axis, keepdims=keepdims))
    assert tf.reduce_prod(tf.constant([2, 3, 4])).numpy() == 24
    assert tf.reduce_prod(tf.zeros((2, 0)), axis=1).numpy().tolist() == [1.0, 1.0]


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_reduce_prod_gradient_even_with_zeros(data):
    x = arrays(data)
    x = np.where(np.abs(x) < 0.1, 0.5, x)  # one zero only: with two, central differences
    x.flat[0] = 0.0  # see a second-order term. At a zero the gradient is the others' product
    axis = data.draw(st.sampled_from([None, 0, -1]))
    check_grads(lambda t: tf.reduce_prod(t, axis), x)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum_cumprod(exclusive, reverse):
    x = rng.standard_normal((3, 7))

    def ref(fn, unit, a, axis):
        a = np.flip(a, axis) if reverse else a
        out = fn(a, axis)
        if exclusive:
            pad = np.full_like(np.take(out, [0], axis), unit)
            out = np.concatenate([pad, np.delete(out, -1, axis)], axis)
        return np.flip(out, axis) if reverse else out

    for axis in (0, 1):
        np.testing.assert_allclose(tf.cumsum(x, axis, exclusive, reverse).numpy(),
                                   ref(np.cumsum, 0, x, axis), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tf.math.cumprod(x, axis, exclusive, reverse).numpy(),
                                   ref(np.cumprod, 1, x, axis), rtol=1e-12, atol=1e-12)
    assert tf.cumsum(tf.constant([1, 2, 3])).numpy().tolist() == [1, 3, 6]


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_scan_gradients(data):
    x = arrays(data)
    axis = data.draw(st.integers(0, x.ndim - 1))
    check_grads(lambda t: tf.cumsum(t, axis, reverse=True), x)
    check_grads(lambda t: tf.math.cumprod(t, axis, exclusive=True), x)


def test_elementwise_helpers():
    x = np.array([-1.5, 0.0, 2.5, np.inf, -np.inf, np.nan])
    assert tf.math.is_nan(x).numpy().tolist() == [False] * 5 + [True]
    assert tf.math.is_inf(x).numpy().tolist() == [False, False, False, True, True, False]
    assert tf.math.is_finite(x).numpy().tolist() == [True, True, True, False, False, False]
    assert tf.math.ceil(tf.constant([-1.5, 0.2])).numpy().tolist() == [-1.0, 1.0]
    assert tf.math.divide_no_nan(tf.constant([1.0, 2.0]), tf.constant([0.0, 4.0])).numpy().tolist() == [0.0, 0.5]
    assert tf.math.xlogy(tf.constant([0.0, 2.0]), tf.constant([0.0, math.e])).numpy().tolist() == [0.0, 2.0]
    assert tf.math.count_nonzero(tf.constant([[0, 1], [2, 3]]), axis=1).numpy().tolist() == [1, 2]
    assert float(tf.math.rsqrt(tf.constant(4.0))) == 0.5
    assert tf.add_n([tf.ones(2), tf.ones(2), tf.ones(2)]).numpy().tolist() == [3.0, 3.0]


# -- norms and clipping ----------------------------------------------------------------------

def test_norm_matches_numpy():
    x = rng.standard_normal((3, 4))
    cases = [("euclidean", None, np.linalg.norm(x)), (1, None, np.abs(x).sum()),
             (np.inf, None, np.abs(x).max()), (3, 1, (np.abs(x) ** 3).sum(1) ** (1 / 3)),
             ("euclidean", 0, np.linalg.norm(x, axis=0)),
             ("fro", (0, 1), np.linalg.norm(x, "fro")), (1, (0, 1), np.linalg.norm(x, 1)),
             (np.inf, (0, 1), np.linalg.norm(x, np.inf))]
    for ord, axis, want in cases:
        np.testing.assert_allclose(tf.norm(x, ord, axis).numpy(), want, rtol=1e-12)
    assert tf.norm(x, axis=1, keepdims=True).shape == (3, 1)
    with pytest.raises(ValueError, match="matrix norms take ord"):
        tf.norm(x, 2, (0, 1))


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_norm_and_clip_gradients(data):
    x = arrays(data, lo=0.2, hi=2.0) * data.draw(st.sampled_from([-1.0, 1.0]))
    check_grads(lambda t: tf.norm(t, axis=-1), x)
    clip = 0.5 if abs(np.linalg.norm(x) - 0.5) > 0.05 else 0.3  # off the kink norm == clip
    check_grads(lambda t: tf.clip_by_norm(t, clip), x)
    check_grads(lambda t: tf.clip_by_norm(t, 100.0, axes=[0]), x)


def test_clip_by_norm_and_global_norm_follow_tensorflow():
    # tf.clip_by_norm's documented example: a norm of 5 scaled to 2.
    t = tf.constant([[3.0, 4.0]])
    np.testing.assert_allclose(tf.clip_by_norm(t, 2.0).numpy(), [[1.2, 1.6]], rtol=1e-6)
    np.testing.assert_allclose(tf.clip_by_norm(t, 10.0).numpy(), [[3.0, 4.0]])
    zero = tf.Variable([0.0, 0.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.clip_by_norm(zero, 1.0))
    assert np.isfinite(tape.gradient(y, zero).numpy()).all()
    clipped, norm = tf.clip_by_global_norm([tf.constant([3.0]), None, tf.constant([4.0])], 1.0)
    assert float(norm) == 5.0 and clipped[1] is None
    np.testing.assert_allclose([float(clipped[0][0]), float(clipped[2][0])], [0.6, 0.8], rtol=1e-6)


# -- padding -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, np_mode", [("CONSTANT", "constant"), ("REFLECT", "reflect"),
                                            ("SYMMETRIC", "symmetric")])
def test_pad_matches_numpy(mode, np_mode):
    x = np.arange(12.0).reshape(3, 4)
    pads = [[1, 2], [2, 0]]
    np.testing.assert_array_equal(tf.pad(x, pads, mode).numpy(), np.pad(x, pads, np_mode))
    assert tf.pad(tf.constant([[1, 2]]), [[0, 0], [1, 1]], constant_values=7).numpy().tolist() == [[7, 1, 2, 7]]
    with pytest.raises(ValueError, match="pad: paddings must be 2 pairs"):
        tf.pad(x, [[1, 1]])


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_pad_gradient(data):
    x = arrays(data, shape=data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=3, max_side=4)))
    pads = [[data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))] for _ in range(x.ndim)]
    mode = data.draw(st.sampled_from(["CONSTANT", "REFLECT", "SYMMETRIC"]))
    check_grads(lambda t: tf.pad(t, pads, mode), x)


# -- einsum --------------------------------------------------------------------------------

EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
          ("i,i->", [(4,), (4,)]), ("i,j->ij", [(3,), (4,)]), ("ij->ji", [(2, 3)]),
          ("ij->", [(2, 3)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
          ("ij,kj->ik", [(2, 3), (4, 3)]), ("bi,bi->b", [(3, 4), (3, 4)]),
          ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)]), ("ij,jk", [(2, 3), (3, 4)]),
          ("abc,cd->abd", [(2, 3, 4), (4, 5)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
          # a repeated index within one operand: a diagonal
          ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("bxby->xy", [(2, 3, 2, 4)]),
          ("bxby", [(2, 3, 2, 4)]), ("iij,jk->ik", [(2, 2, 3), (3, 4)]),
          ("iii->i", [(2, 2, 2)])]


@pytest.mark.parametrize("equation, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_matches_numpy(equation, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(tf.einsum(equation, *xs).numpy(), np.einsum(equation, *xs),
                               rtol=1e-12, atol=1e-12)
    check_grads(lambda *ts: tf.einsum(equation, *ts), *xs)


def test_einsum_errors():
    with pytest.raises(ValueError, match="index 'j' has sizes 3 and 4"):
        tf.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="index 'i' has sizes 2 and 3"):
        tf.einsum("ii->i", np.ones((2, 3)))


# -- linear systems ------------------------------------------------------------------------

def test_solve_inv_det_match_numpy():
    a = rng.standard_normal((3, 4, 4)) + 4 * np.eye(4)
    a[0] = a[0][[2, 0, 3, 1]]  # needs row swaps
    b = rng.standard_normal((3, 4, 2))
    np.testing.assert_allclose(tf.linalg.solve(a, b).numpy(), np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.inv(a).numpy(), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tf.linalg.det(a).numpy(), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(tf.linalg.solve(a[0], b[0], adjoint=True).numpy(),
                               np.linalg.solve(a[0].T, b[0]), rtol=1e-10)
    assert float(tf.linalg.det(np.zeros((2, 2)))) == 0.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="solve: the matrix is singular"):
        tf.linalg.solve(np.ones((2, 2)), np.ones((2, 1)))
    assert tf.linalg.solve(tf.constant([[3.0, 1.0], [1.0, 2.0]]), tf.constant([[9.0], [8.0]])).dtype == "float32"
    np.testing.assert_allclose(tf.linalg.trace(a).numpy(), np.trace(a, axis1=1, axis2=2))


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_solve_gradient(data):
    n = data.draw(st.integers(1, 4))
    a = arrays(data, (n, n)) + 5 * np.eye(n)[::-1] + 3 * np.eye(n)
    b = arrays(data, (n, data.draw(st.integers(1, 3))))
    check_grads(tf.linalg.solve, a, b)
    check_grads(tf.linalg.det, a)


def test_solve_in_a_traced_function_picks_pivots_per_call():
    f = tf.function(tf.linalg.solve)
    a1, a2 = np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([[0.0, 1.0], [2.0, 0.0]])
    b = np.array([[1.0], [2.0]])
    np.testing.assert_allclose(f(a1, b).numpy(), np.linalg.solve(a1, b))
    np.testing.assert_allclose(f(a2, b).numpy(), np.linalg.solve(a2, b))  # other swaps
    assert f.tracing_count == 1


# -- tf.nn activations -----------------------------------------------------------------------

def test_activations_match_their_definitions():
    x = np.linspace(-4, 4, 17)
    erf = np.vectorize(math.erf)
    sig = 1 / (1 + np.exp(-x))
    cases = [
        (tf.nn.elu, np.where(x > 0, x, np.expm1(x))),
        (tf.nn.selu, 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
        (tf.nn.gelu, 0.5 * x * (1 + erf(x / np.sqrt(2)))),
        (lambda t: tf.nn.gelu(t, approximate=True),
         0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
        (tf.nn.leaky_relu, np.where(x > 0, x, 0.2 * x)),
        (tf.nn.relu6, np.clip(x, 0, 6)), (tf.nn.silu, x * sig), (tf.nn.swish, x * sig),
        (tf.nn.softsign, x / (1 + np.abs(x))), (tf.math.log_sigmoid, np.log(sig)),
        (lambda t: tf.nn.l2_normalize(t, 0), x / np.linalg.norm(x)),
        (lambda t: tf.nn.sigmoid_cross_entropy_with_logits(labels=np.full(17, 0.3), logits=t),
         -(0.3 * np.log(sig) + 0.7 * np.log(1 - sig))),
    ]
    for fn, want in cases:
        np.testing.assert_allclose(fn(tf.constant(x)).numpy(), want, rtol=1e-12, atol=1e-14)
    mean, var = tf.nn.moments(tf.constant(x.reshape(1, 17)), axes=[1])
    np.testing.assert_allclose([mean.numpy()[0], var.numpy()[0]], [x.mean(), x.var()], atol=1e-14)
    assert float(tf.nn.l2_loss(tf.constant([3.0, 4.0]))) == 12.5


@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "leaky_relu", "silu", "softsign",
                                  "relu6", "log_sigmoid"])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_activation_gradients(name, data):
    x = arrays(data, lo=-5, hi=5)
    x = np.where(np.abs(x) < 0.05, 0.3, x)  # off the kink at 0
    x = np.where(np.abs(x - 6) < 0.05, 5.5, x)
    check_grads(getattr(tf.nn, name) if hasattr(tf.nn, name) else getattr(tf.math, name), x)


UNARY_COMPOSITIONS = {
    "reduce_variance": lambda t: tf.math.reduce_variance(t, -1),
    "reduce_std": lambda t: tf.math.reduce_std(t, 0),
    "reduce_euclidean_norm": lambda t: tf.math.reduce_euclidean_norm(t),
    "l2_normalize": lambda t: tf.nn.l2_normalize(t, -1),
    "moments": lambda t: tf.add_n(list(tf.nn.moments(t, axes=[0]))),
    "l2_loss": tf.nn.l2_loss,
    "rsqrt": lambda t: tf.math.rsqrt(tf.abs(t) + 0.5),
    "gelu_tanh": lambda t: tf.nn.gelu(t, approximate=True),
    "swish_beta": lambda t: tf.nn.silu(t, beta=1.7),
    "global_norm_clip": lambda t: tf.add_n(tf.clip_by_global_norm([t, 2.0 * t], 0.3)[0]),
    "bias_add": lambda t: tf.nn.bias_add(t, tf.ones(t.shape[-1:], dtype="float64")),
}


@pytest.mark.parametrize("name", sorted(UNARY_COMPOSITIONS))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_composition_gradients(name, data):
    x = arrays(data, lo=0.2, hi=2.0) * data.draw(st.sampled_from([-1.0, 1.0]))
    if name in ("reduce_variance", "reduce_std", "moments"):
        # two or more distinct values along every reduced axis: a std of 0 has no derivative
        x = np.concatenate([x, x + 1.3]) + np.arange(2 * x.size).reshape((-1,) + x.shape[1:]) * 0.3
    check_grads(UNARY_COMPOSITIONS[name], x)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_binary_composition_gradients(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a, b = (data.draw(hnp.arrays(np.float64, s, elements=st.floats(0.3, 2))) for s in shapes.input_shapes)
    check_grads(tf.math.squared_difference, a, b)
    check_grads(tf.math.divide_no_nan, a, b)
    check_grads(tf.math.xlogy, a, b)
    check_grads(lambda u, v: tf.nn.sigmoid_cross_entropy_with_logits(labels=v * 0.3, logits=u), a, b)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_inverse_and_trace_gradients(data):
    n = data.draw(st.integers(1, 4))
    # Strictly diagonally dominant (|entries| <= 2 off the diagonal): far from singular.
    a = arrays(data, (2, n, n)) + (2 * n + 1) * np.eye(n)
    check_grads(tf.linalg.inv, a)
    check_grads(tf.linalg.trace, a)
