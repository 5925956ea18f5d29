"""The fused kernels give the bits of the ops they replace, on both backends (NumPy always;
numba when it is installed), edge values included."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule.primitives import kernels

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


# -- matmul: products that leave out zero lines ---------------------------------------------

def sparse_batch(rng, rows=128, cols=300, zero_share=0.4):
    """A batch whose columns are zero in every row for ``zero_share`` of them (like the
    border pixels of an MNIST batch), with scattered zeros elsewhere."""
    x = rng.random((rows, cols)).astype(F32)
    x[rng.random((rows, cols)) < 0.5] = 0
    dead = rng.choice(cols, int(zero_share * cols), replace=False)
    x[:, dead] = 0
    return x, np.setdiff1d(np.arange(cols), dead)


needs_numba = pytest.mark.skipif("numba" not in BACKENDS, reason="numba is not installed")


def test_the_numpy_fallback_multiplies_in_full():
    previous = kernels.use("numpy")
    try:
        x, _ = sparse_batch(np.random.default_rng(9))
        w = np.random.default_rng(8).standard_normal((300, 64)).astype(F32)
        same_bits(kernels.matmul(x, w), np.matmul(x, w))
        same_bits(kernels.matmul(x.T, w[:128], sparse_rows=True), np.matmul(x.T, w[:128]))
    finally:
        kernels.use(previous)


@pytest.fixture
def numba_kernels():
    previous = kernels.use("numba")
    yield
    kernels.use(previous)


@needs_numba
def test_matmul_leaves_out_zero_columns(numba_kernels):
    rng = np.random.default_rng(10)
    x, live = sparse_batch(rng)
    w = rng.standard_normal((300, 64)).astype(F32)
    got = kernels.matmul(x, w)
    # The product of the live columns alone (the same BLAS call on the same arrays) ...
    same_bits(got, np.matmul(np.ascontiguousarray(x[:, live]), w[live]))
    # ... which is x @ w up to float32 rounding.
    np.testing.assert_allclose(got, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)
    out = np.empty((128, 64), F32)
    assert kernels.matmul(x, w, out=out) is out
    same_bits(out, got)


@needs_numba
def test_matmul_leaves_out_zero_rows_of_a_transpose(numba_kernels):
    rng = np.random.default_rng(11)
    x, live = sparse_batch(rng)
    g = rng.standard_normal((128, 64)).astype(F32)
    got = kernels.matmul(x.T, g)  # a kernel gradient: x.T is F-ordered
    want = np.zeros((300, 64), F32)
    want[live] = np.matmul(np.ascontiguousarray(x[:, live]).T, g)
    same_bits(got, want)  # exact +0.0 in the rows of the zero columns
    np.testing.assert_allclose(got, x.T.astype(np.float64) @ g, rtol=1e-5, atol=1e-5)
    sparse = kernels.matmul(x.T, g, out=np.empty((300, 64), F32), sparse_rows=True)
    assert isinstance(sparse, kernels.SparseRows) and sparse.shape == (300, 64)
    np.testing.assert_array_equal(sparse.rows, live)
    same_bits(np.asarray(sparse), want)


@needs_numba
def test_matmul_runs_in_full_when_skipping_does_not_pay(numba_kernels):
    rng = np.random.default_rng(12)
    dense = rng.standard_normal((128, 300)).astype(F32)
    w = rng.standard_normal((300, 64)).astype(F32)
    same_bits(kernels.matmul(dense, w), np.matmul(dense, w))
    x, _ = sparse_batch(rng, zero_share=0.1)  # 90% of the columns live: not worth copying
    same_bits(kernels.matmul(x, w), np.matmul(x, w))
    small, _ = sparse_batch(rng, rows=8, cols=40)  # too little work to search
    same_bits(kernels.matmul(small, w[:40]), np.matmul(small, w[:40]))
    g = rng.standard_normal((128, 64)).astype(F32)
    same_bits(kernels.matmul(dense.T, g, sparse_rows=True), np.matmul(dense.T, g))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0 * inf, as in NumPy
@needs_numba
def test_matmul_lets_inf_and_nan_in_skipped_lines_spread(numba_kernels):
    rng = np.random.default_rng(13)
    x, live = sparse_batch(rng)
    dead = np.setdiff1d(np.arange(300), live)
    w = rng.standard_normal((300, 64)).astype(F32)
    for bad in (np.inf, np.nan):
        w_bad = w.copy()
        w_bad[dead[0], 5] = bad  # a row that x's zero columns would skip
        got = kernels.matmul(x, w_bad)
        same_bits(got, np.matmul(x, w_bad))
        assert np.isnan(got[:, 5]).all()
    g = rng.standard_normal((128, 64)).astype(F32)
    g[3, 7] = np.inf
    got = kernels.matmul(x.T, g)
    same_bits(got, np.matmul(x.T, g))
    assert np.isnan(got[dead, 7]).all()
    x[5, dead[1]] = np.nan  # NaN is not zero: its column is live
    assert np.isnan(kernels.matmul(x, w)[5]).all()


def test_rmsprop_on_sparse_rows_is_the_update_on_the_full_gradient(backend):
    from chainrule.keras import optimizers
    rng = np.random.default_rng(14)
    w0 = rng.standard_normal((64, 33)).astype(F32)
    w0[10, 0], w0[11, 0] = -0.0, 0.0  # rows 10 and 11 never see a gradient
    full, sparse = cr.Variable(w0), cr.Variable(w0)
    opt_full, opt_sparse = optimizers.RMSprop(0.01), optimizers.RMSprop(0.01)
    for step in range(40):
        if step == 0:  # rows 0..9 see a tiny gradient once, then decay into subnormals
            rows = np.arange(10)
            values = np.full((10, 33), 1e-18, F32)
        else:
            rows = np.sort(rng.choice(np.arange(12, 64), 30, replace=False))
            values = (rng.standard_normal((30, 33)) * 1e-3).astype(F32)
        g = kernels.SparseRows(values, rows, (64, 33))
        opt_full.apply_gradients([(np.asarray(g), full)])
        opt_sparse.apply_gradients([(g, sparse)])
    velocity = opt_sparse.slot(sparse, "velocity")
    assert 0 < velocity[:10].max() < np.finfo(F32).tiny  # the subnormal range was reached
    assert np.signbit(sparse.numpy()[10, 0])
    same_bits(sparse.numpy(), full.numpy())
    same_bits(velocity, opt_full.slot(full, "velocity"))


@pytest.mark.parametrize("make", [
    lambda: __import__("chainrule").keras.optimizers.Adam(0.01),
    lambda: __import__("chainrule").keras.optimizers.RMSprop(0.01, momentum=0.5),
    lambda: __import__("chainrule").keras.optimizers.RMSprop(0.01, clipnorm=0.001),
], ids=["adam", "rmsprop-momentum", "rmsprop-clipnorm"])
def test_other_optimizers_take_sparse_rows_as_full_arrays(make):
    rng = np.random.default_rng(15)
    w0 = rng.standard_normal((16, 8)).astype(F32)
    full, sparse = cr.Variable(w0), cr.Variable(w0)
    opt_full, opt_sparse = make(), make()
    for _ in range(5):
        rows = np.sort(rng.choice(16, 6, replace=False))
        g = kernels.SparseRows(rng.standard_normal((6, 8)).astype(F32), rows, (16, 8))
        opt_full.apply_gradients([(np.asarray(g), full)])
        opt_sparse.apply_gradients([(g, sparse)])
    same_bits(sparse.numpy(), full.numpy())


@needs_numba
@settings(max_examples=60, deadline=None)
@given(rows=st.integers(32, 160), depth=st.integers(1, 300), cols=st.integers(32, 96),
       zero_share=st.floats(0, 1), layout=st.sampled_from(["x@w", "x@w.T", "x.T@g"]),
       seed=st.integers(0, 2**16))
def test_matmul_is_the_product_for_any_sparsity(rows, depth, cols, zero_share, layout, seed):
    previous, kernels.SKIP_MIN_WORK = kernels.SKIP_MIN_WORK, 0  # search every product
    old_backend = kernels.use("numba")
    try:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((rows, depth)).astype(F32)
        x[:, rng.random(depth) < zero_share] = 0
        if layout == "x@w":
            a, b = x, rng.standard_normal((depth, cols)).astype(F32)
        elif layout == "x@w.T":
            a, b = x, rng.standard_normal((cols, depth)).astype(F32).T
        else:
            a, b = x.T, rng.standard_normal((rows, cols)).astype(F32)
        want = a.astype(np.float64) @ b.astype(np.float64)
        got = kernels.matmul(a, b)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(a.shape[1]))
        zero_lines = ~a.any(axis=1)
        assert (got[zero_lines] == 0).all() and not np.signbit(got[zero_lines]).any()
    finally:
        kernels.SKIP_MIN_WORK = previous
        kernels.use(old_backend)
