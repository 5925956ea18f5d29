"""All-reduce as ops on Tensors: one tensor, or a list packed into one flat buffer.

These go through :func:`chainrule.primitives.bind` like every op, so a GradientTape records
them and :func:`chainrule.function` captures them: a captured training step shows its
``concat`` → ``all_reduce`` → slices, and the compiled executor runs them.
"""

import numpy as np

from .. import ops
from ..primitives.collectives import all_reduce as _all_reduce_prim
from ..primitives.primitive import bind
from .communicator import ReduceOp, _check_op, get_communicator

__all__ = ["all_reduce", "all_reduce_packed", "normalize_op"]


def normalize_op(op):
    """``"sum"``/``"mean"`` from a ReduceOp, a string in any case (``"MEAN"``) or TF's
    ``tf.distribute.ReduceOp.MEAN`` spelled as ours."""
    name = str(getattr(op, "value", op)).lower()
    if name.startswith("reduceop."):
        name = name[len("reduceop."):]
    _check_op(name)
    return name


def all_reduce(x, op=ReduceOp.SUM, communicator=None):
    """``x`` combined over every rank (every rank gets the result): ``op`` is ``"sum"`` or
    ``"mean"``. Differentiable; on one process, ``x`` itself."""
    communicator = get_communicator() if communicator is None else communicator
    x = ops.convert_to_tensor(x)
    return bind(_all_reduce_prim, (x,), {"communicator": communicator, "op": normalize_op(op)})


def all_reduce_packed(values, op=ReduceOp.SUM, communicator=None, scale=None):
    """A list of tensors all-reduced with one collective per dtype: they are flattened and
    joined into one buffer, reduced, and cut back into tensors of their shapes (views).

    Small tensors cost one message latency each when reduced one by one; one buffer pays it
    once. ``scale`` (a scalar tensor or Variable) multiplies this rank's buffer first: how
    a rank weighs its gradient by its share of the batch. ``None`` entries stay ``None``.
    """
    communicator = get_communicator() if communicator is None else communicator
    op = normalize_op(op)
    tensors = [None if v is None else ops.convert_to_tensor(v) for v in values]
    out = list(tensors)
    by_dtype = {}
    for i, t in enumerate(tensors):
        if t is not None:
            by_dtype.setdefault(t.dtype, []).append(i)
    for dtype, members in by_dtype.items():
        flat = [ops.reshape(tensors[i], (-1,)) for i in members]
        buffer = ops.concat(flat, 0) if len(flat) > 1 else flat[0]
        reduce_op = op
        if scale is not None:
            factor = ops.cast(scale, dtype) if scale.dtype != dtype else scale
            if op == ReduceOp.MEAN and communicator.size > 1:
                # the mean's division joins the scaling pass (exact for 2, 4, 8... ranks)
                factor, reduce_op = factor / communicator.size, ReduceOp.SUM
            buffer = buffer * factor
        buffer = bind(_all_reduce_prim, (buffer,), {"communicator": communicator,
                                                     "op": reduce_op})
        start = 0
        for i in members:
            t = tensors[i]
            size = int(np.prod(t.shape, dtype=np.int64))
            piece = buffer[start:start + size] if len(members) > 1 else buffer
            out[i] = ops.reshape(piece, t.shape)
            start += size
    return out
