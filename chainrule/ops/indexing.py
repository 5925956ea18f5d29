"""Indexing by coordinates: ``tf.slice``, ``tf.gather_nd``, ``tf.scatter_nd`` and the
``tf.tensor_scatter_nd_*`` updates (TensorFlow's tensor-slicing guide).

All are compositions of table primitives, so they differentiate and trace like any op:
``slice`` is a ``getitem``; the others turn each coordinate tuple (the last axis of
``indices``) into a row number of the tensor with its first ``K`` axes merged, then read
rows with ``take_rows`` or add rows with ``scatter_rows``, whose indices are data: a traced
function reads or writes each call's own coordinates. Coordinates out of range are an
error naming them, checked on the values at hand (while tracing, those of the trace).
"""

import builtins
import math as _math

import numpy as np

from ..primitives import table as P
from ..primitives.primitive import OpIndexError, bind
from ..tensor import Tensor, plain_index
from ._convert import convert_to_tensor, tensor_arg
from .array import constant, getitem, ones_like, reshape, where
from .math import add, greater, subtract
from .reduction import reduce_sum

__all__ = ["gather_nd", "scatter_nd", "slice", "tensor_scatter_nd_add",
           "tensor_scatter_nd_sub", "tensor_scatter_nd_update"]


def slice(input_, begin, size, name=None):  # noqa: A001  (TensorFlow's name)
    """``size[i]`` entries of each axis ``i`` of ``input_`` from ``begin[i]`` on (a size of
    -1 takes the rest of the axis), as ``tf.slice``."""
    x = tensor_arg(input_)
    begin, size = _ints(begin), _ints(size)
    if len(begin) != x.ndim or len(size) != x.ndim:
        raise ValueError(f"slice: begin and size need one entry per axis of the input, which "
                         f"has shape {x.shape}; received begin={begin}, size={size}")
    index = []
    for axis, (b, s, n) in enumerate(zip(begin, size, x.shape)):
        end = n if s == -1 else b + s
        if b < 0 or s < -1 or end > n:
            raise OpIndexError(f"slice: begin {b} and size {s} on axis {axis} reach outside "
                               f"its {n} entries (shape {x.shape})")
        index.append(builtins.slice(b, end))
    return getitem(x, tuple(index))


def gather_nd(params, indices, batch_dims=0, name=None):
    """The entries (or slices) of ``params`` at the coordinates in the last axis of
    ``indices``: shape ``indices.shape[:-1] + params.shape[K:]`` for ``K`` coordinates."""
    if batch_dims:
        raise NotImplementedError("gather_nd: batch_dims other than 0 is not supported")
    x = tensor_arg(params)
    rows, count, k = _rows(indices, x.shape, "gather_nd")
    flat = reshape(x, (count,) + tuple(x.shape[k:]))
    return bind(P.take_rows, (flat, rows))


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of ``shape`` with ``updates`` added at the coordinates in the last axis of
    ``indices`` (coordinates given twice add up, as in TensorFlow)."""
    shape = tuple(int(d) for d in (shape.numpy().tolist() if isinstance(shape, Tensor)
                                   else shape))
    u = tensor_arg(updates)
    rows, count, k = _rows(indices, shape, "scatter_nd")
    expected = tuple(rows.shape) + shape[k:]
    if tuple(u.shape) != expected:
        raise ValueError(f"scatter_nd: updates must have shape {expected} (the indices' "
                         f"{tuple(rows.shape)} followed by shape[{k}:]); received {u.shape}")
    return reshape(bind(P.scatter_rows, (u, rows), {"rows": count}), shape)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """``tensor`` with ``updates`` added at the coordinates of ``indices``."""
    t = tensor_arg(tensor)
    return add(t, scatter_nd(indices, convert_to_tensor(updates, dtype=t.dtype), t.shape))


def tensor_scatter_nd_sub(tensor, indices, updates, name=None):
    """``tensor`` with ``updates`` subtracted at the coordinates of ``indices``."""
    t = tensor_arg(tensor)
    return subtract(t, scatter_nd(indices, convert_to_tensor(updates, dtype=t.dtype), t.shape))


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """``tensor`` with the entries at the coordinates of ``indices`` replaced by
    ``updates``. A coordinate given twice is an error (TensorFlow keeps one of the updates,
    in no set order)."""
    t = tensor_arg(tensor)
    u = convert_to_tensor(updates, dtype=t.dtype)
    hits = scatter_nd(indices, ones_like(u), t.shape)
    if hits._value.size and hits._value.max() > 1:
        where_twice = np.argwhere(hits._value > 1)[0].tolist()
        raise ValueError(f"tensor_scatter_nd_update: the entry at {where_twice} is given "
                         f"{int(hits._value.max())} updates; give each coordinate once")
    return where(greater(hits, 0), scatter_nd(indices, u, t.shape), t)


def _ints(values):
    if isinstance(values, Tensor):
        values = values.numpy()
    return [int(v) for v in np.asarray(plain_index(values)).reshape(-1)]


def _rows(indices, shape, op):
    """Row numbers (a tensor in the indices' shape less the last axis) of the coordinates
    in ``indices`` into ``shape`` with its first K axes merged; their count; and K."""
    idx = indices if isinstance(indices, Tensor) else \
        constant(np.asarray(plain_index(indices)))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers; received dtype {idx.dtype}")
    if idx.ndim == 0:
        raise ValueError(f"{op}: indices need at least one axis (the last holds the "
                         f"coordinates); received a scalar")
    k = int(idx.shape[-1])
    if k > len(shape):
        raise ValueError(f"{op}: each index has {k} coordinates, but the shape {tuple(shape)} "
                         f"has only {len(shape)} axes")
    values, bounds = idx._value, np.asarray(shape[:k], dtype=np.int64)
    if values.size:
        outside = (values < 0) | (values >= bounds)
        if outside.any():
            at = tuple(np.argwhere(outside)[0][:-1])
            raise OpIndexError(f"{op}: index {values[at].tolist()} is out of bounds for the "
                               f"axes {tuple(shape[:k])}")
    strides = [_math.prod(shape[j + 1:k]) for j in range(k)]
    rows = reduce_sum(idx * np.asarray(strides, dtype=idx.dtype), axis=-1)
    return rows, _math.prod(shape[:k]), k
