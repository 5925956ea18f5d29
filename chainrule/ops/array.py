"""Creating tensors, shapes, indexing, joining, padding and selecting."""

import builtins
import numbers

import numpy as np

from .. import dtypes
from ..primitives import table as P
from ..primitives.primitive import bind
from ..backend import xp
from ..tensor import Tensor, _to_array, plain_index
from ._convert import (binary_args, convert_to_tensor, normalize_axis, same_shape_tensors,
                       tensor_arg)


def constant(value, dtype=None, shape=None, name=None):
    """A tensor from a Python value, NumPy array or tensor.

    Python floats become float32 and ints int32; NumPy arrays keep their dtype. With
    ``shape``, a scalar is filled into that shape, or the values are reshaped to it.
    """
    t = Tensor._wrap(xp.array(_to_array(value, dtype), copy=True))
    if shape is not None:
        shape = tuple(shape)
        v = t._value
        t = Tensor._wrap(xp.full(shape, v, dtype=v.dtype) if v.size == 1 else v.reshape(shape))
    return t


def _shape(shape):
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    return (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(d) for d in shape)


def zeros(shape, dtype=dtypes.float32):
    return Tensor._wrap(xp.zeros(_shape(shape), dtype=dtypes.as_dtype(dtype)))


def ones(shape, dtype=dtypes.float32):
    return Tensor._wrap(xp.ones(_shape(shape), dtype=dtypes.as_dtype(dtype)))


def fill(dims, value):
    v = _to_array(value)
    return Tensor._wrap(xp.full(_shape(dims), v, dtype=v.dtype))


def zeros_like(input, dtype=None):  # noqa: A002
    x = tensor_arg(input)
    return Tensor._wrap(xp.zeros(x.shape, dtype=x.dtype if dtype is None else dtypes.as_dtype(dtype)))


def ones_like(input, dtype=None):  # noqa: A002
    x = tensor_arg(input)
    return Tensor._wrap(xp.ones(x.shape, dtype=x.dtype if dtype is None else dtypes.as_dtype(dtype)))


def eye(num_rows, num_columns=None, dtype=dtypes.float32):
    return Tensor._wrap(xp.eye(num_rows, num_columns, dtype=dtypes.as_dtype(dtype)))


def range(start, limit=None, delta=1, dtype=None):  # noqa: A001
    """Like Python's range, as a tensor (int32 for ints, float32 for floats)."""
    if limit is None:
        start, limit = 0, start
    if dtype is None:
        dtype = dtypes.default_dtype_of([np.zeros((), x.dtype) if isinstance(x, Tensor) else x
                                         for x in (start, limit, delta)])
    # Tensor bounds are read as Python numbers (in a traced function, each read is a guard:
    # the trace holds for these bounds, and others trace anew).
    start, limit, delta = (
        (int(x) if dtypes.is_integer(x.dtype) else float(x)) if isinstance(x, Tensor) else x
        for x in (start, limit, delta))
    return Tensor._wrap(xp.arange(start, limit, delta, dtype=dtypes.as_dtype(dtype)))


def linspace(start, stop, num, dtype=dtypes.float32):
    return Tensor._wrap(xp.linspace(start, stop, int(num), dtype=dtypes.as_dtype(dtype)))


def identity(input):  # noqa: A002
    return tensor_arg(input)


def stop_gradient(input):  # noqa: A002
    """``input`` unchanged, with no gradient flowing back through it."""
    return bind(P.stop_gradient, (tensor_arg(input),))


def shape(input):  # noqa: A002
    return Tensor._wrap(xp.asarray(tensor_arg(input).shape, dtype=dtypes.int32))


def size(input):  # noqa: A002
    return Tensor._wrap(xp.asarray(tensor_arg(input).size, dtype=dtypes.int32))


def rank(input):  # noqa: A002
    return Tensor._wrap(xp.asarray(tensor_arg(input).ndim, dtype=dtypes.int32))


def reshape(tensor, shape):
    """``tensor`` with a new shape of the same number of elements (one entry may be -1)."""
    x = tensor_arg(tensor)
    shape = _shape(shape)
    if shape == x.shape:
        return x
    if -1 in shape:
        known = 1
        for d in shape:
            known *= d if d != -1 else 1
        if shape.count(-1) > 1 or known == 0 or x.size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {shape}")
        shape = tuple(x.size // known if d == -1 else d for d in shape)
    return bind(P.reshape, (x,), {"shape": shape})


def flatten(x):
    """``x`` as shape ``(batch, everything else)``."""
    x = tensor_arg(x)
    return reshape(x, (x.shape[0] if x.ndim else 1, -1))


def transpose(a, perm=None, conjugate=False):
    """Permutes the axes (reverses them when ``perm`` is None)."""
    x = tensor_arg(a)
    perm = tuple(reversed(builtins.range(x.ndim))) if perm is None else \
        tuple(normalize_axis(p, x.ndim, "transpose") for p in perm)
    if sorted(perm) != list(builtins.range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of the {x.ndim} axes "
                         f"of a tensor of shape {x.shape}")
    if perm == tuple(builtins.range(x.ndim)):
        return x
    return bind(P.transpose, (x,), {"perm": perm})


def matrix_transpose(x):
    """Swaps the last two axes."""
    x = tensor_arg(x)
    perm = tuple(builtins.range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return bind(P.transpose, (x,), {"perm": perm})


def expand_dims(input, axis):  # noqa: A002
    x = tensor_arg(input)
    axis = int(axis)
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise ValueError(f"expand_dims: axis {axis} is out of range for a tensor of rank {x.ndim}")
    axis %= x.ndim + 1
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(input, axis=None):  # noqa: A002
    x = tensor_arg(input)
    if axis is None:
        return reshape(x, tuple(d for d in x.shape if d != 1))
    axes = {normalize_axis(a, x.ndim, "squeeze")
            for a in ((axis,) if isinstance(axis, numbers.Integral) else axis)}
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def broadcast_to(input, shape):  # noqa: A002
    x = tensor_arg(input)
    shape = _shape(shape)
    if shape == x.shape:
        return x
    try:
        xp.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to {shape}") from None
    return bind(P.broadcast_to, (x,), {"shape": shape})


def getitem(x, index, _result_type=Tensor):
    """``x[index]`` with NumPy's indexing rules (slices, ints, None, arrays, masks)."""
    x = tensor_arg(x)
    index = plain_index(index)
    if x._value.dtype.kind == "O":  # tf.string: one element is a 0-d array, not the bytes
        items = index if isinstance(index, tuple) else (index,)
        if not any(i is Ellipsis for i in items):
            index = items + (Ellipsis,)
    return bind(P.getitem, (x,), {"index": index}, _result_type)


def gather(params, indices, axis=None, batch_dims=0):
    """Entries of ``params`` at ``indices`` along ``axis`` (default 0)."""
    if batch_dims:
        raise NotImplementedError("gather: batch_dims other than 0 is not supported")
    x = tensor_arg(params)
    axis = normalize_axis(0 if axis is None else axis, x.ndim, "gather")
    if isinstance(indices, Tensor):
        # Indices that are a tensor are an input of the op (the table's take_rows), so a
        # traced function gathers each call's own indices rather than the first call's.
        if indices.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, not {indices.dtype}")
        if axis == 0:
            return bind(P.take_rows, (x, indices))
        front = (axis,) + tuple(a for a in builtins.range(x.ndim) if a != axis)
        taken = bind(P.take_rows, (transpose(x, front), indices))
        k = indices.ndim
        # taken: (*indices, *other axes); put the indices' axes back where `axis` was
        order = (tuple(builtins.range(k, k + axis)) + tuple(builtins.range(k))
                 + tuple(builtins.range(k + axis, taken.ndim)))
        return transpose(taken, order)
    idx = np.asarray(plain_index(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, not {idx.dtype}")
    return getitem(x, (slice(None),) * axis + (idx,))


def concat(values, axis):
    """Joins tensors along an existing axis."""
    if not values:
        raise ValueError("concat: needs at least one tensor")
    xs = [convert_to_tensor(v) for v in values]
    dtype = xs[0].dtype
    for x in xs[1:]:
        if x.dtype != dtype:
            raise TypeError(f"concat: all tensors need one dtype; got {dtype} and {x.dtype}")
    if len(xs) == 1:
        return xs[0]
    axis = normalize_axis(axis, xs[0].ndim, "concat")
    return bind(P.concat, tuple(xs), {"axis": axis})


def stack(values, axis=0):
    """Joins tensors of one shape along a new axis."""
    xs = same_shape_tensors(values, "stack")
    return concat([expand_dims(x, axis) for x in xs], axis)


def unstack(value, axis=0):
    x = tensor_arg(value)
    axis = normalize_axis(axis, x.ndim, "unstack")
    return [getitem(x, (slice(None),) * axis + (i,)) for i in builtins.range(x.shape[axis])]


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor`` padded by ``paddings[i] = [before, after]`` entries along axis ``i``.
    ``mode``: ``"CONSTANT"`` (with ``constant_values``), ``"REFLECT"`` (mirrored, edge
    excluded) or ``"SYMMETRIC"`` (mirrored, edge included)."""
    x = tensor_arg(tensor)
    paddings = np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings)
    if paddings.shape != (x.ndim, 2) or (paddings < 0).any():
        raise ValueError(f"pad: paddings must be {x.ndim} pairs of non-negative ints (one "
                         f"per axis of shape {x.shape}); received {paddings.tolist()}")
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC'; "
                         f"received {mode!r}")
    if mode == "CONSTANT":
        if not paddings.any():
            return x
        value = np.asarray(constant_values.numpy() if isinstance(constant_values, Tensor)
                           else constant_values)
        if value.size != 1:
            raise ValueError(f"pad: constant_values must be one number; received {value!r}")
        return bind(P.pad, (x,), {"paddings": tuple(map(tuple, paddings.tolist())),
                                  "value": np.dtype(x.dtype).type(value.item()).item()})
    for axis, (before, after) in enumerate(paddings.tolist()):
        if not before and not after:
            continue
        n = x.shape[axis]
        edge = 1 if mode == "REFLECT" else 0
        if max(before, after) > n - edge:
            raise ValueError(f"pad: {mode} padding of {max(before, after)} along axis "
                             f"{axis} needs at most {n - edge} (the axis has {n} entries)")
        lead = (slice(None),) * axis
        head = np.arange(before - 1 + edge, edge - 1, -1)
        tail = np.arange(n - 1 - edge, n - 1 - edge - after, -1)
        parts = [getitem(x, lead + (head,)), x, getitem(x, lead + (tail,))]
        x = concat([p for p in parts if p.shape[axis]], axis)
    return x


def where(condition, x=None, y=None):
    """``x`` where ``condition`` holds, else ``y`` (broadcast). With ``condition`` alone:
    the indices of its true entries, shape ``(count, rank)``."""
    cond = tensor_arg(condition)
    if cond.dtype != dtypes.bool_:
        cond = Tensor._wrap(cond._value.astype(bool))
    if x is None and y is None:
        return Tensor._wrap(xp.argwhere(cond._value).astype(dtypes.int64))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    x, y = binary_args("where", x, y)
    return bind(P.where, (cond, x, y))


def one_hot(indices, depth, on_value=None, off_value=None, axis=-1, dtype=dtypes.float32):
    """A ``depth``-long one-hot vector for each index (out-of-range indices give zeros)."""
    idx = tensor_arg(indices)
    if idx.dtype.kind == "f" and xp.all(xp.mod(idx._value, 1) == 0):
        # class labels stored as floats (TensorFlow's guides do: y.astype("float32"))
        idx = Tensor._wrap(idx._value.astype(dtypes.int64))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers (or floats of whole values), "
                        f"not {idx.dtype}" + (" with fractions" if idx.dtype.kind == "f"
                                              else ""))
    if isinstance(depth, Tensor):  # tf.shape(y_pred)[1]: a size, static once traced
        depth = int(depth._value)
    dtype = dtypes.as_dtype(dtype)
    valid = (idx._value >= 0) & (idx._value < depth)
    if not valid.all():
        safe = Tensor._wrap(xp.where(valid, idx._value, 0))
        out = bind(P.one_hot, (safe,), {"depth": int(depth), "dtype": dtype})
        out = Tensor._wrap(out._value * valid[..., None].astype(dtype))
    else:
        out = bind(P.one_hot, (idx,), {"depth": int(depth), "dtype": dtype})
    if on_value is not None or off_value is not None:
        on = 1 if on_value is None else on_value
        off = 0 if off_value is None else off_value
        out = Tensor._wrap(xp.where(out._value > 0, xp.asarray(on, dtype), xp.asarray(off, dtype)))
    if axis != -1 and axis != out.ndim - 1:
        perm = list(builtins.range(out.ndim - 1))
        perm.insert(normalize_axis(axis, out.ndim, "one_hot"), out.ndim - 1)
        out = transpose(out, perm)
    return out
