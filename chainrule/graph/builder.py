"""GraphBuilder: turns a stream of primitive calls on Tensors into a :class:`Graph`.

A tape's record (:func:`from_tape`) and a trace (:mod:`chainrule.graph.capture`) both feed
one of these, call by call; it matches tensors by identity, turns tensors it has not seen
into captures (Variables read live, other tensors frozen as constants) and refuses what a
replay could not repeat.
"""

import numpy as np

from ..tensor import Tensor
from ..variable import Variable, _VariableSlice
from .graph import CONSTANT, INPUT, RESULT, UPDATES, VARIABLE, Graph, Guard, Node, Value


class TraceError(ValueError):
    """A function cannot be captured faithfully (the message says what to change)."""


class GraphBuilder:
    """Turns a stream of primitive calls on Tensors into a :class:`Graph`.

    Tensors are matched by identity; the builder keeps every tensor it has seen alive while
    it builds, so an id can never be reused by a new tensor and mistaken for an old one.
    ``snapshot_variables`` keeps a copy of each captured Variable's value (a tape's graph
    shows the values it recorded); otherwise a variable's example is its live array.
    ``strict`` (for tracing) refuses an op whose static parameters hold the array of a
    traced value, such as ``x[i]`` with ``i`` an argument: replaying would freeze it.
    """

    def __init__(self, names=None, snapshot_variables=False, strict=False):
        self.values, self.nodes, self.inputs = [], [], []
        self._snapshot = snapshot_variables
        self._traced_arrays = {} if strict else None  # id(array) -> Value, inputs and results
        self._by_id = {}
        self._alive = []
        self.guards = []
        self._names = {}
        for name, t in (names or {}).items():
            if isinstance(t, Tensor) and not name.startswith("_"):
                self._names.setdefault(id(t), name)

    def _new(self, tensor, kind, name=None, example=None, variable=None):
        if name is None:
            name = self._names.get(id(tensor))
            if name is None and isinstance(tensor, Variable):
                name = tensor.name
        v = Value(len(self.values), kind, tuple(tensor.shape), tensor.dtype, name, example, variable)
        self.values.append(v)
        self._by_id[id(tensor)] = v
        self._alive.append(tensor)
        return v

    def add_input(self, tensor, name=None):
        v = self._new(tensor, INPUT, name, tensor._value)
        if self._traced_arrays is not None:
            self._traced_arrays[id(tensor._value)] = v
        if isinstance(tensor, Variable):
            v.variable = tensor
        self.inputs.append(v)
        return v

    def value_of(self, tensor):
        """The value for ``tensor``; one seen for the first time is a capture."""
        v = self._by_id.get(id(tensor))
        if v is not None:
            return v
        if isinstance(tensor, _VariableSlice):
            tensor = Tensor._wrap(tensor._value.copy())
        if isinstance(tensor, Variable):
            example = tensor._value.copy() if self._snapshot else tensor._value
            return self._new(tensor, VARIABLE, example=example, variable=tensor)
        if isinstance(tensor, Tensor):
            if self._traced_arrays is not None:
                self._refuse_view_of_traced(tensor._value)
            return self._new(tensor, CONSTANT, example=tensor._value)
        return self._constant_scalar(tensor)

    def _refuse_view_of_traced(self, array):
        # A tensor made by wrapping a view of a traced value's array (not by an op) would
        # be frozen as a constant: replaying would reuse the traced call's data.
        base = array.base if isinstance(array, np.ndarray) else None
        while base is not None:
            v = self._traced_arrays.get(id(base))
            if v is not None:
                raise TraceError(
                    f"a tensor read from the array of the traced value {v.label} outside the "
                    f"ops (Tensor(array) of a view of it) would be frozen into the graph; "
                    f"compute it with ops (reshape, cast, getitem) so the graph sees it")
            base = base.base if isinstance(base, np.ndarray) else None

    def _constant_scalar(self, x):
        # A Python number (an update's step size) stays a Python number, so that replaying
        # it combines with tensors exactly as the original call did.
        a = np.asarray(x)
        v = Value(len(self.values), CONSTANT, a.shape, a.dtype, None, x)
        self.values.append(v)
        return v

    def add_node(self, prim, inputs, params, out):
        ins = tuple(self.value_of(x) for x in inputs)
        if self._traced_arrays is not None and params:
            self._refuse_frozen_values(prim, params)
        result = self._new(out, RESULT)
        if self._traced_arrays is not None:
            self._traced_arrays[id(out._value)] = result
        node = Node(len(self.nodes), prim, ins, dict(params), result)
        result.producer = node
        self.nodes.append(node)
        return node

    def _refuse_frozen_values(self, prim, params):
        for p in params.values():
            for item in p if isinstance(p, tuple) else (p,):
                v = self._traced_arrays.get(id(item)) if isinstance(item, np.ndarray) else None
                if v is not None:
                    raise TraceError(
                        f"{prim.name}: a static parameter of this op (an index) is the value of "
                        f"the traced tensor {v.label}; a graph would freeze it at today's "
                        f"values. If it is fixed, capture it from the enclosing scope as a "
                        f"NumPy array instead of passing it in; if it changes, compute with "
                        f"ops that take it as a tensor (one_hot, where, matmul), or run this "
                        f"part eagerly.")

    def add_update(self, kind, variable, value, index=None):
        params = {} if index is None else {"index": index}
        return self.add_effect(UPDATES[kind], (variable, value), params)

    def add_effect(self, effect, inputs, params):
        """A node for an in-place update (see :class:`VariableUpdate`); it has no output."""
        ins = tuple(self.value_of(x) for x in inputs)
        node = Node(len(self.nodes), effect, ins, dict(params), None)
        self.nodes.append(node)
        return node

    def add_guard(self, tensor, kind, expected, where=""):
        """Notes that the function read ``kind()`` of ``tensor`` as ``expected`` here (after
        the nodes made so far): a :class:`Guard` the graph checks when it runs."""
        guard = Guard(self.value_of(tensor), len(self.nodes), kind, expected, where)
        self.guards.append(guard)
        return guard

    def finish(self, outputs, name="graph"):
        outs = [self.value_of(t) for t in outputs]
        return Graph(self.values, self.nodes, self.inputs, outs, name, self.guards)


def from_tape(tape, targets=None, names=None):
    """What ``tape`` (a :class:`~chainrule.GradientTape`) recorded, as a :class:`Graph`.

    Call it before ``tape.gradient()`` on a one-shot tape (which then releases its record),
    or on a ``persistent=True`` tape. ``targets`` (a tensor or a list) limits the graph to
    what they depend on; ``names`` maps names to tensors (``names=locals()`` works) for the
    listing and the pictures. The graph keeps the values the tape saw: a Variable changed
    afterwards does not change the picture of the past.

    >>> import chainrule as cr
    >>> w = cr.Variable(3.0, name="w")
    >>> with cr.GradientTape() as tape:
    ...     y = w * w
    >>> [node.prim.name for node in from_tape(tape, y)]
    ['multiply']
    """
    if tape._records is None:
        raise RuntimeError("from_tape(): this one-shot tape was released by gradient(); call "
                           "from_tape() before gradient(), or use GradientTape(persistent=True)")
    builder = GraphBuilder(names, snapshot_variables=True)
    for t in tape._watched.values():
        if not isinstance(t, Variable):
            builder.add_input(t)
    for prim, inputs, params, out, _needs in tape._records:
        builder.add_node(prim, inputs, params, out)
    if targets is None:  # every result no recorded op reads
        used = {id(x) for _p, inputs, _q, _o, _n in tape._records for x in inputs}
        return builder.finish([rec[3] for rec in tape._records if id(rec[3]) not in used],
                              name="tape")
    targets = list(targets) if isinstance(targets, (list, tuple)) else [targets]
    return builder.finish(targets, name="tape").pruned()
