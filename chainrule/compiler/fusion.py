"""Fusion: chains of element-wise ops become one compiled loop.

The pass walks the program once, in order, and grows *groups* of ops that one loop over the
elements of a shape can compute together:

* an element-wise primitive (one with a ``scalar`` form in the table) joins the group that
  made one of its inputs of the same shape; its other inputs may be of that shape, a row
  vector broadcast along the last axis (a bias), a column ``(rows, 1)`` or a scalar;
* a ``reduce_sum`` over every axis but the last of a member's result (a bias gradient, of a
  dense layer or a convolution) joins as a column sum of its 2-D view, accumulated row after
  row as NumPy adds up those axes (even after the loop stopped growing: it still runs before
  the sum is read);
* an update with an ``element_store`` form (``assign``, ``assign_add``, ``assign_sub``) of a
  member's result to a Variable of the
  loop's shape joins as a store (an optimizer's update: one pass over its state).

A group runs where its last member was. So it stops growing (closes) as soon as anything
outside it reads one of its results, and every group closes at a Variable update it does
not take in. Groups over the same shape that close at the same point (independent chains,
such as an optimizer's separate slot updates) run as one loop. Only results read outside their group (or returned) are written to memory;
the others live in registers. Results equal the ops run one by one: each member rounds to
its result dtype exactly as NumPy's array loop does (see :mod:`.codegen`).
"""

import numpy as np

from ..primitives import Primitive
from .program import Loop, Op

__all__ = ["fuse", "pattern", "FUSED_DTYPES"]

# The dtypes a loop computes in (numba has no float16 arithmetic; integers are left to NumPy).
FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.bool_))


def fuse(ops, keep):
    """The ops with every fusable group replaced by one op of a :class:`Loop`."""
    emitted, open_groups = [], []
    group_of = {}  # value index -> the group whose member made it (sums included)
    stored_in = {}  # variable value index -> the open group that stores to it

    def close(group):
        if group.open:
            group.open = False
            open_groups.remove(group)
            emitted.append(group)
            for index in [i for i, g in stored_in.items() if g is group]:
                del stored_in[index]

    def close_all():
        # Loops that stop growing at the same point may run as one when they cover the same
        # shape: none has been read outside yet, and no one reads what another stores (it
        # would have joined it, or closed it).
        while open_groups:
            first = open_groups[0]
            for other in [g for g in open_groups[1:] if g.shape == first.shape]:
                merge(first, other)
            close(first)

    def close_readers_of(inputs, unless=None):
        # A group runs where its last member is: once anything outside reads what it makes
        # (or a Variable it stores to), it must run before that reader, so it stops growing.
        for v in inputs:
            for g in (group_of.get(v.index), stored_in.get(v.index)):
                if g is not None and g is not unless:
                    close(g)

    def joinable(v, shape):
        """The open loop over ``shape`` that made ``v`` (or stored it to a Variable)."""
        g = group_of.get(v.index) or stored_in.get(v.index)
        if g is None or not g.open or g.shape != shape or v.shape != shape:
            return None
        return g if v.index in g.results or stored_in.get(v.index) is g else None

    def merge(into, other):
        # Both are open and neither has been read outside: one loop can compute both.
        into.body = sorted(into.body + other.body, key=lambda item: order[id(item)])
        into.sums += other.sums
        into.results.update(other.results)
        into.reads |= other.reads
        for index, g in list(group_of.items()):
            if g is other:
                group_of[index] = into
        for index, g in list(stored_in.items()):
            if g is other:
                stored_in[index] = into
        open_groups.remove(other)

    order = {}
    for position, op in enumerate(ops):
        if op.is_update:
            group = _store_group(op, group_of, stored_in)
            variable = op.inputs[0]
            for g in list(open_groups):
                # A loop that read the Variable's old value must run before the update; any
                # loop must, when the update is not one that a loop can take in.
                if group is not None and g is not group and variable.index in g.reads:
                    close(g)
            if group is None:
                close_all()
            if group is not None:
                store = (variable, op.prim, op.inputs[1])
                order[id(store)] = position
                group.body.append(store)
                group.reads.add(variable.index)
                stored_in[variable.index] = group
            else:
                emitted.append(op)
            continue
        if _fusable(op):
            shape = op.output.shape
            groups = []
            for v in op.inputs:
                g = joinable(v, shape)
                if g is not None and g not in groups:
                    groups.append(g)
            reads_a_sum = any(group_of.get(v.index) in groups and
                              v.index not in group_of[v.index].results and
                              stored_in.get(v.index) is None for v in op.inputs)
            if reads_a_sum:
                groups = []  # a column sum is whole only after its loop: start a new one
            group = groups[0] if groups else None
            for other in groups[1:]:
                merge(group, other)
            close_readers_of(op.inputs, unless=group)
            if group is None:
                group = Loop(shape)
                open_groups.append(group)
            order[id(op)] = position
            group.body.append(op)
            group.reads.update(v.index for v in op.inputs)
            group.results[op.output.index] = op.output
            group_of[op.output.index] = group
            continue
        group = _sum_group(op, group_of)
        if group is not None:
            group.sums.append((op.output, op.inputs[0]))
            group_of[op.output.index] = group
            continue
        close_readers_of(op.inputs)
        emitted.append(op)
    close_all()

    readers = {}
    for item in emitted:
        for v in _reads(item):
            readers.setdefault(v.index, set()).add(id(item))
    result = []
    for item in emitted:
        if not isinstance(item, Loop):
            result.append(item)
        elif item.size() < 2 and item.members:
            result.append(item.members[0])  # one op alone: its own kernel does as well
        else:
            _seal(item, readers, keep)
            result.append(Op(item, item.inputs, {}, item.outputs))
    return result


def _reads(item):
    if not isinstance(item, Loop):
        return item.inputs
    inner = set(item.results) | {out.index for out, _ in item.sums}
    seen = [v for op in item.members for v in op.inputs]
    seen += [src for _, src in item.sums]
    seen += [x for var, _, value in item.stores for x in (var, value)]
    return [v for v in seen if v.index not in inner]


def _seal(loop, readers, keep):
    """Fixes the loop's inputs and outputs once the program around it is known."""
    inputs, seen = [], set()
    for v in _reads(loop):
        if v.index not in seen:
            seen.add(v.index)
            inputs.append(v)
    loop.inputs = inputs
    loop.outputs = [op.output for op in loop.members
                    if op.output.index in keep or readers.get(op.output.index, set()) - {id(loop)}]
    loop.outputs += [out for out, _ in loop.sums]


def _fusable(op):
    prim = op.prim
    if not isinstance(prim, Primitive) or prim.scalar is None or prim.stateful:
        return False
    out = op.output
    if out.dtype not in FUSED_DTYPES or not out.shape or 0 in out.shape:
        return False
    return all(v.dtype in FUSED_DTYPES and pattern(v.shape, out.shape) is not None
               for v in op.inputs)


def pattern(shape, full):
    """How a value of ``shape`` is read in a loop over ``full``: ``"full"``, ``"row"`` (one
    value per position of the last axis, a bias), ``"column"`` (one per leading position,
    shape ``(..., 1)``), ``"scalar"``; None when it broadcasts some other way."""
    shape = tuple(shape)
    if shape == full:
        return "full"
    if int(np.prod(shape)) == 1:
        return "scalar"
    lead, last = full[:-1], full[-1]
    padded = (1,) * (len(full) - len(shape)) + shape if len(shape) <= len(full) else None
    if padded is None:
        return None
    if padded[-1] == last and all(d == 1 for d in padded[:-1]):
        return "row"
    if padded[-1] == 1 and padded[:-1] == lead:
        return "column"
    return None


def _sum_group(op, group_of):
    """The group whose result ``op`` sums over every axis but the last (a bias gradient: axis 0
    of a 2-D value, batch and positions of a convolution's), or None. It need not be open: a
    loop that already stopped growing runs before this op, and so its sums are ready before
    anything here reads them."""
    if not getattr(op.prim, "sums", False):
        return None  # (with keepdims, the result (1, ..., cols) is as well a row of cols)
    (source,) = op.inputs
    ndim = len(source.shape)
    if ndim < 2 or op.params.get("axis") != tuple(range(ndim - 1)):
        return None
    group = group_of.get(source.index)
    # NumPy adds up the leading axes of a C-ordered array as those of its 2-D view (rows,
    # cols), row after row, which is what a loop does (a loop runs over that view), except
    # for a single column: that is one contiguous run, which it sums pairwise.
    if group is None or source.index not in group.results or source.shape[-1] < 2 or \
            source.dtype.kind != "f" or op.output.dtype != source.dtype:
        return None
    return group


def _store_group(op, group_of, stored_in):
    """The open group that computes the value a Variable update stores (or stored it to
    another Variable), when the whole Variable is written element by element; else None."""
    if getattr(op.prim, "element_store", None) is None or op.params:
        return None
    variable, value = op.inputs
    group = group_of.get(value.index) or stored_in.get(value.index)
    if group is None or not group.open or not (value.index in group.results or
                                               stored_in.get(value.index) is group):
        return None
    if variable.shape != group.shape or value.shape != group.shape or \
            variable.dtype != value.dtype:
        return None
    return group
