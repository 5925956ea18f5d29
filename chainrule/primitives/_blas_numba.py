"""The numba functions of :mod:`.blas`: the gemm called by name, the column slabs of a native
product, the slab pool that shares them (its atomics, its workers' loop, :func:`share`), and
the BLAS's thread count. Imported only once :func:`.blas.available` holds (it registers the
names these functions call), so that ``import chainrule`` does not import numba.

Native segments (:mod:`chainrule.compiler.native`) call these functions from code cached on
disk: the segments' cache key includes a fingerprint of this file's source
(``native.callee_fingerprint``), so a change here never runs against a stale cache."""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .blas import (_BELL, _DGEMM, _DONE, _FUTEX_SYSCALL, _FUTEX_WAIT, _FUTEX_WAKE,
                   _GET_THREADS, _JOB, _LOOKS, _NEXT, _OWNER, _POOL, _SET_THREADS, _SGEMM,
                   _SYSCALL, _WORKERS, MAX_SLABS, NO_TRANS, ROW_MAJOR, SLAB_MIN_WORK,
                   SLAB_QUANTUM, TRANS)

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


# -- the slab pool -----------------------------------------------------------------------
# A product's slabs are claimed one by one from a shared counter, by the calling thread
# itself and by the pool's workers (Python threads, each inside :func:`_serve`, a nogil
# function): the caller never waits for a worker to wake, and a worker that wakes late
# finds nothing left. Idle workers sleep in the kernel (a futex), never spinning. The
# pool's words live in one array registered with LLVM under a name of our own, so the
# compiled code, cached on disk, holds no address.
_i32, _i64 = ir.IntType(32), ir.IntType(64)


def _pointer(builder, addr, width):
    return builder.inttoptr(addr, ir.IntType(width).as_pointer())


@intrinsic
def _pool_base(typingctx):
    def codegen(context, builder, signature, args):
        module = builder.module
        try:
            word = module.get_global(_POOL)
        except KeyError:
            word = ir.GlobalVariable(module, ir.IntType(8), _POOL)
            word.linkage = "external"
        return builder.ptrtoint(word, _i64)
    return types.int64(), codegen


def _atomic(width, kind):
    """An intrinsic for one sequentially consistent operation on the ``width``-bit
    integer at an address: load(addr), store(addr, value), add(addr, value) (returns
    the old value), cas(addr, expected, new) (returns the old value)."""
    dtype = types.int32 if width == 32 else types.int64
    arity = {"load": 0, "store": 1, "add": 1, "cas": 2}[kind]

    def codegen(context, builder, signature, args):
        ptr = _pointer(builder, args[0], width)
        vals = [context.cast(builder, v, t, dtype)
                for v, t in zip(args[1:], signature.args[1:])]
        if kind == "load":
            return builder.load_atomic(ptr, "seq_cst", width // 8)
        if kind == "store":
            builder.store_atomic(vals[0], ptr, "seq_cst", width // 8)
            return context.get_dummy_value()
        if kind == "add":
            return builder.atomic_rmw("add", ptr, vals[0], "seq_cst")
        pair = builder.cmpxchg(ptr, vals[0], vals[1], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    result = types.none if kind == "store" else dtype
    if arity == 0:
        def op(typingctx, addr):
            return result(types.int64), codegen
    elif arity == 1:
        def op(typingctx, addr, value):
            return result(types.int64, value), codegen
    else:
        def op(typingctx, addr, expected, new):
            return result(types.int64, expected, new), codegen
    op.__name__ = f"_{kind}{width}"
    return intrinsic(op)


_load32, _add32, _store32 = _atomic(32, "load"), _atomic(32, "add"), _atomic(32, "store")
_load64, _store64, _cas64 = _atomic(64, "load"), _atomic(64, "store"), _atomic(64, "cas")
_syscall = types.ExternalFunction(_SYSCALL, types.int64(*[types.int64] * 6))


@numba.njit(**_OPTIONS)
def _futex_wait(addr, value):
    """Sleeps while the 32-bit word at ``addr`` holds ``value`` (returns at once if it
    does not, or on a wake-up)."""
    _syscall(_FUTEX_SYSCALL, addr, _FUTEX_WAIT, value, 0, 0)


@numba.njit(**_OPTIONS)
def _futex_wake(addr, count):
    _syscall(_FUTEX_SYSCALL, addr, _FUTEX_WAKE, count, 0, 0)


@intrinsic
def _call_part(typingctx, fn, block, part):
    """Calls the C function ``void fn(int64 block, int64 part)`` at address ``fn``."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.VoidType(), [_i64, _i64])
        vals = [context.cast(builder, v, t, types.int64)
                for v, t in zip(args, signature.args)]
        builder.call(builder.inttoptr(vals[0], fnty.as_pointer()), vals[1:])
        return context.get_dummy_value()
    return types.none(fn, block, part), codegen


def _typed_address(dtype):
    @intrinsic
    def at(typingctx, addr):
        """The address ``addr`` as a pointer to ``dtype`` items (for ``numba.carray``)."""
        result = types.CPointer(dtype)

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.int64)
            return builder.inttoptr(value, context.get_value_type(result))
        return result(addr), codegen
    return at


f32_at, f64_at = _typed_address(types.float32), _typed_address(types.float64)
b1_at, i64_at = _typed_address(types.boolean), _typed_address(types.int64)


@numba.njit(**_OPTIONS)
def _gemm_slab(job, slab):
    size, ta, tb = _load64(job + 24), _load64(job + 32), _load64(job + 40)
    m, n, k = _load64(job + 48), _load64(job + 56), _load64(job + 64)
    pa, lda, pb = _load64(job + 72), _load64(job + 80), _load64(job + 88)
    ldb, pc, ldc = _load64(job + 96), _load64(job + 104), _load64(job + 112)
    width = _load64(job + 120)
    start = slab * width
    stop = min(n, start + width)
    step_b = 1 if tb == NO_TRANS else ldb
    _gemm_at(size, ta, tb, m, stop - start, k, pa, lda, pb + start * step_b * size,
             ldb, pc + start * size, ldc)


@numba.njit(**_OPTIONS)
def _take(base):
    """Claims the current job's unclaimed parts one at a time and runs them. A claim is
    a compare-and-swap of the counter (its high half the job's number, its low half the
    next part), made after the job's description is read: if it succeeds, the
    description was not rewritten meanwhile (the next job is written only once every
    part of this one is done). A job is ``count`` parts of a C function
    ``fn(block, part)``, or (``fn`` 0) the column slabs of a product."""
    job = base + _JOB
    while True:
        v = _load64(base + _NEXT)
        part = v & 0xFFFFFFFF
        count = _load64(job)
        if part >= count:
            return
        fn, block = _load64(job + 8), _load64(job + 16)
        if _cas64(base + _NEXT, v, v + 1) != v:
            continue
        if fn == 0:
            _gemm_slab(job, part)
        else:
            _call_part(fn, block, part)
        if _add32(base + _DONE, 1) + 1 == count:
            _futex_wake(base + _DONE, 1)


@numba.njit(**_OPTIONS)
def _serve():
    """A worker's life: take what parts there are, then sleep until the next job is
    announced (the bell read before taking: a job announced meanwhile wakes it at
    once)."""
    base = _pool_base()
    while True:
        bell = _load32(base + _BELL)
        _take(base)
        _futex_wait(base + _BELL, bell)


@numba.njit(**_OPTIONS)
def _claim(base):
    """Whether this thread may hand out a job: there are workers to call, and no other
    thread's job is being shared."""
    return _load64(base + _WORKERS) > 0 and _cas64(base + _OWNER, 0, 1) == 0


@numba.njit(**_OPTIONS)
def _run_shared(base, count):
    """Announces the job written at ``base + _JOB`` (``count`` parts), takes parts
    itself, waits for those a worker is still running, and frees the pool."""
    _store32(base + _DONE, 0)
    # A new job number, part 0: the workers may claim from now on.
    _store64(base + _NEXT, ((_load64(base + _NEXT) >> 32) + 1) << 32)
    _add32(base + _BELL, 1)
    _futex_wake(base + _BELL, _load64(base + _WORKERS))
    _take(base)
    # Wait for parts a worker is still running: briefly by looking, then asleep.
    looks = 0
    while True:
        done = _load32(base + _DONE)
        if done >= count:
            break
        if looks < _LOOKS:
            looks += 1
        else:
            _futex_wait(base + _DONE, done)
    _store64(base + _OWNER, 0)


@numba.njit(**_OPTIONS)
def share(fn, block, count):
    """Runs ``fn(block, part)`` (a C function's address) for every part ``0..count-1``,
    the parts shared between this thread and the pool's idle workers (all run here
    when there are none or the pool is in use). For element-wise loops split into
    ranges: whichever thread runs a part, it computes the same numbers."""
    base = _pool_base()
    if not _claim(base):
        for part in range(count):
            _call_part(fn, block, part)
        return
    job = base + _JOB
    _store64(job, count)
    _store64(job + 8, fn)
    _store64(job + 16, block)
    _run_shared(base, count)


@numba.njit(**_OPTIONS)
def _pooled(size, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, count, width):
    """The slabs of one product, shared with the pool's idle workers (all computed
    here when there are none or the pool is in use by another thread)."""
    base = _pool_base()
    if not _claim(base):
        step_b = 1 if tb == NO_TRANS else ldb
        for s in range(count):
            start = s * width
            stop = min(n, start + width)
            _gemm_at(size, ta, tb, m, stop - start, k, pa, lda,
                     pb + start * step_b * size, ldb, pc + start * size, ldc)
        return
    job = base + _JOB
    _store64(job, count)
    _store64(job + 8, 0)
    _store64(job + 16, 0)
    _store64(job + 24, size)
    _store64(job + 32, ta)
    _store64(job + 40, tb)
    _store64(job + 48, m)
    _store64(job + 56, n)
    _store64(job + 64, k)
    _store64(job + 72, pa)
    _store64(job + 80, lda)
    _store64(job + 88, pb)
    _store64(job + 96, ldb)
    _store64(job + 104, pc)
    _store64(job + 112, ldc)
    _store64(job + 120, width)
    _run_shared(base, count)


@numba.njit(**_OPTIONS)
def _product(a, b, out):
    """out = a @ b by column slabs (:func:`_slabs`), each a one-thread gemm, the slabs
    shared through the slab pool (the caller checked :func:`.blas.gemm_form`)."""
    m, k = a.shape
    n = b.shape[1]
    count, width = _slabs(m, k, n)
    if count == 1:
        _gemm(a, b, out)
    else:
        ta, lda = _flags(a)
        tb, ldb = _flags(b)
        _pooled(a.itemsize, ta, tb, m, n, k, a.ctypes.data, lda, b.ctypes.data, ldb,
                out.ctypes.data, out.strides[0] // out.itemsize, count, width)


gemm, threads_set, threads_get, serve = _gemm, _threads_set, _threads_get, _serve


def product(a, b, out):
    """``out = a @ b`` as the native step computes it: column slabs of one-thread gemms
    (:func:`.blas.gemm_form` must hold; ``out`` C-ordered, of their dtype; the caller made
    the BLAS one-threaded with :func:`.blas.own_threads`)."""
    _product(a, b, out)
    return out
