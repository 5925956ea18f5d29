"""The table's kernels give the bits of the primitives' forwards, on both backends (NumPy
always; numba when it is installed), edge values included."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule.distribute import LocalCommunicator
from chainrule.primitives import kernels, sparsity, threads
from chainrule.primitives import table as P

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
    if a.dtype.kind == "f":
        a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
    np.testing.assert_array_equal(a, b)


def edgy(rng, shape):
    """Random float32 values with zeros of both signs, NaN, infinities and subnormals."""
    x = (rng.standard_normal(shape) * np.exp(rng.standard_normal(shape) * 3)).astype(F32)
    flat = x.reshape(-1)
    flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40][:flat.size]
    return x


def test_backend_choice_is_explicit():
    assert kernels.backend() in ("numpy", "numba")
    with pytest.raises(ValueError, match="'auto', 'numba' or 'numpy'"):
        kernels.use("cuda")


@pytest.mark.parametrize("classes", [3, 8, 10, 17, 130])
def test_softmax_cross_entropy_is_both_forwards(backend, classes):
    rng = np.random.default_rng(classes)
    logits = (rng.standard_normal((37, classes)) * 4).astype(F32)
    labels = rng.integers(0, classes, 37).astype(np.uint8 if classes < 256 else np.int64)
    want_loss = cr.nn.sparse_softmax_cross_entropy_with_logits(labels, logits).numpy()
    losses = np.empty(37, F32)
    assert kernels.softmax_cross_entropy(logits, labels, losses) is losses
    same_bits(losses, want_loss)


def test_softmax_cross_entropy_refuses_labels_out_of_range(backend):
    logits = np.zeros((2, 3), F32)
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match="out of range for 3 classes"):
            kernels.softmax_cross_entropy(logits, np.array(bad), np.empty(2, F32))


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
        same_bits(kernels.matmul(x.T, w[:128]), np.matmul(x.T, w[:128]))
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
    out = np.empty((300, 64), F32)
    assert kernels.matmul(x.T, g, out=out) is out
    same_bits(out, want)


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
    same_bits(kernels.matmul(dense.T, g), np.matmul(dense.T, g))


@np.errstate(invalid="ignore")  # 0 * inf, as in NumPy
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


@needs_numba
@settings(max_examples=60, deadline=None)
@given(rows=st.integers(32, 160), depth=st.integers(1, 300), cols=st.integers(32, 96),
       zero_share=st.floats(0, 1), layout=st.sampled_from(["x@w", "x@w.T", "x.T@g"]),
       seed=st.integers(0, 2**16))
def test_matmul_is_the_product_for_any_sparsity(rows, depth, cols, zero_share, layout, seed):
    previous, sparsity.SKIP_MIN_WORK = sparsity.SKIP_MIN_WORK, 0  # search every product
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
        sparsity.SKIP_MIN_WORK = previous
        kernels.use(old_backend)


KERNELS = sorted(name for name, p in P.PRIMITIVES.items() if p.kernel is not None)


@pytest.mark.parametrize("name", KERNELS)
@np.errstate(divide="ignore", invalid="ignore", over="ignore")  # edge values, on purpose
def test_every_kernel_writes_its_primitives_forward(backend, name):
    """Each kernel in the table, into a given buffer (and over its own input, for those
    that may write there: element-wise ones, all_reduce), equals the forward bit for bit."""
    prim = P.PRIMITIVES[name]
    rng = np.random.default_rng(7)
    a, b = edgy(rng, (37, 19)), edgy(rng, (37, 19))
    args, params = {
        "matmul": ((a, edgy(rng, (19, 5))), {}),
        "dense": ((a, edgy(rng, (19, 5)), edgy(rng, (5,))), {}),
        "where": ((a > 0, a, b), {}),
        "cast": ((a,), {"dtype": np.dtype(np.float64)}),
        "reduce_sum": ((a,), {"axis": (0,), "keepdims": False}),
        "reduce_max": ((a,), {"axis": (1,), "keepdims": True}),
        "reduce_min": ((a,), {"axis": None, "keepdims": False}),
        "softmax": ((a,), {"axis": 1}),
        "sparse_softmax_cross_entropy": ((rng.integers(0, 19, 37), a), {}),
        "all_reduce": ((a,), {"communicator": LocalCommunicator(), "op": "mean"}),
        "concat": ((a, b, edgy(rng, (2, 19))), {"axis": 0}),
        "one_hot": ((rng.integers(-1, 7, 37),), {"depth": 5, "dtype": np.dtype(np.float32)}),
        **_window_kernel_args(rng),
    }.get(name, (None, {}))
    if args is None:
        arity = 1 if name in ("negative", "exp", "expm1", "log", "sqrt", "abs", "tanh", "sigmoid",
                              "relu", "logical_not", "sign", "floor", "round") else 2
        args = (a, b)[:arity]
        if name.startswith("logical"):
            args = tuple(x > 0 for x in args)
    want = np.asarray(prim.forward(*args, **params))
    out = np.empty(want.shape, want.dtype)
    assert prim.kernel(*args, out=out, **params) is not None
    same_bits(out, want)
    if prim.in_place:
        for k, x in enumerate(args):  # over an input that dies there
            if x.shape == want.shape and x.dtype == want.dtype:
                inputs = [np.array(y) for y in args]
                prim.kernel(*inputs, out=inputs[k], **params)
                same_bits(inputs[k], want)


def _window_kernel_args(rng):
    """Arguments of the convolution and pooling kernels: 3x3 windows, stride 2, padding on
    one side (the windows overlap and reach into the padding)."""
    x, g = edgy(rng, (2, 7, 6, 3)), edgy(rng, (2, 4, 3, 4))
    conv = {"strides": (2, 2), "padding": ((1, 1), (0, 1)), "dilation": (1, 1), "groups": 1}
    pool = {"window": (3, 3), "strides": (2, 2), "padding": ((1, 1), (0, 1))}
    return {"conv": ((x, edgy(rng, (3, 3, 3, 4))), conv),
            "conv_transpose": ((g, edgy(rng, (3, 3, 3, 4))), {**conv, "spatial": (7, 6)}),
            "conv_filter_grad": ((x, g), {**conv, "window": (3, 3)}),
            "max_pool": ((x,), pool),
            "max_pool_scatter": ((x, edgy(rng, (2, 4, 3, 3))), pool),
            "avg_pool": ((x,), pool),
            "avg_pool_transpose": ((edgy(rng, (2, 4, 3, 3)),), {**pool, "spatial": (7, 6)})}


WINDOW_CASES = [  # window, strides, padding, dilation
    ((3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
    ((3, 2), (2, 1), ((1, 1), (0, 1)), (1, 1)),
    ((3, 3), (1, 2), ((2, 2), (1, 2)), (2, 1)),
]


@pytest.mark.parametrize("window, strides, padding, dilation", WINDOW_CASES)
def test_window_loops_give_the_numpy_forms_numbers(window, strides, padding, dilation):
    """The numba loops of convolution and pooling against the NumPy forms the table falls
    back on: equal values (the same sums in the same order), ties and padding included."""
    if kernels.numba_module() is None:
        pytest.skip("numba is not installed: only the NumPy forms exist")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 9, 8, 4)).astype(F32)
    x[0, :4, :4] = 1.5  # ties: the first maximum of a window takes the gradient
    x[1, 2] = -1e4  # below everything: windows that reach into the padding keep it
    w = rng.standard_normal(tuple(window) + (4, 5)).astype(F32)
    conv = {"strides": strides, "padding": padding, "dilation": dilation, "groups": 1}
    pool = {"window": window, "strides": strides, "padding": padding}
    y = P.conv.forward(x, w, **conv)
    g = rng.standard_normal(y.shape).astype(F32)
    pooled = P.max_pool.forward(x, **pool)
    h = rng.standard_normal(pooled.shape).astype(F32)
    calls = [(P.conv, (x, w), conv),
             (P.conv_transpose, (g, w), {**conv, "spatial": (9, 8)}),
             (P.conv_filter_grad, (x, g), {**conv, "window": window})]
    if dilation == (1, 1):
        calls += [(P.max_pool, (x,), pool), (P.max_pool_scatter, (x, h), pool),
                  (P.avg_pool, (x,), pool),
                  (P.avg_pool_transpose, (h,), {**pool, "spatial": (9, 8)})]
    for prim, args, params in calls:
        fast = prim.forward(*args, **params)
        previous = kernels.use("numpy")
        try:
            slow = prim.forward(*args, **params)
        finally:
            kernels.use(previous)
        np.testing.assert_array_equal(fast, slow, err_msg=prim.name)


@pytest.mark.parametrize("shape, axis", [((64, 10), 1), ((5, 1), -1), ((3, 200), 1),
                                         ((4, 3, 7), -1), ((6, 9), 0), ((128, 128), 1)])
@np.errstate(divide="ignore", invalid="ignore", over="ignore")  # edge values, on purpose
def test_softmax_kernel_gives_the_forward_bits_for_any_layout(backend, shape, axis):
    rng = np.random.default_rng(3)
    for x in (edgy(rng, shape), rng.standard_normal(shape).astype(F32) * 20):
        want = P.softmax.forward(x, axis=axis)
        out = np.empty_like(want)
        kernels.softmax(x, out, axis)
        same_bits(out, want)


class FakeController:
    def __init__(self):
        self.limits = []

    def limit(self, limits, user_api):
        assert user_api == "blas"
        self.limits.append(limits)


def governed(costs_by_threads, calls):
    """A governor fed ``calls`` products whose cost depends on the thread setting in use."""
    gov = threads.ThreadGovernor()
    gov.controller, gov.threads, gov.active = FakeController(), (2, 1), True
    modes = []
    for _ in range(calls):
        gov.observe(costs_by_threads[gov.threads[gov.mode]])
        modes.append(gov.mode)
    return gov, modes


def test_the_governor_keeps_all_threads_on_a_quiet_machine():
    gov, modes = governed({2: 1.0, 1: 1.9}, 5000)
    assert gov.mode == 0
    # It tried one thread now and then, less and less often: a few percent of the products.
    assert 0 < modes.count(1) < 0.01 * len(modes)
    assert gov.wait == gov.longest


def test_the_governor_goes_to_one_thread_when_threads_stall_and_back_when_they_do_not():
    busy = {2: 10.0, 1: 2.0}  # two threads waiting on a descheduled one
    gov, modes = governed(busy, 300)
    assert gov.mode == 1 and modes[-100:].count(1) >= 98
    for _ in range(20000):  # the neighbour has gone: all threads are fast again
        gov.observe({2: 1.0, 1: 1.9}[gov.threads[gov.mode]])
    assert gov.mode == 0
    assert gov.controller.limits[-1] == 2


def test_the_governor_is_off_unless_asked_for_and_times_products_when_on():
    previous = threads._state["adapt"]
    a = np.ones((256, 256), F32)
    try:
        threads.adapt_threads(False)
        same_bits(kernels.matmul(a, a), np.matmul(a, a))
        assert threads._governor.active is False
        threads.adapt_threads(True)
        kernels.matmul(a, a)
        gov = threads._governor
        if gov.active:  # threadpoolctl installed and a multithreaded BLAS
            assert gov.cost[gov.mode] is not None
    finally:
        threads.adapt_threads(previous)


def test_convolutions_by_slices_of_the_batch_compute_the_whole_batchs_result(monkeypatch):
    """A convolution's products run over a few images at a time (their im2col rows stay in
    the cache); slices of one image each give the one-product result."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 9, 8, 3)).astype(F32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(F32)
    conv = {"strides": (2, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 1}
    g = rng.standard_normal(P.conv.forward(x, w, **conv).shape).astype(F32)
    calls = [(P.conv, (x, w), conv), (P.conv_transpose, (g, w), {**conv, "spatial": (9, 8)}),
             (P.conv_filter_grad, (x, g), {**conv, "window": (3, 3)})]
    whole = [prim.forward(*args, **params) for prim, args, params in calls]
    monkeypatch.setattr(P, "_CHUNK_BYTES", 1)
    assert len(P._slices(5, 100)) == 5
    for (prim, args, params), want in zip(calls, whole):
        got = prim.forward(*args, **params)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=prim.name)
        out = np.full_like(want, np.nan)  # into a given buffer: every entry written
        assert prim.kernel(*args, out=out, **params) is out
        np.testing.assert_array_equal(out, got)
