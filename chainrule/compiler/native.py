"""The native step: runs of a program's ops written out as one numba function each.

With :func:`chainrule.config.set_native_step` on (or ``CHAINRULE_NATIVE_STEP=1``), a plan's
ops are grouped into *segments*: maximal runs of ops with a native form, each compiled into
one ``nopython``, ``nogil`` function (cached on disk as the fused loops are, see
:mod:`.codegen`), called once per run with the arrays it reads and writes. Native forms:

* a fused loop, or an element-wise op alone (as a loop of one): its :mod:`.codegen` source,
  inlined into the segment's module; with ``SPLIT_MIN_PART`` set (off by default), a large
  one without sums is cut into ranges of elements (or rows), each run by a C function of
  the module, shared between the calling thread and the slab pool's workers
  (:func:`~chainrule.primitives._blas_numba.share`; every element is computed as the whole loop
  computes it);
* a 2-D float product that NumPy's matmul sends to one ``cblas_?gemm`` call
  (:func:`~chainrule.primitives.blas.gemm_form`) and that :func:`.kernels.matmul` would not
  search for zero lines or time: column slabs of one-thread gemms of NumPy's own OpenBLAS,
  shared through the slab pool (:func:`~chainrule.primitives._blas_numba.product`), which
  is also what every such product runs, eager or not, while the native step is on;
* an update of a whole Variable by a value of its shape and dtype (or one element), whose
  effect has an ``element_store`` form: a loop over the Variable's own array.

Everything else runs as the executor's usual step, in Python, between segments (so does a
native op alone: a function of its own would only cost a compilation). A view
(``reshape``, ``transpose``, a slice) of a planned buffer or a constant is the same view at
every call: it is made once, when the plan is made, and costs nothing afterwards; a pure op
without a buffer that reads only the graph's inputs and constants (the transpose of a
batch) is moved to the start of the run, so it does not split a segment.

The numbers are the executor's: each native op does what its Python step does, with the
same library calls or the same rounding (with the native step on, the executor's and eager
products are slab products too). When an array given at a call does not have the
layout a segment was written for (a product needs one unit stride), that segment's ops run
as Python steps instead, for that call.
"""

import hashlib
import threading

import numpy as np

from ..graph.graph import CONSTANT, INPUT
from ..primitives import Primitive, blas, kernels, sparsity, threads
from ..recording import mark_all_changed
from . import codegen
from .fusion import _fusable, pattern
from .plan import is_planned
from .program import Loop

__all__ = ["segment_steps", "enabled"]

_compiled = {}
_lock = threading.Lock()
_OPTIONS = "cache=CACHE, fastmath=False, error_model='numpy', nogil=True"


def enabled():
    """Whether compiled programs run as native segments: asked for, and numba and NumPy's
    OpenBLAS are there."""
    return kernels.native()


class _Context:
    """What a plan knows of its values: which arrays are fixed (buffers, constants, views
    of them made once) and which are read from the registers at each call."""

    def __init__(self, program, graph, buffers, registers):
        self.buffers, self.registers = buffers, registers
        self.fixed = {}  # value index -> array, the same at every call
        for v in list(graph.values) + program.constants:
            if v.kind == CONSTANT:
                self.fixed[v.index] = np.asarray(v.example)
        self.fixed.update(buffers)
        # Values that no op of the program changes (an input passed as a Variable may be
        # updated): what an op reading only them sees at the start is what it would see later.
        written = {v.index for op in program.ops if op.is_update for v in op.inputs}
        written |= {var.index for op in program.ops if isinstance(op.prim, Loop)
                    for var, _, _ in op.prim.stores}
        self.at_start = {v.index for v in list(graph.values) + program.constants
                         if v.kind in (INPUT, CONSTANT) and v.index not in written}


def segment_steps(program, graph, buffers, registers, make_step, variables):
    """The plan's steps (``make_step(op)`` makes an op's Python step) with every run of
    native ops replaced by one step that calls its compiled segment; also the segments, as
    lists of op positions (for the listing). The Python steps of a segment's ops, needed
    only when a call's arrays do not fit it, are made on first use (a fused loop's would
    compile it a second time)."""
    ctx = _Context(program, graph, buffers, registers)
    ops = program.ops
    kinds, early = [], []
    for position, op in enumerate(ops):
        kind = _kind(op, ctx)
        if kind == "view":
            registers[op.output.index] = ctx.fixed[op.output.index]
        elif kind == "early":
            early.append(make_step(op))
        kinds.append(kind)
    result, segments, run = list(early), [], []

    def flush():
        if len(run) == 1:  # one op alone gains nothing from a function of its own
            result.append(make_step(ops[run[0]]))
            run.clear()
        if run:
            members = [ops[p] for p in run]
            result.append(_segment_step(members, _lazy(members, make_step), ctx, variables))
            segments.append(list(run))
            run.clear()

    for position, kind in enumerate(kinds):
        if kind in ("view", "early"):
            continue
        if kind is None:
            flush()
            result.append(make_step(ops[position]))
        else:
            run.append(position)
    flush()
    program.placed = {p: kind for p, kind in enumerate(kinds) if kind in ("view", "early")}
    return result, segments


def _lazy(ops, make_step):
    """The Python steps of ``ops``, as one function that makes them on its first call."""
    made = []

    def run(r):
        if not made:
            made.extend(make_step(op) for op in ops)
        for step in made:
            step(r)
    return run


def _kind(op, ctx):
    """How ``op`` runs: "loop", "product", "update" (native), "view" (made once), "early"
    (moved to the start), or None (a Python step)."""
    if isinstance(op.prim, Loop):
        return "loop" if all(v.index in ctx.buffers for v in op.outputs) else None
    if op.is_update:
        return "update" if _native_update(op) else None
    if not isinstance(op.prim, Primitive) or op.prim.stateful:
        return None
    out = op.output
    if not is_planned(op):
        if all(v.index in ctx.fixed for v in op.inputs):
            try:
                view = op.prim.forward(*[ctx.fixed[v.index] for v in op.inputs], **op.params)
            except Exception:  # noqa: BLE001 (the op then runs as it always does)
                view = None
            if isinstance(view, np.ndarray) and view.size and any(
                    np.shares_memory(view, ctx.fixed[v.index]) for v in op.inputs
                    if v.index in ctx.buffers):
                ctx.fixed[out.index] = view
                return "view"
        if all(v.index in ctx.at_start for v in op.inputs):
            ctx.at_start.add(out.index)
            return "early"
        return None
    if out.index not in ctx.buffers:
        return None
    if op.prim.elementwise and op.prim.kernel is not None and _fusable(op):
        return "loop"
    if op.prim.product and _native_product(op, ctx):
        return "product"
    return None


def _native_update(op):
    store = getattr(op.prim, "element_store", None)
    if store is None or op.params or len(op.inputs) != 2:
        return False
    target, value = op.inputs
    return target.variable is not None and value.variable is None and \
        target.dtype == value.dtype and target.dtype.kind in "fiub" and \
        (tuple(value.shape) == tuple(target.shape) or int(np.prod(value.shape)) == 1)


def _native_product(op, ctx):
    a, b = op.inputs
    out = op.output
    if set(op.params) - {"scan", "first"} or op.params.get("scan") is not None:
        return False
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64) or out.dtype != a.dtype:
        return False
    if sparsity.searched(a.shape, b.shape) or (
            threads._state["adapt"] and a.shape[0] * a.shape[1] * b.shape[-1]
            >= threads.GOVERN_MIN_WORK):
        return False  # kernels.matmul may skip zero lines or time it: its Python step does
    item = a.dtype.itemsize
    strides = []
    for v in (a, b):
        array = ctx.fixed.get(v.index)
        if array is not None:
            if array.dtype != v.dtype:
                return False
            strides.append(array.strides)
        else:  # read at each call: checked then, in the segment
            strides.append((v.shape[1] * item, item) if len(v.shape) == 2 else None)
    if None in strides or not blas.gemm_form(a.shape, strides[0], b.shape, strides[1], item):
        return False
    fa, fb = ctx.fixed.get(a.index), ctx.fixed.get(b.index)
    if fa is not None and fb is not None and np.shares_memory(fa, fb):
        return False  # NumPy may give a @ a.T to syrk
    return ctx.buffers[out.index].flags.c_contiguous


# -- one segment ---------------------------------------------------------------------------

class _Args:
    """The segment function's arguments: fixed arrays, and arrays read at each call."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.fixed = []  # (slot, array)
        self.dynamic = []  # (slot, register index, reshape or None)
        self.slots = {}  # key -> slot name
        self.checked = []  # slots of arrays read at each call that a product reads
        self.addresses = []  # (position among the fixed arguments, C function's name)

    def number(self, value):
        """An integer argument (a loop's extent): the source names no shape, so every batch
        size of a program runs the same compiled segment."""
        name = f"n{len(self.slots)}"
        self.slots[("number", len(self.slots))] = name
        self.fixed.append((name, value))
        return name

    def block(self, size):
        """An int64 array argument of its own (a split loop's block, see :func:`_split`)."""
        name = f"b{len(self.slots)}"
        self.slots[("block", len(self.slots))] = name
        self.fixed.append((name, np.zeros(size, np.int64)))
        return name

    def address(self, function):
        """An integer argument: the address of the segment module's C function
        ``function``, filled in once the module is compiled (:attr:`addresses`)."""
        name = self.number(0)
        self.addresses.append((len(self.fixed) - 1, function))
        return name

    def get(self, v, shape=None):
        key = (v.index, shape)
        name = self.slots.get(key)
        if name is None:
            name = self.slots[key] = f"a{len(self.slots)}"
            array = self.ctx.fixed.get(v.index)
            if array is not None:
                self.fixed.append((name, array if shape is None else array.reshape(shape)))
            else:
                self.dynamic.append((name, v.index, shape))
        return name


def _segment_step(ops, python, ctx, variables):
    args = _Args(ctx)
    loops, lines, stored = {}, [], []  # loops: the functions, one per distinct source
    for op in ops:
        if op.is_update and not isinstance(op.prim, Loop):
            target, value = op.inputs
            size = int(np.prod(target.shape))
            t = args.get(target, (size,))
            x = args.get(value, (int(np.prod(value.shape)),))
            at = "[k]" if tuple(value.shape) == tuple(target.shape) else "[0]"
            lines += [f"for k in range({t}.size):",
                      f"    {t}[k] = {op.prim.element_store(f'{t}[k]', f'{x}{at}')}"]
            stored.append(target.index)
        elif isinstance(op.prim, Loop) or op.prim.elementwise:
            pieces, call = _loop_call(op, ctx, args)
            loops.update(pieces)
            lines.append(call)
            if isinstance(op.prim, Loop):
                stored += [var.index for var, _, _ in op.prim.stores]
        else:  # a product
            a, b = op.inputs
            names = [args.get(a), args.get(b), args.get(op.output)]
            for v, name in zip((a, b), names):
                if v.index not in ctx.fixed:
                    args.checked.append(name)
            lines.append(f"_product({', '.join(names)})")
    params = [name for name, _ in args.fixed] + [name for name, _, _ in args.dynamic]
    guard = [f"if not _usable({name}):\n        return False" for name in dict.fromkeys(
        args.checked)]
    source = "\n".join([_HEADER] + list(loops.values()) + [
        f"@numba.njit({_OPTIONS})", f"def segment({', '.join(params)}):"] +
        [f"    {line}" for line in guard + lines] + ["    return True", ""])
    fn = _compile(source)
    values = [array for _, array in args.fixed] + [None] * len(args.dynamic)
    for position, function in args.addresses:
        values[position] = fn.py_func.__globals__[function].address
    # The arrays read at each call: (argument position, register, view), and the array each
    # view was made from (made again only when the register holds another array).
    dynamic = [(len(args.fixed) + n, index, shape) for n, (_, index, shape) in
               enumerate(args.dynamic)]
    sources = [None] * len(values)
    stored = list(dict.fromkeys(stored))

    def step(r):
        for slot, index, shape in dynamic:
            array = r[index]
            if array is not sources[slot]:
                sources[slot] = array
                values[slot] = array if shape is None else array.reshape(shape)
        if enabled() and fn(*values):
            if stored:
                mark_all_changed([variables[index] for index in stored])
        else:  # turned off since, or an array without the layout the segment was written for
            python(r)
    step.native_segment = fn
    return step


_HEADER = """# Generated by chainrule.compiler.native: one segment of a compiled program.
import numpy as np
import numba
from chainrule.primitives._blas_numba import (_product, _usable, share, f32_at, f64_at, b1_at,
                                              i64_at)

f32, f64, b1 = np.float32, np.float64, np.bool_
"""


def _loop_call(op, ctx, args):
    """``(functions, the lines that call them)`` for a fused loop or a single element-wise
    op (as a loop of one), with its arrays as the segment's arguments; ``functions`` maps a
    name to its source. Loops of the same source (an optimizer's update of each weight)
    share one function. A large loop without sums (:func:`_parts`) also gets a function of
    the elements (or rows) ``lo..hi-1`` and a C function running one of its ranges, and is
    split into those ranges (:func:`~chainrule.primitives._blas_numba.share`)."""
    loop = op.prim if isinstance(op.prim, Loop) else _single(op)
    buffers = ctx.buffers
    out_buffers = [buffers[v.index] for v in loop.outputs]
    aliases = {}
    for k, buf in enumerate(out_buffers):
        for n, v in enumerate(loop.inputs):
            if buffers.get(v.index) is buf and n not in aliases.values():
                aliases[k] = n
    source, layouts = codegen.loop_source(loop, aliases)
    shape = loop.shape
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    cols = shape[-1]
    views = {"flat": (rows * cols,), "full": (rows, cols), "row": (cols,), "column": (rows,),
             "scalar": (1,), "sum": (cols,)}
    names = [args.get(v, views[layout]) for v, layout in zip(loop.inputs, layouts)]
    outs = [v for k, v in enumerate(loop.outputs) if k not in aliases]
    names += [args.get(v, views[layout]) for v, layout in zip(outs, layouts[len(loop.inputs):])]
    assert source.startswith(codegen.HEADER)
    body = source[len(codegen.HEADER):]
    name = f"loop_{hashlib.sha256(body.encode()).hexdigest()[:12]}"
    body = body.replace("def run(", f"def {name}(", 1)
    sizes = [args.number(rows), args.number(cols)]
    call = f"{name}({', '.join(sizes + names)})"
    parts = _parts(loop, rows, cols)
    if parts < 2:
        return {name: body}, call
    arrays = list(loop.inputs) + outs
    ranged, _ = codegen.loop_source(loop, aliases, ranged=True)
    ranged = ranged[len(codegen.HEADER):].replace("def run(", f"def {name}_r(", 1)
    total = "rows * cols" if _flat(loop) else "rows"
    extents = {"flat": "(rows * cols,)", "full": "(rows, cols)", "row": "(cols,)",
               "column": "(rows,)", "scalar": "(1,)", "sum": "(cols,)"}
    views = [f"numba.carray({_AT[np.dtype(v.dtype)]}(b[{3 + n}]), {extents[layout]})"
             for n, (v, layout) in enumerate(zip(arrays, layouts))]
    part = "\n".join([
        f"@numba.cfunc('void(int64, int64)', cache=CACHE, error_model='numpy')",
        f"def {name}_part(block, part):",
        f"    b = numba.carray(i64_at(block), ({3 + len(arrays)},))",
        "    rows, cols, parts = b[0], b[1], b[2]",
        f"    total = {total}",
        f"    {name}_r(total * part // parts, total * (part + 1) // parts, rows, cols, "
        f"{', '.join(views)})", ""])
    block = args.block(3 + len(arrays))
    address = args.address(f"{name}_part")
    contiguous = " and ".join(f"{n}.flags.c_contiguous" for n in names)
    fill = [f"{block}[{n}] = {value}" for n, value in enumerate(sizes + [str(parts)])]
    fill += [f"{block}[{3 + n}] = {array}.ctypes.data" for n, array in enumerate(names)]
    # (the segment indents its first line)
    split = "\n    ".join([f"if {contiguous}:"] + [f"    {line}" for line in fill] + [
        f"    share({address}, {block}.ctypes.data, {parts})", "else:", f"    {call}"])
    return {name: body, f"{name}_part": ranged + "\n" + part}, split


# With SPLIT_MIN_PART set (a number of elements), a loop of at least twice that many
# elements, without sums, is split into ranges of at least that many elements (at most
# SPLIT_MAX_PARTS of them, from its shape alone), shared between the calling thread and the
# slab pool's idle workers (_blas_numba.share). Off by default: on a busy machine a worker
# holding a range is often preempted, and the caller then waits for it, which cost more
# than the split of a memory-bound loop gains (bench/README.md, 2026-12-08).
SPLIT_MIN_PART = None
SPLIT_MAX_PARTS = 8
_AT = {np.dtype(np.float32): "f32_at", np.dtype(np.float64): "f64_at",
       np.dtype(np.bool_): "b1_at"}


def _parts(loop, rows, cols):
    """How many ranges ``loop`` is split into (1: not split)."""
    if SPLIT_MIN_PART is None or loop.sums or any(
            np.dtype(v.dtype) not in _AT for v in list(loop.inputs) + list(loop.outputs)):
        return 1
    parts = min(SPLIT_MAX_PARTS, rows * cols // SPLIT_MIN_PART)
    return parts if _flat(loop) else min(parts, rows)


def _flat(loop):
    """Whether codegen writes ``loop`` as one loop over its flat elements (else over rows
    and columns)."""
    return not loop.sums and all(pattern(v.shape, loop.shape) in ("full", "scalar")
                                 for v in loop.inputs)


def _single(op):
    loop = Loop(op.output.shape)
    loop.body = [op]
    loop.results = {op.output.index: op.output}
    seen, inputs = set(), []
    for v in op.inputs:
        if v.index not in seen:
            seen.add(v.index)
            inputs.append(v)
    loop.inputs, loop.outputs = inputs, [op.output]
    return loop


# The modules whose numba functions a segment calls (and whose constants those functions
# compile in). numba's on-disk cache of a segment checks the segment's own file only, never
# its callees: a cache written by another chainrule (an upgrade, another checkout sharing
# CHAINRULE_HOME) would run the callees' old machine code. So a segment's key includes a
# fingerprint of these modules' source text and of the compiler's versions.
CALLEE_MODULES = ("chainrule.primitives._blas_numba", "chainrule.primitives.blas")
_fingerprint = {}


def _fingerprint_inputs():
    """``[(name, bytes)]``: the source text of each module of :data:`CALLEE_MODULES`, and the
    versions of numba and llvmlite."""
    import importlib.util

    import llvmlite
    import numba

    inputs = []
    for name in CALLEE_MODULES:
        with open(importlib.util.find_spec(name).origin, "rb") as f:
            inputs.append((name, f.read()))
    inputs.append(("numba", numba.__version__.encode()))
    inputs.append(("llvmlite", llvmlite.__version__.encode()))
    return inputs


def callee_fingerprint():
    """The sha256 (hex) of what a segment calls (:func:`_fingerprint_inputs`), computed once
    per process."""
    with _lock:
        if "value" not in _fingerprint:
            digest = hashlib.sha256()
            for name, data in _fingerprint_inputs():
                for part in (name.encode(), data):
                    digest.update(len(part).to_bytes(8, "little"))
                    digest.update(part)
            _fingerprint["value"] = digest.hexdigest()
        return _fingerprint["value"]


def segment_key(source):
    """The key of a segment's module (its file name in the kernels folder, so its numba
    cache): the hash of its source and of :func:`callee_fingerprint`."""
    digest = hashlib.sha256(callee_fingerprint().encode())
    digest.update(source.encode())
    return digest.hexdigest()[:20]


def _compile(source):
    key = segment_key(source)
    with _lock:
        fn = _compiled.get(key)
        if fn is None:
            fn = _compiled[key] = codegen.load_source(source, key, "segment", "segment")
    return fn
