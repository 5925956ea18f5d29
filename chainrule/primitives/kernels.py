"""The loops behind the table's kernels: numba when installed, NumPy otherwise.

* :func:`matmul`, the product every ``matmul`` and ``dense`` runs, eager or compiled. With
  numba it leaves out the all-zero columns of a large, sparse left operand (a third of an
  MNIST batch's pixels are zero in the whole batch) and, for a transposed one (a kernel
  gradient ``x.T @ g``), the matching rows. It sums the same terms minus exact zeros, so its
  results differ from NumPy's product in the last bits only, and eager and compiled code,
  which both call it, agree bit for bit.
* :func:`softmax_cross_entropy`, the fused loss forward in one pass per row.
* The loops over the windows of a channels-last image that convolution and pooling need
  (:func:`patches`, im2col; :func:`fold`, its adjoint; :func:`max_pool`,
  :func:`max_pool_scatter`, :func:`window_sums`, :func:`window_shares`): each returns None
  when it has no loop for its arguments (no numba, not two spatial axes, not float32 or
  float64), and the table's forward then does the same arithmetic with NumPy calls.

When a product is worth searching for zero lines is decided in :mod:`.sparsity`, how many
threads the BLAS gets for a large one in :mod:`.threads`; this module holds the loops.

:func:`use` picks the backend (``"numba"``, ``"numpy"``, ``"auto"``); the compiler's fused
loops (:mod:`chainrule.compiler.codegen`) follow the same choice. Every numba loop does, per
element, the float32 operations of its NumPy fallback in the same order, so both give the
same bits; the tests check this on both backends.

>>> import numpy as np
>>> from chainrule.primitives import kernels
>>> a = np.zeros((64, 512), np.float32); a[:, :3] = 1
>>> kernels.matmul(a, np.ones((512, 8), np.float32))[0, :3].tolist()
[3.0, 3.0, 3.0]
"""

import threading

import numpy as np

from .. import config
from . import blas, sparsity, threads
from .sparsity import searched
from .threads import adapt_threads  # noqa: F401  (the switch's documented place)

__all__ = ["backend", "use", "numba_module", "matmul", "matmul_for", "ColumnScan", "softmax",
           "softmax_cross_entropy", "product", "scratch", "patches", "fold", "max_pool", "max_pool_scatter",
           "window_sums", "window_shares", "expm1"]

_state = {"choice": "auto", "numba": None}


def use(name):
    """Selects the kernels' backend: ``"numba"``, ``"numpy"``, or ``"auto"`` (numba when it
    is installed). Returns the previous choice."""
    if name not in ("auto", "numba", "numpy"):
        raise ValueError(f"kernels.use: backend must be 'auto', 'numba' or 'numpy'; "
                         f"received {name!r}")
    if name == "numba" and _numba_kernels() is None:
        raise ImportError("kernels.use('numba'): numba is not installed "
                          "(pip install chainrule[jit])")
    previous, _state["choice"] = _state["choice"], name
    return previous


def backend():
    """The backend in use: ``"numba"`` or ``"numpy"``."""
    return "numba" if _compiled() is not None else "numpy"


def _compiled():
    """The numba kernels when they are to be used, else None."""
    if _state["choice"] == "numpy":
        return None
    return _numba_kernels()


def numba_module():
    """The numba module when the numba backend is chosen and installed, else None."""
    return _compiled() and _state["numba_lib"]


def _numba_kernels():
    if _state["numba"] is None:
        try:
            import numba
            from . import _numba as module
        except ImportError:
            module = numba = False
        _state["numba"], _state["numba_lib"] = module, numba
    return _state["numba"] or None


# -- the kernels ---------------------------------------------------------------------------

def matmul(a, b, out=None, scan=None):
    """``np.matmul(a, b, out=out)``; with the numba kernels, the all-zero lines of a large,
    sparse ``a`` are left out.

    The book's first layer multiplies MNIST batches, in which a third of the 784 pixels are
    zero in all 128 images, and its kernel gradient is the same product transposed. For a
    2-D float product that :func:`.sparsity.searched` allows, whose left operand is

    * C-ordered (``x @ kernel``) with at most :data:`.sparsity.SKIP_MAX_ACTIVE` of its
      columns holding a nonzero: the product of those columns with the matching rows of
      ``b``;
    * F-ordered, i.e. a transpose (``x.T @ grad``), with at most that share of its rows
      holding a nonzero: those rows' product, and exact zeros in the other rows.

    Zero terms add nothing, so this is the same sum over fewer terms: it can differ from
    ``np.matmul`` in the last bits (the BLAS groups the terms differently), as two BLAS
    builds do. ``0 * inf`` and ``0 * nan`` are not zero: when the rows of ``b`` that would be
    skipped (for a transpose: any of ``b``) hold an infinity or NaN, the full product runs,
    so NaN spreads as it would. (The NumPy fallback always runs the full product: its
    gathers cost about what the skipped multiply-adds would.)

    ``scan``: a :class:`ColumnScan` that keeps what was found about a left operand for a
    later product with the same array (the compiled executor pairs a layer's product with
    its kernel gradient, which reads the same ``x``)."""
    fast = _compiled()
    if fast is not None and type(a) is np.ndarray and type(b) is np.ndarray \
            and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype \
            and a.dtype in (np.float32, np.float64) and a.shape[1] == b.shape[0] \
            and searched(a.shape, b.shape) \
            and (out is None or (out.shape == (a.shape[0], b.shape[1]) and out.dtype == a.dtype
                                 and out.flags.c_contiguous)):
        result = None
        if a.flags.c_contiguous and a.shape[0] >= 32:
            result = _without_zero_columns(fast, a, b, out, scan)
        elif a.flags.f_contiguous and b.shape[1] >= 32:
            result = _without_zero_rows(fast, a, b, out, scan)
        if result is not None:
            return result
    if threads.governs(a, b):
        return threads.timed_matmul(a, b, out)
    return _product(a, b, out)


def matmul_for(shape_a, shape_b):
    """The product kernel for operands of these shapes: ``np.matmul`` itself when the
    product is too small for :func:`matmul` to search for zero lines or to time (so the
    checks are made once, not at every call), else None. The thresholds are read now: a
    program planned before they change keeps its choice."""
    if len(shape_a) != 2 or len(shape_b) != 2 or searched(shape_a, shape_b) or native():
        return None
    return np.matmul if shape_a[0] * shape_a[1] * shape_b[1] < threads.GOVERN_MIN_WORK else None


def native():
    """Whether products run as the native step computes them (:func:`_product`): it is on
    (:func:`chainrule.config.set_native_step`), with the numba kernels and NumPy's own
    OpenBLAS (:mod:`.blas`)."""
    on = config.native_step() and _compiled() is not None and blas.available()
    if on:
        from . import _blas_numba  # importable: available() holds

        blas.start_pool(_blas_numba.serve)
    blas.own_threads(on)
    return on


def _product(a, b, out=None):
    """``np.matmul(a, b, out=out)``; with the native step on, a 2-D float product that
    NumPy would give to one gemm (:func:`.blas.gemm_form`) runs as the native step runs it
    (column slabs of one-thread gemms, on chainrule's threads), so eager and compiled
    products agree bit for bit, whatever the number of threads."""
    if native() and type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and \
            b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64) and \
            blas.gemm_form(a.shape, a.strides, b.shape, b.strides, a.itemsize) and \
            (out is None or (out.shape == (a.shape[0], b.shape[1]) and out.dtype == a.dtype
                             and out.flags.c_contiguous and not np.shares_memory(out, a)
                             and not np.shares_memory(out, b))):
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        from . import _blas_numba  # importable: native() found numba and the BLAS
        return _blas_numba.product(a, b, out)
    return np.matmul(a, b, out=out)


class ColumnScan:
    """What :func:`matmul` found about one left operand: its nonzero columns and those
    columns packed together, in buffers of its own. Whoever passes one guarantees that
    the array it was made from has not changed while it is in use (:meth:`forget` starts
    over: a compiled program calls it at the first product of every run)."""

    __slots__ = ("key", "cols", "packed")

    def __init__(self):
        self.key = self.cols = self.packed = None

    def forget(self):
        self.key = None


def _packed_columns(fast, c, most, scan):
    """``(cols, c[:, cols])`` for the columns of ``c`` holding a nonzero (or NaN), or None
    when there are more than ``most``; from ``scan`` when it was made from ``c``."""
    key = None
    if scan is not None:
        key = (c.ctypes.data, c.shape, c.strides, c.dtype)
        if scan.key == key:
            return (scan.cols, scan.packed) if scan.cols is not None else None
    rows, depth = c.shape
    if scan is not None:  # arrays of its own
        cols, flat = np.empty(depth, np.intp), np.empty(rows * depth, c.dtype)
    else:
        cols, flat = _scratch("columns", depth, np.intp), _scratch("left", rows * depth, c.dtype)
    n = fast.pack_columns(c, cols, most, _scratch("seen", depth, np.uint8), flat)
    cols, packed = (cols[:n], flat[:rows * n].reshape(rows, n)) if n >= 0 else (None, None)
    if scan is not None:
        scan.key, scan.cols, scan.packed = key, cols, packed
    return (cols, packed) if cols is not None else None


def _without_zero_columns(fast, a, b, out, scan):
    found = _packed_columns(fast, a, sparsity.most_active(a.shape[1]), scan)
    if found is None:
        return None
    cols, a_active = found
    b_active = _scratch("right", len(cols) * b.shape[1], a.dtype).reshape(len(cols), b.shape[1])
    if not fast.take_finite_rows(b, cols, b_active):
        return None
    return _product(a_active, b_active, out)


def _without_zero_rows(fast, a, b, out, scan):
    at = a.T  # C-ordered: its columns are a's rows
    rows, cols = a.shape[0], b.shape[1]
    found = _packed_columns(fast, at, sparsity.most_active(rows), scan)
    if found is None or not fast.take_finite_rows(b, found[0][:0], _scratch(
            "right", 0, b.dtype).reshape(0, b.shape[1])):  # all of b, taking no row
        return None
    keep, a_active = found
    k = len(keep)
    if out is None:
        out = np.empty((rows, cols), a.dtype)
    partial = _scratch("product", k * cols, a.dtype).reshape(k, cols)
    _product(a_active.T, b, partial)
    fast.place_rows(partial, keep, out)
    return out


_scratch_arrays = threading.local()  # per thread: the kernels release the GIL


def _scratch(role, size, dtype):
    """A flat array of ``size`` elements for a temporary, kept between calls: allocating a
    few hundred kB afresh costs page faults on every call."""
    store = _scratch_arrays.__dict__
    key = (role, np.dtype(dtype))
    array = store.get(key)
    if array is None or array.size < size:
        array = store[key] = np.empty(size, dtype)
    return array[:size]


def softmax(x, out, axis):
    """``softmax``'s forward into ``out``, the same numbers: ``exp(x - max)`` over its sum.
    With numba, a 2-D float32 ``x`` of at most 128 classes along its last axis takes four
    calls (shift, NumPy's exp, NumPy's summation order, divide) instead of five NumPy
    calls and two temporaries, which on a batch of logits cost more than the work."""
    fast = _compiled()
    if fast is not None and x.ndim == 2 and axis in (1, -1) and 0 < x.shape[1] <= 128 \
            and _contiguous(x, out):
        sums = _scratch("sums", x.shape[0], x.dtype)
        fast.row_shift(x, out)
        np.exp(out, out=out)
        fast.row_sums(out, sums)
        fast.divide_rows(out, sums)
        return out
    np.subtract(x, x.max(axis=axis, keepdims=True), out=out)
    np.exp(out, out=out)
    return np.divide(out, out.sum(axis=axis, keepdims=True), out=out)


def expm1(x, out):
    """``np.expm1(x, out=out)``, or with numba the C library's ``expm1`` element by element:
    what a fused loop computes for the table's ``expm1`` (NumPy's own SIMD versions may differ
    from the C library in the last bit), so compiled and eager results agree."""
    fast = _compiled()
    if fast is not None and type(x) is np.ndarray and x.dtype in (np.float32, np.float64) \
            and out.dtype == x.dtype and out.flags.c_contiguous and x.shape == out.shape:
        fast.expm1(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
        return out
    return np.expm1(x, out=out)


def softmax_cross_entropy(logits, labels, out):
    """``sparse_softmax_cross_entropy``'s forward into ``out`` for 2-D ``logits`` (batch,
    classes): per row, ``log(sum(exp(shifted))) - shifted[label]`` with ``shifted = logits -
    max``, the same numbers. Exponentials and logarithms are NumPy's in both backends
    (numba's differ from them in the last bit); a label out of range raises ValueError."""
    rows, classes = logits.shape
    shifted = _scratch("softmax", logits.size, logits.dtype).reshape(logits.shape)
    sums = _scratch("sums", rows, logits.dtype)
    fast = _compiled()
    if fast is not None and classes <= 128 and _contiguous(logits, shifted, out):
        if not fast.softmax_shift(logits, labels, shifted, out):
            _bad_label(labels, classes)
        np.exp(shifted, out=shifted)
        fast.row_sums(shifted, sums)
    else:
        if labels.max() >= classes or (labels.dtype.kind != "u" and labels.min() < 0):
            _bad_label(labels, classes)
        tmp = sums.reshape(-1, 1)
        np.maximum.reduce(logits, axis=1, keepdims=True, out=tmp)
        np.subtract(logits, tmp, out=shifted)
        np.negative(shifted[np.arange(rows), labels], out=out)
        np.exp(shifted, out=shifted)
        np.add.reduce(shifted, axis=1, keepdims=True, out=tmp)
    np.log(sums, out=sums)
    return np.add(sums, out, out=out)  # log(sum) - shifted[label]


def _bad_label(labels, classes):
    lo, hi = labels.min(), labels.max()
    raise ValueError(f"sparse_softmax_cross_entropy_with_logits: label "
                     f"{lo if lo < 0 else hi} is out of range for {classes} classes "
                     f"(valid labels are 0..{classes - 1})")


def _contiguous(a, b, c=None):
    """Whether the arrays are C-contiguous float32 (what the numba loops are written for)."""
    f32 = np.float32
    return a.dtype == f32 and b.dtype == f32 and a.flags.c_contiguous and \
        b.flags.c_contiguous and (c is None or (c.dtype == f32 and c.flags.c_contiguous))


# -- windows of channels-last images ------------------------------------------------------
# The table's convolution and pooling forwards call these with explicit ``(low, high)``
# padding per spatial axis; each returns ``out`` when a numba loop did the work, None when
# the caller is to use its NumPy form (which adds in the same order: see ``_numba``).

def product(a, b, out):
    """``np.matmul(a, b, out=out)`` for 2-D operands with no search for zero lines (an
    im2col product's rows are windows, rarely all zero), timed by the thread governor when
    :func:`adapt_threads` is on, as :func:`matmul`'s large products are."""
    if threads.governs(a, b):
        return threads.timed_matmul(a, b, out)
    return np.matmul(a, b, out=out)


def scratch(role, shape, dtype):
    """A C-ordered array of ``shape`` for a temporary, kept between calls (per thread)."""
    size = 1
    for d in shape:
        size *= int(d)
    return _scratch(role, size, dtype).reshape(shape)


def _window_loops(*arrays):
    fast = _compiled()
    if fast is None:
        return None
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64) or any(
            type(a) is not np.ndarray or a.ndim != 4 or a.dtype != dtype for a in arrays):
        return None
    return fast


def patches(x, window, strides, padding, dilation, out):
    """im2col: ``out`` (batch, *out_spatial, *window, channels) holds the entries each tap of
    each window reads, zero in the padding."""
    fast = _window_loops(x)
    if fast is None or out.ndim != 6:
        return None
    (kh, kw), (sh, sw), ((ph, _), (pw, _)), (dh, dw) = window, strides, padding, dilation
    fast.patches2d(x, kh, kw, sh, sw, ph, pw, dh, dw, out)
    return out


def fold(taps, strides, padding, dilation, out):
    """col2im, the adjoint of :func:`patches`: ``out`` (batch, *spatial, channels) = the sum
    of the taps read from each entry."""
    fast = _window_loops(out)
    if fast is None or taps.ndim != 6 or taps.dtype != out.dtype:
        return None
    (sh, sw), ((ph, _), (pw, _)), (dh, dw) = strides, padding, dilation
    fast.fold2d(taps, sh, sw, ph, pw, dh, dw, out)
    return out


def max_pool(x, window, strides, padding, out):
    """Each window's maximum (NaN spreads; the padding never wins)."""
    fast = _window_loops(x, out)
    if fast is None:
        return None
    (kh, kw), (sh, sw), ((ph, _), (pw, _)) = window, strides, padding
    fast.max_pool2d(x, kh, kw, sh, sw, ph, pw, out)
    return out


def max_pool_scatter(x, g, window, strides, padding, out):
    """``g`` added at the first maximum of each window of ``x``, zeros elsewhere."""
    fast = _window_loops(x, g, out)
    if fast is None:
        return None
    (kh, kw), (sh, sw), ((ph, _), (pw, _)) = window, strides, padding
    fast.max_pool_scatter2d(x, g, kh, kw, sh, sw, ph, pw, out)
    return out


def window_sums(x, window, strides, padding, sizes, out):
    """Each window's sum, tap after tap, over ``sizes`` (out_spatial): average pooling."""
    fast = _window_loops(x, out)
    if fast is None or sizes.ndim != 2 or sizes.dtype != x.dtype:
        return None
    (kh, kw), (sh, sw), ((ph, _), (pw, _)) = window, strides, padding
    fast.window_sums2d(x, kh, kw, sh, sw, ph, pw, sizes, out)
    return out


def window_shares(g, window, strides, padding, sizes, out):
    """The adjoint of :func:`window_sums`: ``g / sizes`` shared out over each window."""
    fast = _window_loops(g, out)
    if fast is None or sizes.ndim != 2 or sizes.dtype != g.dtype:
        return None
    (kh, kw), (sh, sw), ((ph, _), (pw, _)) = window, strides, padding
    fast.window_shares2d(g, kh, kw, sh, sw, ph, pw, sizes, out)
    return out
