"""The BLAS that NumPy itself links, called from numba: the products of a native step.

NumPy's wheels bundle an OpenBLAS (``numpy.libs/libscipy_openblas*.so``, its symbols
prefixed ``scipy_`` and, for 64-bit integers, suffixed ``64_``). :func:`available` finds its
``cblas_sgemm``/``cblas_dgemm`` and thread-count functions through ctypes and registers them
with LLVM under names of our own, so numba-compiled code calls them by name: the machine code
holds no address, and numba's on-disk cache stays valid in the next process (which registers
the names again before loading it).

:func:`gemm` (a numba function, for other numba code) computes ``out = a @ b`` for 2-D float
arrays through the same ``cblas_?gemm`` call NumPy's matmul makes for them (row-major; a
transposed operand passed as the transpose flag of the array it views), so the bits are
NumPy's: ``tests/primitives/test_blas.py`` checks every product form the compiler's test
programs use. :func:`gemm_form` says, from shapes and strides alone, whether a product is one
NumPy sends to gemm (NumPy gives matrix-vector shapes, a dimension of 1, to gemv or dot, and
``a @ a.T`` to syrk; those are left to NumPy).

Without numba, or without a BLAS of that form (NumPy built against another BLAS),
:func:`available` is False and nothing here is used.
"""

import ctypes
import glob
import os

import numpy as np

__all__ = ["available", "gemm", "gemm_form", "product", "own_threads", "set_threads",
           "get_threads", "library_path"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# Products of at least this many multiply-adds are split into column slabs (below, one gemm),
# of a width that is a multiple of SLAB_QUANTUM columns, about MAX_SLABS of them.
SLAB_MIN_WORK = 1 << 20
SLAB_QUANTUM = 64
MAX_SLABS = 8
_state = {"checked": False, "ok": False, "path": None}
_SGEMM, _DGEMM = "chainrule_cblas_sgemm", "chainrule_cblas_dgemm"
_SET_THREADS, _GET_THREADS = "chainrule_blas_set_threads", "chainrule_blas_get_threads"


def library_path():
    """The path of the OpenBLAS NumPy bundles, or None."""
    here = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/libscipy_openblas*.so*", ".libs/libscipy_openblas*.so*",
                    "../numpy.libs/libopenblas*.so*", ".libs/libopenblas*.so*"):
        found = sorted(glob.glob(os.path.join(here, pattern)))
        if found:
            return os.path.normpath(found[0])
    return None


def _symbol(lib, names):
    for name in names:
        try:
            return name, getattr(lib, name)
        except AttributeError:
            continue
    return None, None


def available():
    """Whether the native products can run: numba is installed and NumPy's own OpenBLAS was
    found with its gemm and thread-count functions (registered on first call)."""
    if not _state["checked"]:
        _state["checked"] = True
        try:
            _state["ok"] = _register()
        except (ImportError, OSError):
            _state["ok"] = False
    return _state["ok"]


def _register():
    import llvmlite.binding as llvm
    import numba  # noqa: F401  (the functions below are only of use with it)

    path = library_path()
    if path is None:
        return False
    lib = ctypes.CDLL(path)
    found = {}
    for ours, stem in ((_SGEMM, "cblas_sgemm"), (_DGEMM, "cblas_dgemm")):
        name, fn = _symbol(lib, [f"scipy_{stem}64_", f"scipy_{stem}", stem])
        if fn is None:
            return False
        found[ours] = (name, fn)
    if not found[_SGEMM][0].endswith("64_"):
        return False  # the gemm below passes 64-bit integers (ILP64), as NumPy's wheels do
    _, set_threads = _symbol(lib, ["scipy_openblas_set_num_threads64_",
                                   "scipy_goto_set_num_threads64_",
                                   "openblas_set_num_threads"])
    _, get_threads = _symbol(lib, ["scipy_openblas_get_num_threads64_",
                                   "openblas_get_num_threads"])
    if set_threads is None or get_threads is None:
        return False
    for ours, (_, fn) in found.items():
        llvm.add_symbol(ours, ctypes.cast(fn, ctypes.c_void_p).value)
    llvm.add_symbol(_SET_THREADS, ctypes.cast(set_threads, ctypes.c_void_p).value)
    llvm.add_symbol(_GET_THREADS, ctypes.cast(get_threads, ctypes.c_void_p).value)
    set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
    get_threads.argtypes, get_threads.restype = [], ctypes.c_int
    _state["set"], _state["get"], _state["path"] = set_threads, get_threads, path
    return True


def set_threads(n):
    """Sets the BLAS's thread count (for every thread of the process)."""
    _state["set"](int(n))


def get_threads():
    """The BLAS's thread count."""
    return int(_state["get"]())


def gemm_form(shape_a, strides_a, shape_b, strides_b, itemsize):
    """Whether NumPy's matmul computes this 2-D product with one ``cblas_?gemm`` call that
    :func:`gemm` repeats: both operands and the result at least 2 x 2, each operand with
    one unit stride (C-ordered, or a transpose), the other a multiple of the item size, and
    not ``a @ a.T`` of one buffer (syrk)."""
    if len(shape_a) != 2 or len(shape_b) != 2:
        return False
    (m, k), (k2, n) = shape_a, shape_b
    if k != k2 or min(m, k, n) < 2:
        return False
    return _layout(shape_a, strides_a, itemsize) is not None and \
        _layout(shape_b, strides_b, itemsize) is not None


def _layout(shape, strides, itemsize):
    rows, cols = shape
    s0, s1 = strides
    if s0 % itemsize or s1 % itemsize:
        return None
    if s1 == itemsize and s0 >= cols * itemsize:
        return NO_TRANS
    if s0 == itemsize and s1 >= rows * itemsize:
        return TRANS
    return None


try:
    import numba
    from numba import types
except ImportError:  # the native step needs numba; nothing below is then used
    numba = None

if numba is not None:
    # The arrays are passed as their addresses, 64-bit integers (passed as pointers are, in
    # the same registers, on x86-64 and arm64): the functions below then take numbers only,
    # so one compiled version serves every layout of the operands.
    _SIG = {dt: types.void(types.int32, types.int32, types.int32, types.int64, types.int64,
                           types.int64, dt, types.intp, types.int64, types.intp,
                           types.int64, dt, types.intp, types.int64)
            for dt in (types.float32, types.float64)}
    # Called by name: LLVM finds the addresses that available() registered.
    _sgemm = types.ExternalFunction(_SGEMM, _SIG[types.float32])
    _dgemm = types.ExternalFunction(_DGEMM, _SIG[types.float64])
    _set_num = types.ExternalFunction(_SET_THREADS, types.void(types.intc))
    _get_num = types.ExternalFunction(_GET_THREADS, types.intc())
    _OPTIONS = dict(cache=True, nogil=True)

    @numba.njit(**_OPTIONS)
    def _flags(a):
        size = a.itemsize
        if a.strides[1] == size:
            return NO_TRANS, a.strides[0] // size
        return TRANS, a.strides[1] // size

    @numba.njit(**_OPTIONS)
    def _gemm_at(size, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc):
        """The gemm of the operands at these addresses (items of ``size`` bytes)."""
        if size == 4:
            _sgemm(ROW_MAJOR, ta, tb, m, n, k, np.float32(1), pa, lda, pb, ldb,
                   np.float32(0), pc, ldc)
        else:
            _dgemm(ROW_MAJOR, ta, tb, m, n, k, np.float64(1), pa, lda, pb, ldb,
                   np.float64(0), pc, ldc)

    @numba.njit(**_OPTIONS)
    def _gemm(a, b, out):
        """out = a @ b (2-D float arrays of one dtype; out C-ordered; the caller checked
        :func:`gemm_form`)."""
        ta, lda = _flags(a)
        tb, ldb = _flags(b)
        _gemm_at(a.itemsize, ta, tb, a.shape[0], b.shape[1], a.shape[1], a.ctypes.data, lda,
                 b.ctypes.data, ldb, out.ctypes.data, out.strides[0] // out.itemsize)

    @numba.njit(**_OPTIONS)
    def _usable(a):
        """Whether ``a`` (2-D, given at a call) has the layout a gemm takes: one unit stride,
        the other a multiple of the item size and at least the extent it steps over."""
        size = a.itemsize
        s0, s1 = a.strides
        if s0 % size or s1 % size:
            return False
        if s1 == size:
            return s0 >= a.shape[1] * size
        return s0 == size and s1 >= a.shape[0] * size

    @numba.njit(**_OPTIONS)
    def _threads_set(n):
        _set_num(n)

    @numba.njit(**_OPTIONS)
    def _threads_get():
        return _get_num()

    @numba.njit(**_OPTIONS)
    def _slabs(m, k, n):
        """``(count, width)``: the output column slabs of an ``m x k @ k x n`` product,
        from its shape alone (never from the thread count), so its bits do not depend on
        how many threads share the slabs."""
        if m * k * n < SLAB_MIN_WORK or n < 2 * SLAB_QUANTUM:
            return 1, n
        width = -(-n // MAX_SLABS)
        width = max(SLAB_QUANTUM, -(-width // SLAB_QUANTUM) * SLAB_QUANTUM)
        return -(-n // width), width

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _slab_products(size, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, count, width):
        for s in numba.prange(count):
            start = s * width
            stop = min(n, start + width)
            # Slab s: columns start..stop of b (a row offset of b's rows when transposed)
            # and of the result.
            step_b = 1 if tb == NO_TRANS else ldb
            _gemm_at(size, ta, tb, m, stop - start, k, pa, lda, pb + start * step_b * size,
                     ldb, pc + start * size, ldc)

    @numba.njit(**_OPTIONS)
    def _product(a, b, out):
        """out = a @ b by column slabs (:func:`_slabs`), each a one-thread gemm, the slabs
        shared among numba's threads (the caller checked :func:`gemm_form`)."""
        m, k = a.shape
        n = b.shape[1]
        count, width = _slabs(m, k, n)
        if count == 1:
            _gemm(a, b, out)
        else:
            ta, lda = _flags(a)
            tb, ldb = _flags(b)
            _slab_products(a.itemsize, ta, tb, m, n, k, a.ctypes.data, lda, b.ctypes.data,
                           ldb, out.ctypes.data, out.strides[0] // out.itemsize, count, width)

    _functions = {"gemm": _gemm, "product": _product, "threads_set": _threads_set,
                  "threads_get": _threads_get}


def own_threads(enabled):
    """While ``enabled`` (the native step is on), the BLAS runs on one thread, the threads
    being chainrule's (numba's, sharing a product's slabs), and those wait without spinning
    (``OMP_WAIT_POLICY=PASSIVE`` unless the environment says otherwise, read when numba
    starts them); off again, the BLAS gets back its thread count.

    A passive thread is slow to wake: on a busy two-core machine a product split in two
    slabs took as long as on one thread. ``GOMP_SPINCOUNT`` (e.g. 30000) makes idle threads
    busy-wait that long first, which helps on an idle machine and costs dearly on a busy
    one (bench/README.md, 2026-12-07, "the native step's waiting threads"); the default
    stays passive."""
    if enabled == _state.get("owned", False):
        return
    if enabled:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        _state["blas_threads"] = get_threads()
        set_threads(1)
        _state["owned"] = True
    else:
        set_threads(_state["blas_threads"])
        _state["owned"] = False


def product(a, b, out):
    """``out = a @ b`` as the native step computes it: column slabs of one-thread gemms
    (:func:`gemm_form` must hold; ``out`` C-ordered, of their dtype; the caller made the
    BLAS one-threaded with :func:`own_threads`)."""
    _functions["product"](a, b, out)
    return out


def __getattr__(name):
    if name in ("gemm", "threads_set", "threads_get"):
        if not available():
            raise ImportError("chainrule.primitives.blas: numba or NumPy's OpenBLAS is missing")
        return _functions[name]
    raise AttributeError(name)
