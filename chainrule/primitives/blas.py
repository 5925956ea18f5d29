"""The BLAS that NumPy itself links, called from numba: the products of a native step.

NumPy's wheels bundle an OpenBLAS (``numpy.libs/libscipy_openblas*.so``, its symbols
prefixed ``scipy_`` and, for 64-bit integers, suffixed ``64_``). :func:`available` finds its
``cblas_sgemm``/``cblas_dgemm`` and thread-count functions through ctypes and registers them
with LLVM under names of our own, so numba-compiled code calls them by name: the machine code
holds no address, and numba's on-disk cache stays valid in the next process (which registers
the names again before loading it).

:func:`._blas_numba.gemm` (a numba function, for other numba code) computes ``out = a @ b`` for 2-D float
arrays through the same ``cblas_?gemm`` call NumPy's matmul makes for them (row-major; a
transposed operand passed as the transpose flag of the array it views), so the bits are
NumPy's: ``tests/primitives/test_blas.py`` checks every product form the compiler's test
programs use. :func:`gemm_form` says, from shapes and strides alone, whether a product is one
NumPy sends to gemm (NumPy gives matrix-vector shapes, a dimension of 1, to gemv or dot, and
``a @ a.T`` to syrk; those are left to NumPy).

The numba functions live in :mod:`._blas_numba`, imported once :func:`available` holds (so
``import chainrule`` does not import numba). Without numba, or without a BLAS of that form
(NumPy built against another BLAS), :func:`available` is False and nothing here is used.
"""

import ctypes
import glob
import os

import numpy as np

__all__ = ["available", "gemm_form", "own_threads", "set_threads", "get_threads",
           "library_path"]

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
    import numba  # noqa: F401  (the functions of _blas_numba are only of use with it)

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
