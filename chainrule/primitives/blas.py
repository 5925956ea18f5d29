"""The BLAS that NumPy itself links, called from numba: the products of a native step.

NumPy's wheels bundle an OpenBLAS (``numpy.libs/libscipy_openblas*.so``, its symbols
prefixed ``scipy_`` and, for 64-bit integers, suffixed ``64_``). :func:`available` finds its
``cblas_sgemm``/``cblas_dgemm`` and thread-count functions through ctypes and registers them
with LLVM under names of our own, so numba-compiled code calls them by name: the machine code
holds no address, and numba's on-disk cache stays valid in the next process (which registers
the names again before loading it).

:func:`._blas_numba.gemm` (a numba function, for other numba code) computes ``out = a @ b``
for 2-D float arrays through the same ``cblas_?gemm`` call NumPy's matmul makes for them
(row-major; a transposed operand passed as the transpose flag of the array it views), so the
bits are NumPy's: ``tests/primitives/test_blas.py`` checks every product form the compiler's
test programs use. :func:`gemm_form` says, from shapes and strides alone, whether a product is one
NumPy sends to gemm (NumPy gives matrix-vector shapes, a dimension of 1, to gemv or dot, and
``a @ a.T`` to syrk; those are left to NumPy).

A product of enough work is split into column slabs (``_blas_numba._slabs``, from its shape
alone), each one one-thread gemm, so its bits do not depend on which thread computes which
slab. The slabs are shared through the *slab pool*: the calling thread announces the product
and then claims slabs itself from an atomic counter, as do the pool's workers (Python threads
that sit in a nogil numba function, asleep on a Linux futex while there is nothing to do).
The caller never waits for a worker to wake: a worker that wakes late finds every slab
taken, and the product has cost what one thread costs. ``_blas_numba.share`` hands out other
work the same way (the ranges of a large element-wise loop of a native segment). The atomics
are LLVM instructions written with numba intrinsics; the pool's words live in one array
registered with LLVM by name, like the BLAS functions. This module keeps the pure-Python
parts (the symbols, the pool's layout and policy: :func:`start_pool`, :func:`pool_threads`).

The numba functions live in :mod:`._blas_numba`, imported once :func:`available` holds (so
``import chainrule`` does not import numba). Without numba, or without a BLAS of that form
(NumPy built against another BLAS), :func:`available` is False and nothing here is used.
Without a futex (not Linux on x86-64 or arm64) the pool has no workers and the caller
computes every slab.
"""

import ctypes
import glob
import os
import platform
import sys
import threading

import numpy as np

__all__ = ["available", "gemm_form", "own_threads", "set_threads", "get_threads",
           "pool_threads", "start_pool", "library_path"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# Products of at least this many multiply-adds are split into column slabs (below, one gemm),
# of a width that is a multiple of SLAB_QUANTUM columns, about MAX_SLABS of them.
SLAB_MIN_WORK = 1 << 20
SLAB_QUANTUM = 64
MAX_SLABS = 8
_state = {"checked": False, "ok": False, "path": None}
_SGEMM, _DGEMM = "chainrule_cblas_sgemm", "chainrule_cblas_dgemm"
_SET_THREADS, _GET_THREADS = "chainrule_blas_set_threads", "chainrule_blas_get_threads"
_POOL, _SYSCALL = "chainrule_slab_pool", "chainrule_syscall"
# The slab pool's words, as byte offsets from its start (the counters on lines of their own):
# the claim counter, the count of finished slabs, the bell the workers sleep on (32-bit), the
# job being shared (its part count, function and block, then a product's 13 numbers), the
# owner flag, the workers called to help.
_NEXT, _DONE, _BELL, _JOB, _OWNER, _WORKERS = 0, 64, 128, 192, 320, 328
_POOL_WORDS = 64
# Linux's futex: the system call's number on this machine, and its private wait and wake.
_FUTEX_SYSCALL = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}.get(
    platform.machine().lower(), -1) if sys.platform.startswith("linux") else -1
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129
# How many times a product's caller looks at the count of finished slabs before it sleeps
# until the last one is done (a few microseconds: the slab a worker is finishing).
_LOOKS = 2000


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
    _register_pool(llvm)
    set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
    get_threads.argtypes, get_threads.restype = [], ctypes.c_int
    _state["set"], _state["get"], _state["path"] = set_threads, get_threads, path
    return True


def _register_pool(llvm):
    """Registers the slab pool's words and the system call its workers sleep with."""
    words = np.zeros(_POOL_WORDS + 8, np.int64)
    skip = (-words.ctypes.data % 64) // 8  # the words start on a cache line
    _state["pool_words"] = words
    _state["pool"] = pool = words[skip:skip + _POOL_WORDS]
    llvm.add_symbol(_POOL, pool.ctypes.data)
    syscall = None
    if _FUTEX_SYSCALL >= 0:
        _, syscall = _symbol(ctypes.CDLL(None), ["syscall"])
    if syscall is None:  # no futex here: the pool never starts, so this is never called
        syscall = _state["no_syscall"] = ctypes.CFUNCTYPE(ctypes.c_int64, *[ctypes.c_int64] * 6)(
            lambda *args: -1)
    llvm.add_symbol(_SYSCALL, ctypes.cast(syscall, ctypes.c_void_p).value)


def _word(offset):
    return _state["pool"][offset // 8]


_pool_lock = threading.Lock()


def start_pool(serve):
    """Starts the slab pool's workers (one fewer than numba's thread count,
    ``NUMBA_NUM_THREADS``; none without a futex), unless they run already in this
    process. ``serve`` is a worker's function (``_blas_numba.serve``, passed by the caller,
    :func:`.kernels.native`, so that this module does not import the numba one)."""
    if _state.get("pool_pid") == os.getpid() or _FUTEX_SYSCALL < 0:
        return
    with _pool_lock:
        if _state.get("pool_pid") != os.getpid():
            _start_workers(_state["pool"], serve)


def _start_workers(pool, serve):
    import numba

    _state["pool_pid"] = os.getpid()
    pool[:] = 0  # a child of a fork has none of its parent's workers
    workers = max(0, numba.config.NUMBA_NUM_THREADS - 1)
    for n in range(workers):
        threading.Thread(target=serve, name=f"chainrule-slabs-{n}", daemon=True).start()
    _state["pool_workers"] = workers
    pool[_WORKERS // 8] = workers


def pool_threads(n=None):
    """The number of threads that share a product's slabs (the caller and the workers it
    calls to help), at most numba's thread count; with ``n``, sets it (from 1) and returns
    the previous number. The slabs, so the bits, are the same whatever the number."""
    workers = _state.get("pool_workers", 0) if _state.get("pool_pid") == os.getpid() else 0
    previous = int(_word(_WORKERS)) + 1 if workers else 1
    if n is not None:
        if int(n) < 1:
            raise ValueError(f"pool_threads: expected a thread count of at least 1, got {n}")
        if workers:
            _state["pool"][_WORKERS // 8] = min(int(n) - 1, workers)
    return previous


def set_threads(n):
    """Sets the BLAS's thread count (for every thread of the process)."""
    _state["set"](int(n))


def get_threads():
    """The BLAS's thread count."""
    return int(_state["get"]())


def gemm_form(shape_a, strides_a, shape_b, strides_b, itemsize):
    """Whether NumPy's matmul computes this 2-D product with one ``cblas_?gemm`` call that
    :func:`._blas_numba.gemm` repeats: both operands and the result at least 2 x 2, each
    operand with one unit stride (C-ordered, or a transpose), the other a multiple of the
    item size, and not ``a @ a.T`` of one buffer (syrk)."""
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
    """While ``enabled`` (the native step is on), the BLAS runs on one thread, and a
    product's slabs are shared by the slab pool (:func:`start_pool`, which
    :func:`.kernels.native` calls first); off again, the BLAS gets back its thread count.

    The pool's idle workers sleep in the kernel, so they cost nothing between products; a
    late one costs nothing either, since the calling thread takes every slab nobody has
    taken. (numba's own threads, used before, were woken at a fork-join barrier: a
    sleeping one woke too late to help, and making them spin cost dearly on a busy machine;
    bench/README.md, 2026-12-07 and 2026-12-08.)"""
    if enabled == _state.get("owned", False):
        return
    if enabled:
        _state["blas_threads"] = get_threads()
        set_threads(1)
        _state["owned"] = True
    else:
        set_threads(_state["blas_threads"])
        _state["owned"] = False
