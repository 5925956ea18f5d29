"""The program the compiled executor runs, as data: :class:`Op` s in order, some of them a
fused :class:`Loop`, gathered in a :class:`Program`.

:mod:`.rewrite` makes a program from a graph, :mod:`.fusion` groups its element-wise ops
into loops, :mod:`.plan` gives their results buffers, :mod:`.codegen` writes each loop out
and :mod:`.execute` runs the whole.
"""

__all__ = ["Op", "Program", "Loop"]


class Op:
    """One step of a program: ``outputs = prim(*inputs, **params)``."""

    __slots__ = ("prim", "inputs", "params", "outputs")

    def __init__(self, prim, inputs, params, outputs):
        self.prim, self.inputs, self.params = prim, tuple(inputs), params
        self.outputs = tuple(outputs)

    @property
    def is_update(self):
        return not self.outputs

    @property
    def output(self):
        return self.outputs[0] if self.outputs else None

    def __repr__(self):
        outs = ", ".join(v.ref for v in self.outputs)
        return f"<Op {outs} = {self.prim.name}({', '.join(v.ref for v in self.inputs)})>"


class Program:
    """A graph rewritten for the executor: ``ops`` in order, the ``constants`` folding and
    lowering made, the ``variables`` that inlined graphs read or update beyond the graph's
    own, the graph's ``outputs`` (a folded or shared value may stand for one) and
    ``value_count``, the number of registers its values need."""

    def __init__(self, ops, constants, outputs, value_count, variables=()):
        self.ops, self.constants, self.outputs = ops, constants, outputs
        self.value_count = value_count
        self.variables = list(variables)
        self.segments = []  # native segments (lists of op positions), once planned
        self.placed = {}  # op position -> "view" (made once) or "early" (run first)

    def listing(self):
        """The program as text, one op per line (fused loops show their members); the ops
        of each native segment (:mod:`.native`) under a ``native segment`` line, views made
        once and ops moved to the start marked so."""
        lines = []
        starts = {run[0]: (n, run) for n, run in enumerate(self.segments)}
        inside = {p for run in self.segments for p in run}
        for position, op in enumerate(self.ops):
            if position in starts:
                n, run = starts[position]
                lines.append(f"native segment {n} ({len(run)} ops):")
            pad = "  " if position in inside else ""
            outs = ", ".join(v.ref for v in op.outputs)
            call = f"{op.prim.name}({', '.join(v.ref for v in op.inputs)})"
            note = {"view": "  # a view, made once", "early": "  # run first"}.get(
                self.placed.get(position), "")
            lines.append(pad + (f"{outs} = {call}" if outs else call) + note)
            lines += [f"{pad}    {line}" for line in getattr(op.prim, "describe", lambda: [])()]
        return "\n".join(lines)


class Loop:
    """A pseudo-primitive: the ops of one fused group (made by :mod:`.fusion`), computed in
    one pass over ``shape``.

    ``body``: the element-wise ops and the ``(variable, update, value)`` updates (stores), in
    program order; ``sums``: ``(result, source)`` pairs, the column sums of members' results.
    ``inputs``: the values read from outside; ``outputs``: the members' results that are
    written to memory (read outside the group), then the sums.
    """

    vjp = None
    stateful = False
    why = "it exists only inside a compiled program"
    name = "loop"

    def __init__(self, shape):
        self.shape = shape
        self.body, self.sums = [], []
        self.results = {}  # value index -> Value, the members' results
        self.reads = set()  # indices of the values its members and stores read
        self.inputs, self.outputs = [], []
        self.open = True

    @property
    def members(self):
        return [item for item in self.body if not isinstance(item, tuple)]

    @property
    def stores(self):
        return [item for item in self.body if isinstance(item, tuple)]

    def size(self):
        return len(self.body) + len(self.sums)

    def describe(self):
        lines = [f"{op.output.ref} = {op.prim.name}({', '.join(v.ref for v in op.inputs)})"
                 for op in self.members]
        lines += [f"{out.ref} = column_sum({src.ref})" for out, src in self.sums]
        lines += [f"{update.name}({var.ref}, {value.ref})" for var, update, value in self.stores]
        return lines

    def __repr__(self):
        return f"<loop over {self.shape}: {', '.join(op.prim.name for op in self.members)}>"
