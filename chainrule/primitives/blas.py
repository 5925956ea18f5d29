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

A product of enough work is split into column slabs (:func:`_slabs`, from its shape alone),
each one one-thread gemm, so its bits do not depend on which thread computes which slab. The
slabs are shared through the *slab pool*: the calling thread announces the product and then
claims slabs itself from an atomic counter, as do the pool's workers (Python threads that sit
in a nogil numba function, asleep on a Linux futex while there is nothing to do). The caller
never waits for a worker to wake: a worker that wakes late finds every slab taken, and the
product has cost what one thread costs. :func:`share` hands out other work the same way (the
ranges of a large element-wise loop of a native segment). The atomics are LLVM
instructions written with numba intrinsics; the pool's words live in one array registered
with LLVM by name, like the BLAS functions.

Without numba, or without a BLAS of that form (NumPy built against another BLAS),
:func:`available` is False and nothing here is used. Without a futex (not Linux on x86-64 or
arm64) the pool has no workers and the caller computes every slab.
"""

import ctypes
import glob
import os
import platform
import sys
import threading

import numpy as np

__all__ = ["available", "gemm", "gemm_form", "product", "own_threads", "set_threads",
           "get_threads", "pool_threads", "start_pool", "library_path"]

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


def start_pool():
    """Starts the slab pool's workers (one fewer than numba's thread count,
    ``NUMBA_NUM_THREADS``; none without a futex), unless they run already in this
    process."""
    if _state.get("pool_pid") == os.getpid() or _FUTEX_SYSCALL < 0:
        return
    with _pool_lock:
        if _state.get("pool_pid") != os.getpid():
            _start_workers(_state["pool"])


def _start_workers(pool):
    _state["pool_pid"] = os.getpid()
    pool[:] = 0  # a child of a fork has none of its parent's workers
    workers = max(0, numba.config.NUMBA_NUM_THREADS - 1)
    for n in range(workers):
        threading.Thread(target=_functions["serve"], name=f"chainrule-slabs-{n}",
                         daemon=True).start()
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
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic
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

    # -- the slab pool ---------------------------------------------------------------------
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
        shared through the slab pool (the caller checked :func:`gemm_form`)."""
        m, k = a.shape
        n = b.shape[1]
        count, width = _slabs(m, k, n)
        if count == 1:
            _gemm(a, b, out)
        else:
            ta, lda = _flags(a)
            tb, ldb = _flags(b)
            _pooled(a.itemsize, ta, tb, m, n, k, a.ctypes.data, lda, b.ctypes.data,
                           ldb, out.ctypes.data, out.strides[0] // out.itemsize, count, width)

    _functions = {"gemm": _gemm, "product": _product, "serve": _serve, "threads_set": _threads_set,
                  "threads_get": _threads_get}


def own_threads(enabled):
    """While ``enabled`` (the native step is on), the BLAS runs on one thread, and a
    product's slabs are shared by the slab pool (started here on first use); off again, the
    BLAS gets back its thread count.

    The pool's idle workers sleep in the kernel, so they cost nothing between products; a
    late one costs nothing either, since the calling thread takes every slab nobody has
    taken. (numba's own threads, used before, were woken at a fork-join barrier: a
    sleeping one woke too late to help, and making them spin cost dearly on a busy machine;
    bench/README.md, 2026-12-07 and 2026-12-08.)"""
    if enabled:
        start_pool()
    if enabled == _state.get("owned", False):
        return
    if enabled:
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
