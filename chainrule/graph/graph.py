"""Graph: a computation as plain data.

A :class:`Graph` is a list of :class:`Node` s in execution order (already a topological
order) over :class:`Value` s. A value is one tensor: an *input* (an argument, or a source a
tape watched), a captured *variable* (read live each time the graph runs, so updated
weights are seen), a captured *constant*, or the *result* of a node. A node is one call of
a primitive from :mod:`chainrule.primitives.table` (or an in-place Variable update).

This module is the data and nothing above it: what reads, runs and prunes a graph. The
rest of :mod:`chainrule.graph` is functions over a Graph, each in the module that does it:
making one from a tape's record (:func:`~chainrule.graph.from_tape`) or by tracing a Python
function (:func:`chainrule.function`), both recorders over the same primitive calls;
pictures (:func:`~chainrule.graph.to_dot`, :func:`~chainrule.graph.draw`); derivatives
(:func:`~chainrule.graph.gradients`, :func:`~chainrule.graph.gradient_graph`). Compiling one
is :func:`chainrule.compiler.compile`, a layer above.

>>> import chainrule as cr
>>> w = cr.Variable(3.0, name="w")
>>> x = cr.constant(2.0)
>>> with cr.GradientTape() as tape:
...     y = x * w + 1.0
>>> g = cr.graph.from_tape(tape, names={"x": x, "y": y})
>>> print(g)  # doctest: +NORMALIZE_WHITESPACE
graph tape(w):
  %0 = constant 'x' 2  # () float32
  %1 = variable 'w'  # () float32
  %3 = constant 1  # () float32
  %2 = multiply(%0, %1)  # () float32
  %4 = add(%2, %3)  # () float32  y
  return %4
>>> [node.prim.name for node in g]
['multiply', 'add']
"""

from typing import NamedTuple

import numpy as np

from ..primitives.primitive import bind
from ..tensor import Tensor
from ..variable import Variable, _VariableSlice

INPUT, VARIABLE, CONSTANT, RESULT = "input", "variable", "constant", "result"


class Value:
    """One tensor of a graph.

    Attributes: ``index`` (its ``%n``), ``kind`` (``"input"``, ``"variable"``,
    ``"constant"`` or ``"result"``), ``shape``, ``dtype``, ``name`` (or None), ``example``
    (for the leaves of the graph: an input's value when it was captured, a constant's
    value, a variable's value when a tape recorded it, or its live array in a traced
    function; None for results, which :meth:`Graph.example_values` recomputes),
    ``variable`` (the captured :class:`~chainrule.Variable`, for kind ``"variable"``) and
    ``producer`` (the :class:`Node` that computes it, for kind ``"result"``).
    """

    __slots__ = ("index", "kind", "shape", "dtype", "name", "example", "variable", "producer")

    def __init__(self, index, kind, shape, dtype, name=None, example=None, variable=None):
        self.index, self.kind, self.shape, self.dtype = index, kind, shape, dtype
        self.name, self.example, self.variable, self.producer = name, example, variable, None

    @property
    def ref(self):
        return f"%{self.index}"

    @property
    def label(self):
        """The name if it has one, else ``%n``."""
        return self.name or self.ref

    def __repr__(self):
        return f"<Value {self.ref} {self.kind} {self.label} {self.shape} {self.dtype}>"


class Node:
    """One primitive call: ``output = prim(*inputs, **params)``.

    For an in-place Variable update (``prim`` a :class:`VariableUpdate`), ``inputs`` is
    ``(variable, value)`` and ``output`` is None.
    """

    __slots__ = ("index", "prim", "inputs", "params", "output")

    def __init__(self, index, prim, inputs, params, output):
        self.index, self.prim, self.inputs, self.params, self.output = index, prim, inputs, params, output

    @property
    def is_update(self):
        return self.output is None

    def __str__(self):
        args = ", ".join(v.ref for v in self.inputs)
        params = "".join(f", {k}={_short(p)}" for k, p in self.params.items() if p is not None)
        call = f"{self.prim.name}({args}{params})"
        if self.output is None:
            return call
        out = self.output
        name = f"  {out.name}" if out.name else ""
        return f"{out.ref} = {call}  # {out.shape} {_dtype_name(out.dtype)}{name}"

    def __repr__(self):
        return f"<Node {self}>"


class VariableUpdate:
    """A pseudo-primitive for ``Variable.assign``, ``assign_add`` and ``assign_sub``.

    Updates are effects, not values, so they are not in the primitive table; a graph keeps
    them as nodes so that a captured training step can be replayed with its updates. Any
    object with the same three members is an effect a graph can hold (an optimizer's
    ``apply_gradients`` is one): ``name``, ``apply(*inputs, **params)``, which does it on
    Tensors, Variables or arrays, and ``changes(*inputs, **params)``, the Variables it
    changes (a trace puts them back afterwards).

    What the compiler reads of an update, so that it keeps no list of their names:
    ``element_store``, the new value of one element from the old one (``{0}``) and the
    value (``{1}``), as a one-element form like the table's ``scalar``; and ``ufunc``, the
    NumPy call ``ufunc(old, value, out=old)`` (``np.copyto(old, value)`` for ``assign``)
    that does it to a whole array. Another effect has neither, and is applied as itself.
    """

    __slots__ = ("name", "element_store", "ufunc")
    vjp = None
    why = "it changes a Variable in place; an update is not differentiable"
    _FORMS = {"assign": ("{1}", np.copyto), "assign_add": ("({0} + {1})", np.add),
              "assign_sub": ("({0} - {1})", np.subtract)}

    def __init__(self, name):
        self.name = name
        form, self.ufunc = self._FORMS.get(name, (None, None))
        self.element_store = form.format if form is not None else None

    def apply(self, variable, value, index=None):
        if index is None:
            return getattr(variable, self.name)(value)
        # Same as `variable[index].assign...(value)`, without recording a read of the slice.
        piece = object.__new__(_VariableSlice)
        piece._value, piece._variable, piece._index = variable._value[index], variable, index
        return getattr(piece, self.name)(value)

    def changes(self, variable, value, index=None):
        return [variable]

    def __repr__(self):
        return f"<update {self.name}>"


UPDATES = {name: VariableUpdate(name) for name in ("assign", "assign_add", "assign_sub")}


def _read_bool(tensor):
    return bool(tensor)


def _read_int(tensor):
    return int(tensor)


def _read_float(tensor):
    return float(tensor)


class Guard:
    """A Python decision the traced function took on a tensor's value: ``bool(x)`` (an
    ``if``/``while`` on a tensor), ``int(x)`` or ``float(x)``. The graph holds for inputs
    that give the same answers; :meth:`Graph.run` checks each guard as soon as its value is
    computed (before node ``position``, where the function read it) and raises
    :class:`GuardMismatch` when the answer differs.

    Attributes: ``value`` (the graph value read), ``position`` (the index of the first node
    the function made after the read), ``kind`` (``"bool"``, ``"int"`` or ``"float"``),
    ``expected`` (the answer while tracing) and ``where`` (the user's line, as text).
    """

    __slots__ = ("value", "position", "kind", "expected", "where")
    _READS = {"bool": _read_bool, "int": _read_int, "float": _read_float}

    def __init__(self, value, position, kind, expected, where=""):
        self.value, self.position, self.kind = value, position, kind
        self.expected, self.where = expected, where

    def observe(self, tensor):
        """The answer ``tensor`` gives (read as the function read it: tracers see the read)."""
        return self._READS[self.kind](tensor)

    def holds(self, observed):
        return same_outcome(observed, self.expected)

    def __str__(self):
        return f"guard {self.kind}({self.value.ref}) == {self.expected!r}  # {self.where}"

    def __repr__(self):
        return f"<Guard {self}>"


def same_outcome(a, b):
    """Whether two answers of a guard are the same (NaN is the same as NaN)."""
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


class GuardMismatch(ValueError):
    """A graph with guards was run on inputs that take another path through the
    function's Python (``guard_index``: which guard; ``observed``: the new answer)."""

    def __init__(self, graph_name, guard_index, guard, observed):
        self.guard_index, self.guard, self.observed = guard_index, guard, observed
        super().__init__(
            f"graph '{graph_name}' was traced where {guard.where} read {guard.kind}() of "
            f"{guard.value.label} as {guard.expected!r}; these inputs give {observed!r}, "
            f"so the function's Python takes another path. Trace it again for them "
            f"(chainrule.function does so by itself).")


class NodeDef(NamedTuple):
    """One entry of :meth:`Graph.as_graph_def`."""

    name: str
    op: str
    input: list


class GraphDef(NamedTuple):
    """:meth:`Graph.as_graph_def`'s result: ``node``, the :class:`NodeDef` list."""

    node: list


class Graph:
    """A captured computation: nodes over values, with named inputs and outputs.

    Iterating a graph gives its nodes in execution order; ``str(graph)`` is a text listing
    (one line per value or node, like a small IR). See the module docstring for an example.
    """

    def __init__(self, values, nodes, inputs, outputs, name="graph", guards=()):
        self.values = list(values)
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.name = name
        # Python decisions on tensor values the graph depends on (see Guard), by position.
        self.guards = list(guards)
        self._guards_at = {}
        for i, g in enumerate(self.guards):
            self._guards_at.setdefault(g.position, []).append((i, g))
        last_reader = _last_readers(self)
        # Per node: the primitive, input registers, params, output register, and the
        # results it reads for the last time (so `run` frees them as eager code would).
        self._program = [(n.prim, tuple(v.index for v in n.inputs), n.params,
                          None if n.output is None else n.output.index,
                          tuple({v.index for v in n.inputs
                                 if v.kind == RESULT and last_reader[v.index] == n.index}))
                         for n in self.nodes]
        # What `run` puts in the registers of captured values before the first node.
        self._captures = [(v.index, v.variable if v.kind == VARIABLE else _operand(v.example))
                          for v in self.values if v.kind in (VARIABLE, CONSTANT)]

    # -- reading ---------------------------------------------------------------------------
    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    @property
    def variables(self):
        """The captured Variables, in the order the graph first reads them."""
        return [v.variable for v in self.values if v.kind == VARIABLE]

    @property
    def constants(self):
        return [v for v in self.values if v.kind == CONSTANT]

    def get_operations(self):
        """The nodes, in execution order (TensorFlow's name for them)."""
        return list(self.nodes)

    def as_graph_def(self):
        """The graph as TensorFlow's ``GraphDef`` reads from Python: ``.node``, one
        :class:`NodeDef` per leaf value (input, variable, constant) and per node, each with
        a ``name``, an ``op`` and ``input`` (the names of the values it reads)."""
        names = {}
        defs = []
        for v in self.values:
            if v.kind != RESULT:
                names[v.index] = v.name or f"{v.kind}_{v.index}"
                defs.append(NodeDef(names[v.index], {INPUT: "Placeholder",
                                                     VARIABLE: "VarHandleOp",
                                                     CONSTANT: "Const"}[v.kind], []))
        for node in self.nodes:
            name = f"{node.prim.name}_{node.index}"
            if node.output is not None:
                names[node.output.index] = name
            defs.append(NodeDef(name, node.prim.name, [names[v.index] for v in node.inputs]))
        return GraphDef(defs)

    def __repr__(self):
        return (f"<chainrule.Graph '{self.name}': {len(self.inputs)} inputs, "
                f"{len(self.variables)} variables, {len(self.nodes)} ops, "
                f"{len(self.outputs)} outputs>")

    def __str__(self):
        return self.listing()

    def listing(self):
        """The graph as text: the captured and input values, one line per node, ``return``."""
        header = ", ".join(v.label for v in self.values if v.kind in (INPUT, VARIABLE))
        lines = [f"graph {self.name}({header}):"]
        lines += [f"  {_describe_leaf(v)}" for v in self.values if v.kind != RESULT]
        for node in self.nodes:
            lines += [f"  {g}" for _i, g in self._guards_at.get(node.index, ())]
            lines.append(f"  {node}")
        lines += [f"  {g}" for _i, g in self._guards_at.get(len(self.nodes), ())]
        lines.append("  return " + ", ".join(v.ref for v in self.outputs))
        return "\n".join(lines)

    # -- running ---------------------------------------------------------------------------
    def run(self, *args):
        """Runs the graph again on new inputs and returns the list of outputs (Tensors).

        Every op goes through the normal dispatch, so a GradientTape around the call
        records it; captured Variables are read as they are now.
        """
        if len(args) != len(self.inputs):
            raise TypeError(f"graph '{self.name}' takes {len(self.inputs)} inputs "
                            f"({', '.join(v.label for v in self.inputs)}), got {len(args)}")
        return self.replay([self._check_input(v, arg) for v, arg in zip(self.inputs, args)])

    __call__ = run

    def replay(self, tensors):
        """:meth:`run` on Tensors whose shapes are not checked against the inputs': the
        same ops, params and captures on inputs of another batch size (for a function
        traced with ``reduce_retracing``, whose graph does not depend on it)."""
        env = [None] * len(self.values)
        for v, tensor in zip(self.inputs, tensors):
            env[v.index] = tensor
        for index, operand in self._captures:
            env[index] = operand
        guards_at = self._guards_at
        for n, (prim, input_indices, params, out, dead) in enumerate(self._program):
            if guards_at and n in guards_at:
                self._check_guards(guards_at[n], env)
            if out is None:
                prim.apply(*[env[i] for i in input_indices], **params)
            else:
                env[out] = bind(prim, tuple(env[i] for i in input_indices), params)
            for i in dead:  # as in eager code, an intermediate is freed after its last use
                env[i] = None
        if guards_at and len(self._program) in guards_at:
            self._check_guards(guards_at[len(self._program)], env)
        return [env[v.index] for v in self.outputs]

    def _check_guards(self, guards, env):
        for i, guard in guards:
            observed = guard.observe(env[guard.value.index])
            if not guard.holds(observed):
                raise GuardMismatch(self.name, i, guard, observed)

    def _check_input(self, value, arg):
        tensor = arg
        if not isinstance(arg, Tensor):
            array = arg if isinstance(arg, np.ndarray) else np.asarray(arg, dtype=value.dtype)
            tensor = Tensor._wrap(array)
        if tensor.shape != value.shape or tensor.dtype != value.dtype:
            raise ValueError(f"graph '{self.name}' input {value.ref} ({value.label}) expects "
                             f"shape {value.shape} and dtype {_dtype_name(value.dtype)}; got "
                             f"{tensor.shape} {_dtype_name(tensor.dtype)}. Trace it again for "
                             f"new shapes (chainrule.function does so by itself).")
        return tensor

    # -- values at the captured leaves ----------------------------------------------------
    def example_values(self):
        """Every value of the graph at the captured leaf values: ``{Value: ndarray}``.

        Computed afresh by the primitives' forward functions, with Variable updates skipped,
        so reading them changes nothing (pictures and gradients at the captured values use this)."""
        arrays = {v.index: np.asarray(v.variable._value if v.example is None else v.example)
                  for v in self.values if v.kind != RESULT}
        for node in self.nodes:
            if not node.is_update:
                arrays[node.output.index] = node.prim.forward(
                    *[arrays[v.index] for v in node.inputs], **node.params)
        return {v: arrays[v.index] for v in self.values}

    # -- transforming ----------------------------------------------------------------------
    def pruned(self):
        """The graph without the nodes the outputs do not need (updates are always kept)."""
        if self.guards:
            raise ValueError(f"graph '{self.name}' has guards (Python decisions on tensor "
                             f"values); pruning would lose them")
        needed = {v.index for v in self.outputs}
        keep = []
        for node in reversed(self.nodes):
            if node.is_update or (node.output.index in needed):
                keep.append(node)
                needed.update(v.index for v in node.inputs)
        keep.reverse()
        return _renumbered(self, keep, needed)


def _last_readers(graph):
    """``{value index: index of the last node that reads it}``; outputs are read "after"."""
    last = {}
    for node in graph.nodes:
        for v in node.inputs:
            last[v.index] = node.index
    for v in graph.outputs:
        last[v.index] = len(graph.nodes)
    for g in graph.guards:  # read just before node `position`, so freed after it at the soonest
        last[g.value.index] = max(last.get(g.value.index, -1), g.position)
    return last


def _renumbered(graph, nodes, needed):
    """A copy of ``graph`` with only ``nodes`` and the values they touch, numbered afresh."""
    keep_values = [v for v in graph.values if v.index in needed
                   or v.kind == INPUT or any(v in n.inputs for n in nodes if n.is_update)]
    new = {}
    for v in keep_values:
        copy = Value(len(new), v.kind, v.shape, v.dtype, v.name, v.example, v.variable)
        new[v.index] = copy
    new_nodes = []
    for n in nodes:
        out = None if n.output is None else new[n.output.index]
        node = Node(len(new_nodes), n.prim, tuple(new[v.index] for v in n.inputs), n.params, out)
        if out is not None:
            out.producer = node
        new_nodes.append(node)
    return Graph(list(new.values()), new_nodes, [new[v.index] for v in graph.inputs],
                 [new[v.index] for v in graph.outputs], graph.name)


def _describe_leaf(v):
    name = f" '{v.name}'" if v.name else ""
    if v.kind == CONSTANT:
        return f"{v.ref} = constant{name} {_short(v.example)}  # {v.shape} {_dtype_name(v.dtype)}"
    return f"{v.ref} = {v.kind}{name}  # {v.shape} {_dtype_name(v.dtype)}"


def _short(x, max_items=4):
    """A value as short text: numbers in full, arrays as their first few entries."""
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        a = np.asarray(x)
        if a.size == 1:
            return format_number(a.reshape(()).item())
        items = ", ".join(format_number(i) for i in a.ravel()[:max_items].tolist())
        return f"[{items}{', ...' if a.size > max_items else ''}]"
    if isinstance(x, float):
        return format_number(x)
    if isinstance(x, tuple) and any(isinstance(i, np.ndarray) for i in x):
        return "(" + ", ".join(_short(i) for i in x) + ")"
    if isinstance(x, np.dtype):
        return x.name
    return repr(x)


def format_number(x):
    """``6.0`` as ``6``, ``0.1234567`` as ``0.1235``: the way a person writes numbers."""
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    return f"{x:.4g}"


def _dtype_name(dtype):
    return getattr(dtype, "name", str(dtype))


def _operand(example):
    """A captured constant as an op operand: a Tensor, or a Python number as it was given
    (an update's step size keeps Python's weak-scalar typing on replay)."""
    if isinstance(example, (int, float, complex)) and not isinstance(example, np.generic):
        return example
    return Tensor._wrap(np.asarray(example))
