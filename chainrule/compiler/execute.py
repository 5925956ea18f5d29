"""Compiled replay: run a captured graph on bare arrays with buffers planned once.

Replaying a graph op by op (``Graph.run``) costs what eager execution costs: per op, a
dispatch through ``bind``, a new Tensor, and a freshly allocated result array. A
:class:`CompiledGraph` does the planning once instead:

* **rewritten first** (:mod:`.rewrite`): decompositions lowered, constants folded, repeated
  subexpressions computed once, element-wise chains fused into compiled loops
  (:mod:`.fusion`, :mod:`.codegen`);
* **buffers planned and reused** (:mod:`.plan`);
* **no dispatch, no wrapping**: the program becomes a flat list of small step functions on
  NumPy arrays; registers hold the arrays, indexed by value. Each op runs its primitive's
  ``kernel`` from the table into its buffer, or its ``forward`` when it has none (shape ops,
  indexing), or the fused loop made for it;
* **Variables read live, updated in place**: captured Variables are read from their own
  arrays on every call; updates and other effects (an optimizer's ``apply_gradients``)
  change them in place, in program order.

Results equal eager execution, bit for bit: a kernel computes its primitive's forward with
the same NumPy calls, and a fused loop rounds every step as NumPy does.

The executor works on arrays, so no GradientTape can see it: :func:`chainrule.function`
uses it only when nothing records (see ``jit_compile=True``).

>>> import numpy as np, chainrule as cr
>>> f = cr.function(lambda x: cr.reduce_sum(cr.exp(x) * 2.0 + 1.0))
>>> _ = f(cr.constant([0.0, 1.0]))
>>> run = compile(f.graph)
>>> [float(a) for a in run(np.array([0.0, 0.0], np.float32))]
[6.0]
"""

import numpy as np

from ..graph.graph import CONSTANT, VARIABLE
from ..recording import mark_all_changed, mark_changed
from ..tensor import Tensor
from ..variable import Variable
from . import native
from .codegen import compile_loop
from .plan import plan_buffers
from .program import Loop
from .rewrite import rewrite

__all__ = ["CompiledGraph", "compile"]


def compile(graph, fusion=None):  # noqa: A001 (shadows the builtin in this module only)
    """``graph`` (a :class:`~chainrule.Graph`) as a :class:`CompiledGraph`: the same
    computation on plain arrays, with planned, reused buffers (no tape can see it).
    ``fusion`` (default: when the numba kernels are in use) fuses element-wise chains."""
    return CompiledGraph(graph, fusion)


class CompiledGraph:
    """A graph prepared for fast repeated calls on arrays.

    Call it with one array per graph input; it returns a list with one array per output
    (copies: the planned buffers are overwritten by the next call).

    Calls from several threads at once are safe: the buffers belong to a *plan* that one
    call holds while it runs. Idle plans wait in a pool; a call takes one (a new one is made
    when all are busy, so there are at most as many as calls ever ran at once) and gives it
    back, so a single caller always reuses the same plan.

    Attributes:
        graph: the :class:`~chainrule.Graph` it runs.
        program: the :class:`~chainrule.compiler.program.Program` it runs (``listing()``
            shows it, fused loops with their members).
        buffer_count / buffer_bytes: how many preallocated buffers a plan uses, and their
            size; ``planned_count`` how many values live in them (more values than buffers
            means buffers are reused).
    """

    def __init__(self, graph, fusion=None):
        self.graph = graph
        self.program = program = rewrite(graph, fusion)
        self._inputs = [v.index for v in graph.inputs]
        self._input_specs = [(v.shape, v.dtype) for v in graph.inputs]
        self._outputs = [v.index for v in program.outputs]
        self._idle = [_Plan(self)]  # list.pop and list.append are atomic: no lock needed
        buffers = self._idle[0].buffers
        distinct = {id(b): b for b in buffers.values()}
        self.planned_count = len(buffers)
        self.buffer_count = len(distinct)
        self.buffer_bytes = sum(b.nbytes for b in distinct.values())

    def __call__(self, *args):
        if len(args) != len(self._inputs):
            raise TypeError(f"compiled graph '{self.graph.name}' takes {len(self._inputs)} "
                            f"inputs, got {len(args)}")
        try:
            plan = self._idle.pop()
        except IndexError:  # every plan is in use by another thread's call
            plan = _Plan(self)
        try:
            r = plan.registers
            for index, arg, (shape, dtype) in zip(self._inputs, args, self._input_specs):
                array = arg._value if isinstance(arg, Tensor) else np.asarray(arg)
                if array.shape != shape or array.dtype != dtype:
                    # The buffers were planned for these shapes: anything else needs a new plan.
                    raise ValueError(f"compiled graph '{self.graph.name}' was planned for "
                                     f"inputs of shape {shape} and dtype {dtype}; got "
                                     f"{array.shape} {array.dtype}. Compile a graph traced for "
                                     f"that signature.")
                r[index] = array
                if isinstance(arg, Variable):
                    plan.variable_objects[index] = arg
            for index, variable in plan.variables:
                r[index] = variable._value
            for step in plan.steps:
                step(r)
            return [np.array(r[i], copy=True) for i in self._outputs]
        finally:
            self._idle.append(plan)

    def __repr__(self):
        return (f"<CompiledGraph '{self.graph.name}': {len(self.program.ops)} steps, "
                f"{self.planned_count} planned values in {self.buffer_count} buffers "
                f"({self.buffer_bytes / 2**20:.1f} MiB)>")


class _Plan:
    """What one call of a :class:`CompiledGraph` writes to: the registers, the buffers and
    the steps bound to them."""

    __slots__ = ("registers", "buffers", "steps", "variable_objects", "variables")

    def __init__(self, compiled):
        graph, program = compiled.graph, compiled.program
        self.registers = registers = [None] * program.value_count
        for v in list(graph.values) + program.constants:
            if v.kind == CONSTANT:
                registers[v.index] = v.example
        # The Variable objects that updates write to, by value index (those passed as
        # arguments are filled in at each call).
        values = list(graph.values) + program.variables  # with those of inlined graphs
        self.variable_objects = {v.index: v.variable for v in values if v.variable is not None}
        self.variables = [(v.index, v.variable) for v in values if v.kind == VARIABLE]
        self.buffers = buffers = plan_buffers(program)
        for index, buffer in buffers.items():
            registers[index] = buffer
        if native.enabled():
            self.steps, program.segments = native.segment_steps(
                program, graph, buffers, registers,
                lambda op: _step(op, buffers, self.variable_objects), self.variable_objects)
        else:
            self.steps = [_step(op, buffers, self.variable_objects) for op in program.ops]


def _step(op, buffers, variables):
    """One op of the program as a function of the register list."""
    ins = tuple(v.index for v in op.inputs)
    if isinstance(op.prim, Loop):
        return _loop_step(op, ins, buffers, variables)
    if op.is_update:
        return _effect_step(op, ins, variables)
    out = op.output.index
    buf = buffers.get(out)
    params = op.params
    if buf is None:
        forward = op.prim.forward
        if len(ins) == 1:
            (a,) = ins

            def step(r):
                r[out] = forward(r[a], **params)
        else:
            def step(r):
                r[out] = forward(*[r[i] for i in ins], **params)
        return step
    kernel = op.prim.kernel
    if op.prim.specialize is not None:
        chosen = op.prim.specialize([v.shape for v in op.inputs], [v.dtype for v in op.inputs],
                                    **params)
        if chosen is not None:
            kernel, params = chosen, {}
    if len(ins) == 1 and not params:
        (a,) = ins
        return lambda r: kernel(r[a], out=buf)
    if len(ins) == 2 and not params:
        a, b = ins
        return lambda r: kernel(r[a], r[b], out=buf)
    return lambda r: kernel(*[r[i] for i in ins], out=buf, **params)


def _effect_step(op, ins, variables):
    """An effect (``assign*``, an optimizer step) through its own ``apply``: the same checks
    and arithmetic as eager code. Variables are passed as themselves, other values as
    arrays."""
    direct = _direct_update(op, ins, variables)
    if direct is not None:
        return direct
    effect, params = op.prim, op.params
    is_variable = [v.variable is not None for v in op.inputs]
    if is_variable == [True, False]:
        var_index, value_index = ins  # the common case, assign*: no list to build

        def step(r):
            effect.apply(variables[var_index], r[value_index], **params)
        return step
    pairs = list(zip(ins, is_variable))

    def step(r):
        effect.apply(*[variables[i] if var else r[i] for i, var in pairs], **params)
    return step


def _direct_update(op, ins, variables):
    """``assign*`` of a whole Variable as one NumPy call into its array, when the shapes and
    dtypes the graph records are ones that ``Variable.assign*`` accepts without a word (the
    checks are done once, here); otherwise None, and the update goes through ``apply``."""
    ufunc = getattr(op.prim, "ufunc", None)
    if ufunc is None or op.params.get("index") is not None:
        return None
    target, value = op.inputs
    if target.variable is None or value.variable is not None or \
            np.broadcast_shapes(value.shape, target.shape) != tuple(target.shape) or \
            not np.can_cast(value.dtype, target.dtype, "same_kind"):
        return None
    var_index, value_index = ins
    if ufunc is np.copyto:
        def step(r):
            variable = variables[var_index]
            np.copyto(variable._value, r[value_index])
            mark_changed(variable)
    else:
        def step(r):
            variable = variables[var_index]
            ufunc(variable._value, r[value_index], out=variable._value)
            mark_changed(variable)
    return step


def _loop_step(op, ins, buffers, variables):
    loop = op.prim
    out_buffers = [buffers[v.index] for v in op.outputs]
    aliases = {}  # output position -> input position: the planner gave both one buffer
    for k, buf in enumerate(out_buffers):
        for n, v in enumerate(op.inputs):
            if buffers.get(v.index) is buf and n not in aliases.values():
                aliases[k] = n
    run, layouts = compile_loop(loop, aliases)
    shape = loop.shape
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    cols = shape[-1]
    size = rows * cols
    outputs = [buf for k, buf in enumerate(out_buffers) if k not in aliases]
    views = {"flat": (size,), "full": (rows, cols), "row": (cols,), "column": (rows,),
             "scalar": (1,), "sum": (cols,)}
    in_shapes = [views[layout] for layout in layouts[:len(ins)]]
    out_views = [buf.reshape(views[layout]) for buf, layout in
                 zip(outputs, layouts[len(ins):])]
    stored = [var.index for var, _, _ in loop.stores]
    # Constants never change: their views are made once (a NumPy scalar's reshape is slow).
    fixed = {n: np.asarray(v.example).reshape(s) for n, (v, s) in
             enumerate(zip(op.inputs, in_shapes)) if v.kind == CONSTANT}
    reads = [(n, i, s) for n, (i, s) in enumerate(zip(ins, in_shapes)) if n not in fixed]
    args = [fixed.get(n) for n in range(len(ins))] + out_views
    # The view of each register's array, made again only when the register holds another
    # array (planned buffers and Variables keep theirs: a reshape per call is then waste).
    sources = [None] * len(ins)

    def step(r):
        for n, i, s in reads:
            array = r[i]
            if array is not sources[n]:
                sources[n] = array
                args[n] = array.reshape(s)
        run(rows, cols, *args)
        if stored:
            mark_all_changed([variables[index] for index in stored])
    return step
