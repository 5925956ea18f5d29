"""Compiled replay: run a captured graph on bare arrays with buffers planned once.

Replaying a graph op by op (``Graph.run``) costs what eager execution costs: per op, a
dispatch through ``bind``, a new Tensor, and a freshly allocated result array. A
:class:`CompiledGraph` does the planning once instead:

* **no dispatch, no wrapping**: the graph becomes a flat list of small step functions on
  NumPy arrays; registers hold the arrays, indexed by value.
* **rewritten first** (:mod:`chainrule.compiler.rewrite`): constants folded, repeated
  subexpressions computed once, and the chains a dense network's training step is made of
  (bias + relu, relu's gradient with the bias gradient, softmax with cross-entropy and its
  gradient) fused into single-pass kernels (:mod:`chainrule.kernels`).
* **buffers planned and reused**: element-wise ops, matrix products, reductions, softmax and
  ``where`` write into preallocated buffers (``out=``). A liveness pass gives each buffer
  back to a pool when the last value that reads it (or a view of it) is done, so the next op
  of the same shape and dtype reuses it; the arrays of a whole training step are allocated
  once, not on every step.
* **element-wise chains fused in place**: an element-wise op whose input dies with it writes
  its result over that input, so a chain such as ``rho * v + (1 - rho) * g * g`` runs in
  one buffer with no temporaries.
* **Variables read live, updated in place**: captured Variables are read from their own
  arrays on every call; ``assign*`` nodes and other effects (an optimizer's
  ``apply_gradients``) update them in place, in graph order, through their own code.

Results equal eager execution, bit for bit: every step calls the same NumPy function the
primitive's forward calls, only with ``out=``, or a fused kernel doing the same float32
operations in the same order. Ops without a planned kernel (shape ops, indexing,
fused losses) call the primitive's forward, whose result may be a view of its inputs; the
liveness pass counts such views as uses of the buffers they look into.

The executor works on arrays, so no GradientTape can see it: :func:`chainrule.function`
uses it only when nothing records (see ``jit_compile=True``).

>>> import numpy as np, chainrule as cr
>>> f = cr.function(lambda x: cr.reduce_sum(cr.exp(x) * 2.0 + 1.0))
>>> _ = f(cr.constant([0.0, 1.0]))
>>> run = f.graph.compile()
>>> [float(a) for a in run(np.array([0.0, 0.0], np.float32))]
[6.0]
"""

import numpy as np

from ..primitives import kernels
from ..tensor import Tensor
from ..variable import Variable
from ..graph.graph import CONSTANT, VARIABLE
from .rewrite import Fused, rewrite

# Primitives that are one NumPy ufunc call: the forward is exactly `ufunc(*inputs)`.
UFUNCS = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
    "power": np.power, "maximum": np.maximum, "minimum": np.minimum, "negative": np.negative,
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh,
}
# Element-wise primitives whose kernel reads each input element before writing that
# element of the result, so the result may overwrite an input of the same shape. (`where`
# is element-wise too, but its kernel writes `y` before reading `x`: it gets its own buffer.)
IN_PLACE = set(UFUNCS) | {"relu", "sigmoid"}


class CompiledGraph:
    """A graph prepared for fast repeated calls on arrays.

    Call it with one array per graph input; it returns a list with one array per output
    (copies: the planned buffers are overwritten by the next call).

    Attributes:
        graph: the :class:`~chainrule.graph.Graph` it runs.
        program: the :class:`~chainrule.compiler.rewrite.Program` it runs: the graph's nodes after
            constant folding, sharing of common subexpressions and fusion.
        buffer_count / buffer_bytes: how many preallocated buffers the plan uses, and their
            size; ``planned_count`` how many values live in them (more values than buffers
            means buffers are reused).
    """

    def __init__(self, graph):
        self.graph = graph
        self.program = program = rewrite(graph)
        self._registers = [None] * len(graph.values)
        for v in list(graph.values) + program.constants:
            if v.kind == CONSTANT:
                self._registers[v.index] = v.example
        self._inputs = [v.index for v in graph.inputs]
        self._input_specs = [(v.shape, v.dtype) for v in graph.inputs]
        # The Variable objects that update nodes write to, by value index (those passed as
        # arguments are filled in at each call).
        self._variable_objects = {v.index: v.variable for v in graph.values if v.kind == VARIABLE}
        self._variables = [(v.index, v.variable) for v in graph.values if v.kind == VARIABLE]
        self._outputs = [v.index for v in program.outputs]
        buffers = plan_buffers(program)
        for index, buffer in buffers.items():
            self._registers[index] = buffer
        distinct = {id(b): b for b in buffers.values()}
        self.planned_count = len(buffers)
        self.buffer_count = len(distinct)
        self.buffer_bytes = sum(b.nbytes for b in distinct.values())
        self._steps = [_step(op, buffers, self._variable_objects) for op in program.ops]

    def __call__(self, *args):
        if len(args) != len(self._inputs):
            raise TypeError(f"compiled graph '{self.graph.name}' takes {len(self._inputs)} "
                            f"inputs, got {len(args)}")
        r = self._registers
        for index, arg, (shape, dtype) in zip(self._inputs, args, self._input_specs):
            array = arg._value if isinstance(arg, Tensor) else np.asarray(arg)
            if array.shape != shape or array.dtype != dtype:
                # The buffers were planned for these shapes: anything else needs a new plan.
                raise ValueError(f"compiled graph '{self.graph.name}' was planned for inputs of "
                                 f"shape {shape} and dtype {dtype}; got {array.shape} "
                                 f"{array.dtype}. Compile a graph traced for that signature.")
            r[index] = array
            if isinstance(arg, Variable):
                self._variable_objects[index] = arg
        for index, variable in self._variables:
            r[index] = variable._value
        for step in self._steps:
            step(r)
        return [np.array(r[i], copy=True) for i in self._outputs]

    def __repr__(self):
        return (f"<CompiledGraph '{self.graph.name}': {len(self._steps)} steps, "
                f"{self.planned_count} planned values in {self.buffer_count} buffers "
                f"({self.buffer_bytes / 2**20:.1f} MiB)>")


def _is_planned(op):
    if op.is_update:
        return False
    if isinstance(op.prim, Fused):
        return True
    name = op.prim.name
    if op.output.dtype.kind not in "fciub":
        return False
    return name in IN_PLACE or name in ("where", "matmul", "reduce_sum", "reduce_max",
                                         "reduce_min", "softmax")


def _in_place(op):
    return op.prim.in_place if isinstance(op.prim, Fused) else op.prim.name in IN_PLACE


def plan_buffers(program):
    """Gives every planned op's outputs buffers, reusing buffers whose values are dead.

    Returns ``{value index: ndarray}``; several values may share one array. A buffer is free
    after the last op that reads its value *or any view of it* (the outputs of unplanned
    ops are treated as possible views of their inputs). Program outputs keep their buffers.
    """
    ops = program.ops
    last_use = {}
    for position, op in enumerate(ops):
        for v in op.inputs:
            last_use[v.index] = position
    for v in program.outputs:  # read "after" the last op
        last_use[v.index] = len(ops)
    # Which planned buffers (named by the value that owns them) may each value look into?
    roots, end = {}, {}
    for position, op in enumerate(ops):
        if op.is_update:
            continue
        if _is_planned(op):
            for out in op.outputs:
                roots[out.index] = (out.index,)
                end[out.index] = position
        else:
            out = op.output.index
            roots[out] = tuple({r for v in op.inputs for r in roots.get(v.index, ())})
    for index, owners in roots.items():
        for owner in owners:
            end[owner] = max(end[owner], last_use.get(index, -1))

    buffers, live, pool, free_at = {}, {}, {}, {}
    for owner, stop in end.items():
        free_at.setdefault(stop, []).append(owner)
    for position, op in enumerate(ops):
        if _is_planned(op):
            for k, out in enumerate(op.outputs):
                key = (out.shape, out.dtype)
                buffer = None
                if k == 0 and _in_place(op):  # write over an input that dies here
                    # (a fused kernel only over its first: its loops are written for that)
                    for v in op.inputs[:1] if isinstance(op.prim, Fused) else op.inputs:
                        if v.index in live and end[v.index] == position and \
                                (v.shape, v.dtype) == key:
                            buffer = live.pop(v.index)
                            break
                if buffer is None:
                    spare = pool.get(key)
                    buffer = spare.pop() if spare else np.empty(out.shape, out.dtype)
                live[out.index] = buffer
                buffers[out.index] = buffer
        for owner in free_at.get(position, ()):
            buffer = live.pop(owner, None)
            if buffer is not None:
                pool.setdefault((buffer.shape, buffer.dtype), []).append(buffer)
    return buffers


def _step(node, buffers, variables):
    """One op of the program as a function of the register list."""
    ins = tuple(v.index for v in node.inputs)
    if node.is_update:
        return _update_step(node, ins, variables)
    if isinstance(node.prim, Fused):
        return node.prim.step(node, ins, [buffers[v.index] for v in node.outputs])
    out = node.output.index
    name = node.prim.name
    buf = buffers.get(out)
    if buf is None:
        return _generic_step(node.prim.forward, ins, node.params, out)
    if name in UFUNCS:
        f = UFUNCS[name]
        if len(ins) == 2:
            a, b = ins
            return lambda r: f(r[a], r[b], out=buf)
        (a,) = ins
        return lambda r: f(r[a], out=buf)
    kernel = _KERNELS[name]
    return kernel(ins, node.params, buf)


def _generic_step(forward, ins, params, out):
    if len(ins) == 1:
        (a,) = ins

        def step(r):
            r[out] = forward(r[a], **params)
    else:
        def step(r):
            r[out] = forward(*[r[i] for i in ins], **params)
    return step


def _update_step(node, ins, variables):
    """An effect (``assign*``, an optimizer step) through its own ``apply``: the same checks
    and arithmetic as eager code. Variables are passed as themselves, other values as
    arrays."""
    effect, params = node.prim, node.params
    is_variable = [v.variable is not None for v in node.inputs]
    if is_variable == [True, False]:
        var_index, value_index = ins  # the common case, assign*: no list to build

        def step(r):
            effect.apply(variables[var_index], r[value_index], **params)
        return step
    pairs = list(zip(ins, is_variable))

    def step(r):
        effect.apply(*[variables[i] if var else r[i] for i, var in pairs], **params)
    return step


def _relu(ins, params, buf):
    (a,) = ins
    return lambda r: np.maximum(r[a], 0, out=buf)


def _sigmoid(ins, params, buf):
    # The same arithmetic as the primitive's forward, 0.5 * (tanh(0.5 * x) + 1), in place.
    (a,) = ins

    def step(r):
        np.multiply(r[a], 0.5, out=buf)
        np.tanh(buf, out=buf)
        np.add(buf, 1, out=buf)
        np.multiply(buf, 0.5, out=buf)
    return step


def _where(ins, params, buf):
    c, a, b = ins

    def step(r):
        cond, x = r[c], r[a]
        np.copyto(buf, r[b])
        np.copyto(buf, x, where=cond)
    return step


def _matmul(ins, params, buf):
    a, b = ins
    return lambda r: kernels.matmul(r[a], r[b], out=buf)


def _reduction(numpy_reduce):
    def make(ins, params, buf):
        (a,) = ins
        axis, keepdims = params["axis"], params["keepdims"]
        return lambda r: numpy_reduce(r[a], axis=axis, keepdims=keepdims, out=buf)
    return make


def _softmax(ins, params, buf):
    (a,) = ins
    axis = params["axis"]

    def step(r):
        # Array methods: on small arrays np.max's argument handling costs as much as the work.
        x = r[a]
        np.subtract(x, x.max(axis=axis, keepdims=True), out=buf)
        np.exp(buf, out=buf)
        np.divide(buf, buf.sum(axis=axis, keepdims=True), out=buf)
    return step


_KERNELS = {
    "relu": _relu, "sigmoid": _sigmoid, "where": _where, "matmul": _matmul,
    # ufunc.reduce is what np.sum/np.max call, without their argument handling
    "reduce_sum": _reduction(np.add.reduce), "reduce_max": _reduction(np.maximum.reduce),
    "reduce_min": _reduction(np.minimum.reduce), "softmax": _softmax,
}
