"""Buffer planning: every op that writes into a buffer gets one, reused by liveness.

An op is *planned* when it can write its result into a given array: a primitive with a
``kernel`` in the table, or a fused loop. A buffer goes back to a pool after the last op
that reads its value *or any view of it* (the results of unplanned ops, such as
``reshape`` or ``transpose``, may be views of their inputs, so they count as uses of the
buffers they may look into); the next op of the same shape and dtype takes it from there.
An element-wise op, or a loop, writes over an input of its own shape and dtype that dies
with it, so a chain such as ``rho * v + (1 - rho) * g * g`` needs no temporaries. Program
outputs keep their buffers.
"""

import numpy as np

from ..primitives import Primitive
from .fusion import pattern
from .program import Loop

__all__ = ["plan_buffers", "is_planned"]

_PLANNED_KINDS = "fciub"


def is_planned(op):
    if isinstance(op.prim, Loop):
        return True
    if op.is_update:
        return False
    return isinstance(op.prim, Primitive) and op.prim.kernel is not None and \
        all(out.dtype.kind in _PLANNED_KINDS for out in op.outputs)


def _overwritable(op):
    """The inputs whose buffer the op's first output may take over (when they die there)."""
    if isinstance(op.prim, Loop):
        return [v for v in op.inputs if pattern(v.shape, op.prim.shape) == "full"]
    return list(op.inputs) if op.prim.in_place else []


def plan_buffers(program):
    """``{value index: ndarray}`` for every planned op's outputs; several values may share
    one array."""
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
        if is_planned(op):
            for out in op.outputs:
                roots[out.index] = (out.index,)
                end[out.index] = position
        elif not op.is_update:
            out = op.output.index
            roots[out] = tuple({r for v in op.inputs for r in roots.get(v.index, ())})
    for index, owners in roots.items():
        for owner in owners:
            end[owner] = max(end[owner], last_use.get(index, -1))

    buffers, live, pool, free_at = {}, {}, {}, {}
    for owner, stop in end.items():
        free_at.setdefault(stop, []).append(owner)
    for position, op in enumerate(ops):
        if is_planned(op):
            taken = set()
            for k, out in enumerate(op.outputs):
                key = (out.shape, out.dtype)
                buffer = None
                if not (isinstance(op.prim, Loop) and k >= len(op.outputs) - len(op.prim.sums)):
                    for v in _overwritable(op):  # write over an input that dies here
                        if v.index in live and v.index not in taken and \
                                end[v.index] == position and (v.shape, v.dtype) == key:
                            buffer = live.pop(v.index)
                            taken.add(v.index)
                            break
                if buffer is None:
                    spare = pool.get(key)
                    buffer = spare.pop() if spare else np.empty(out.shape, out.dtype)
                live[out.index] = buffer
                buffers[out.index] = buffer
                if not isinstance(op.prim, Loop):
                    break  # a primitive's kernel writes one result
        for owner in free_at.get(position, ()):
            buffer = live.pop(owner, None)
            if buffer is not None:
                pool.setdefault((buffer.shape, buffer.dtype), []).append(buffer)
    return buffers
