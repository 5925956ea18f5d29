"""The fused kernels give the bits of the ops they replace, on both backends (NumPy always;
numba when it is installed), edge values included."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels

try:
    import numba  # noqa: F401
    BACKENDS = ["numpy", "numba"]
except ImportError:
    BACKENDS = ["numpy"]

F32 = np.float32


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = kernels.use(request.param)
    yield request.param
    kernels.use(previous)


def same_bits(a, b):
    """Equal including NaNs and the signs of zeros."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.int32), b.view(np.int32))


def edgy(rng, shape):
    """Random float32 values with zeros of both signs, NaN, infinities and subnormals."""
    x = (rng.standard_normal(shape) * np.exp(rng.standard_normal(shape) * 3)).astype(F32)
    flat = x.reshape(-1)
    flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40]
    return x


def test_backend_choice_is_explicit():
    assert kernels.backend() in ("numpy", "numba")
    with pytest.raises(ValueError, match="'auto', 'numba' or 'numpy'"):
        kernels.use("cuda")


@pytest.mark.parametrize("in_place", [False, True])
def test_bias_relu_is_dense_then_relu(backend, in_place):
    rng = np.random.default_rng(0)
    x, b = edgy(rng, (33, 17)), edgy(rng, (17,))
    want = cr.nn.relu(cr.constant(x) + cr.constant(b)).numpy()
    out = x if in_place else np.empty_like(x)
    same_bits(kernels.bias_relu(x, b, out), want)


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0, as in NumPy
def test_relu_grad_is_the_vjp_and_the_bias_gradient(backend, in_place):
    rng = np.random.default_rng(1)
    g, y = edgy(rng, (129, 19)), edgy(rng, (129, 19))
    mask = cr.cast(cr.constant(y) > 0, cr.float32)
    want = (cr.constant(g) * mask).numpy()
    want_sums = cr.reduce_sum(cr.constant(want), 0).numpy()
    out = g if in_place else np.empty_like(g)
    sums = np.empty(19, F32)
    same_bits(kernels.relu_grad(g, y, out, sums), want)
    same_bits(sums, want_sums)


@pytest.mark.parametrize("classes", [3, 8, 10, 17, 130])
def test_softmax_cross_entropy_is_both_forwards(backend, classes):
    rng = np.random.default_rng(classes)
    logits = (rng.standard_normal((37, classes)) * 4).astype(F32)
    labels = rng.integers(0, classes, 37).astype(np.uint8 if classes < 256 else np.int64)
    want_loss = cr.nn.sparse_softmax_cross_entropy_with_logits(labels, logits).numpy()
    want_p = cr.nn.softmax(cr.constant(logits)).numpy()
    losses, probs, sums = np.empty(37, F32), np.empty_like(logits), np.empty(37, F32)
    kernels.softmax_cross_entropy(logits, labels, losses, probs, sums)
    same_bits(losses, want_loss)
    same_bits(probs, want_p)
    kernels.softmax_cross_entropy(logits, labels, losses, probs, sums, normalize=False)
    same_bits(losses, want_loss)


def test_softmax_cross_entropy_refuses_labels_out_of_range(backend):
    logits = np.zeros((2, 3), F32)
    scratch = (np.empty(2, F32), np.empty((2, 3), F32), np.empty(2, F32))
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="out of range for 3 classes"):
            kernels.softmax_cross_entropy(logits, np.array(bad), *scratch)


def test_cross_entropy_grad_is_the_vjp_chain(backend):
    rng = np.random.default_rng(2)
    p = rng.random((50, 10)).astype(F32)
    labels = rng.integers(0, 10, 50).astype(np.int64)
    labels[:2] = [-1, 12]  # one_hot gives rows of zeros there
    a = np.full((50, 1), 1 / 50, F32)
    want = (cr.constant(a) * (cr.constant(p) - cr.one_hot(labels, 10))).numpy()
    out, sums = np.empty_like(p), np.empty(10, F32)
    same_bits(kernels.cross_entropy_grad(p, labels, a, out, sums), want)
    same_bits(sums, want.sum(axis=0))


def test_rmsprop_is_the_optimizers_numpy_steps(backend):
    from chainrule.keras import optimizers
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((64, 33)).astype(F32)
    grads = [edgy(rng, (64, 33)) * F32(1e-3) for _ in range(4)]
    for g in grads:
        g[np.isnan(g) | np.isinf(g)] = 0
        g[5:9] = 0  # velocities that decay into the subnormal range
    grads[0][5:9] = 1e-18
    fused = cr.Variable(w0)
    opt = optimizers.RMSprop(learning_rate=0.01)
    reference = cr.Variable(w0)
    ref_opt = optimizers.RMSprop(learning_rate=0.01)
    previous = kernels.use("numpy")  # the reference: the optimizer's own NumPy steps
    try:
        for g in grads * 30:
            ref_opt.apply_gradients([(g, reference)])
    finally:
        kernels.use(previous)
    for g in grads * 30:
        opt.apply_gradients([(g, fused)])
    same_bits(fused.numpy(), reference.numpy())
    same_bits(opt.slot(fused, "velocity"), ref_opt.slot(reference, "velocity"))


def test_rmsprop_declines_what_it_was_not_written_for():
    w = np.ones((4, 4), np.float64)
    assert kernels.rmsprop(w, w, w.copy(), 0.1, 0.9, 1e-7) is False
    w32 = np.ones((4, 4), F32)
    assert kernels.rmsprop(w32[:, ::2], w32[:, ::2], w32[:, ::2].copy(), 0.1, 0.9, 1e-7) is False
