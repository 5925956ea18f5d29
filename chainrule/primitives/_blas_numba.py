"""The numba functions of :mod:`.blas`: the gemm called by name, the column slabs of a native
product, and the BLAS's thread count. Imported only once :func:`.blas.available` holds (it
registers the names these functions call), so that ``import chainrule`` does not import
numba."""

import numba
import numpy as np
from numba import types

from .blas import (_DGEMM, _GET_THREADS, _SET_THREADS, _SGEMM, MAX_SLABS, NO_TRANS,
                   ROW_MAJOR, SLAB_MIN_WORK, SLAB_QUANTUM, TRANS)

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
    :func:`.blas.gemm_form`)."""
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
    shared among numba's threads (the caller checked :func:`.blas.gemm_form`)."""
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


gemm, threads_set, threads_get = _gemm, _threads_set, _threads_get


def product(a, b, out):
    """``out = a @ b`` as the native step computes it: column slabs of one-thread gemms
    (:func:`.blas.gemm_form` must hold; ``out`` C-ordered, of their dtype; the caller made
    the BLAS one-threaded with :func:`.blas.own_threads`)."""
    _product(a, b, out)
    return out
