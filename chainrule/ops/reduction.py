"""Reductions over axes (sums, extremes, means, products, logical ones, moments), the
indices of extremes, scans, norms, and clipping by norm."""

import builtins
import numbers

import numpy as np

from .. import dtypes
from ..backend import xp
from ..primitives import table as P
from ..primitives.primitive import bind
from ..tensor import Tensor
from ._convert import normalize_axes, normalize_axis, tensor_arg
from .array import concat, getitem, reshape, stop_gradient, transpose, where
from .math import abs, add_n, cast, exp, greater, log, maximum, not_equal, sqrt

__all__ = [
    "reduce_sum", "reduce_max", "reduce_min", "reduce_mean", "reduce_logsumexp", "argmax",
    "argmin", "reduce_prod", "reduce_any", "reduce_all", "count_nonzero", "reduce_variance",
    "reduce_std", "reduce_euclidean_norm", "moments", "cumsum", "cumprod", "norm",
    "global_norm", "l2_normalize", "clip_by_norm", "clip_by_global_norm",
]


# -- the primitive reductions ----------------------------------------------------------------

def _reduce(prim, x, axis, keepdims):
    x = tensor_arg(x)
    return bind(prim, (x,), {"axis": normalize_axes(axis, x.ndim, prim.name),
                             "keepdims": builtins.bool(keepdims)})


def reduce_sum(input_tensor, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    return _reduce(P.reduce_sum, input_tensor, axis, keepdims)


def reduce_max(input_tensor, axis=None, keepdims=False):
    return _reduce(P.reduce_max, input_tensor, axis, keepdims)


def reduce_min(input_tensor, axis=None, keepdims=False):
    return _reduce(P.reduce_min, input_tensor, axis, keepdims)


def reduce_mean(input_tensor, axis=None, keepdims=False):
    """Mean over ``axis``. As in TensorFlow, the mean of an integer tensor is an integer
    (truncated toward zero): cast to float first for the exact mean."""
    x = tensor_arg(input_tensor)
    axes = normalize_axes(axis, x.ndim, "reduce_mean")
    count = x.size if axes is None else _prod(x.shape[a] for a in axes)
    total = _reduce(P.reduce_sum, x, axes, keepdims)
    if x.dtype.kind == "f":
        return total * (1.0 / count) if count else total * xp.nan
    return Tensor._wrap(xp.trunc(total._value / count).astype(x.dtype))


def reduce_logsumexp(input_tensor, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it cannot overflow."""
    x = tensor_arg(input_tensor)
    peak = stop_gradient(reduce_max(x, axis, keepdims=True))
    out = log(reduce_sum(exp(x - peak), axis, keepdims=True)) + peak
    return out if keepdims else _drop_axes(out, normalize_axes(axis, x.ndim, "reduce_logsumexp"))


def _drop_axes(x, axes):
    shape = () if axes is None else tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def argmax(input, axis=None, output_type=None):  # noqa: A002
    """Index of the largest entry along ``axis`` (TensorFlow's default axis is 0)."""
    return _arg(P.argmax, input, axis, output_type)


def argmin(input, axis=None, output_type=None):  # noqa: A002
    return _arg(P.argmin, input, axis, output_type)


def _arg(prim, x, axis, output_type):
    x = tensor_arg(x)
    axis = 0 if axis is None else int(axis)
    out = bind(prim, (x,), {"axis": axis})
    return out if output_type is None else cast(out, output_type)


def _prod(items):
    n = 1
    for i in items:
        n *= i
    return n


# -- compositions ------------------------------------------------------------------------------

def _to_last(x, axes):
    """``x`` with ``axes`` moved to the end and merged into one: ``(kept..., n)``."""
    kept = [i for i in builtins.range(x.ndim) if i not in axes]
    moved = transpose(x, kept + list(axes))
    n = 1
    for a in axes:
        n *= x.shape[a]
    return reshape(moved, tuple(x.shape[i] for i in kept) + (n,)), kept


def _restore(out, x, axes, keepdims):
    if keepdims:
        return reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def reduce_prod(input_tensor, axis=None, keepdims=False):
    """The product over ``axis`` (all axes when None). Computed as a tree of pairwise
    products, so the gradient is exact even where an entry is zero."""
    x = tensor_arg(input_tensor)
    axes = normalize_axes(axis, x.ndim, "reduce_prod")
    axes = tuple(builtins.range(x.ndim)) if axes is None else axes
    flat, _ = _to_last(x, axes)
    n = flat.shape[-1]
    if n == 0:
        return _restore(Tensor._wrap(xp.ones(flat.shape[:-1], x.dtype)), x, axes, keepdims)
    while n > 1:
        if n % 2:
            flat = concat([flat, Tensor._wrap(xp.ones(flat.shape[:-1] + (1,), x.dtype))], -1)
        flat = getitem(flat, (Ellipsis, slice(0, None, 2))) * getitem(flat, (Ellipsis, slice(1, None, 2)))
        n = flat.shape[-1]
    return _restore(reshape(flat, flat.shape[:-1]), x, axes, keepdims)


def _as_bool(x):
    x = tensor_arg(x)
    return x if x.dtype == dtypes.bool_ else not_equal(x, 0)


def reduce_any(input_tensor, axis=None, keepdims=False):
    """Logical or over ``axis``."""
    return cast(reduce_max(cast(_as_bool(input_tensor), "int8"), axis, keepdims), "bool")


def reduce_all(input_tensor, axis=None, keepdims=False):
    """Logical and over ``axis``."""
    return cast(reduce_min(cast(_as_bool(input_tensor), "int8"), axis, keepdims), "bool")


def count_nonzero(input, axis=None, keepdims=False, dtype="int64"):  # noqa: A002
    """How many entries along ``axis`` are not zero (not False)."""
    return cast(reduce_sum(cast(_as_bool(input), "int32"), axis, keepdims), dtype)


def reduce_variance(input_tensor, axis=None, keepdims=False):
    """The (population) variance over ``axis``."""
    x = tensor_arg(input_tensor)
    centred = x - reduce_mean(x, axis, keepdims=True)
    return reduce_mean(centred * centred, axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False):
    """The (population) standard deviation over ``axis``."""
    return sqrt(reduce_variance(input_tensor, axis, keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False):
    """``sqrt(sum(x ** 2))`` over ``axis``."""
    x = tensor_arg(input_tensor)
    return sqrt(reduce_sum(x * x, axis, keepdims))


def moments(x, axes, shift=None, keepdims=False):
    """``(mean, variance)`` of ``x`` over ``axes``."""
    x = tensor_arg(x)
    mean = reduce_mean(x, axes, keepdims=True)
    centred = x - mean
    variance = reduce_mean(centred * centred, axes, keepdims=keepdims)
    if not keepdims:
        mean = reduce_mean(x, axes)
    return mean, variance


# -- scans -------------------------------------------------------------------------------------

def _scan(x, axis, exclusive, reverse, combine, unit, op):
    """An inclusive scan by doubling (Hillis and Steele): log2(n) shifted combinations."""
    x = tensor_arg(x)
    axis = normalize_axis(axis, x.ndim, op)
    n = x.shape[axis]

    def along(index):
        return (slice(None),) * axis + (index,)

    if reverse:
        x = getitem(x, along(slice(None, None, -1)))
    if exclusive and n:
        fill_shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
        x = concat([Tensor._wrap(xp.full(fill_shape, unit, x.dtype)),
                    getitem(x, along(slice(0, n - 1)))], axis)
    shift = 1
    while shift < n:
        fill_shape = x.shape[:axis] + (shift,) + x.shape[axis + 1:]
        shifted = concat([Tensor._wrap(xp.full(fill_shape, unit, x.dtype)),
                          getitem(x, along(slice(0, n - shift)))], axis)
        x = combine(x, shifted)
        shift *= 2
    if reverse:
        x = getitem(x, along(slice(None, None, -1)))
    return x


def cumsum(x, axis=0, exclusive=False, reverse=False):
    """Running sums along ``axis`` (``tf.math.cumsum``)."""
    return _scan(x, axis, exclusive, reverse, lambda a, b: a + b, 0, "cumsum")


def cumprod(x, axis=0, exclusive=False, reverse=False):
    """Running products along ``axis`` (``tf.math.cumprod``)."""
    return _scan(x, axis, exclusive, reverse, lambda a, b: a * b, 1, "cumprod")


# -- norms and clipping --------------------------------------------------------------------

def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    if ord in ("euclidean", "fro", 2, 2.0):
        return sqrt(reduce_sum(x * x, axis, keepdims))
    if ord in (1, 1.0):
        return reduce_sum(abs(x), axis, keepdims)
    if ord == np.inf:
        return reduce_max(abs(x), axis, keepdims)
    if isinstance(ord, numbers.Real) and ord > 0:
        return reduce_sum(abs(x) ** float(ord), axis, keepdims) ** (1.0 / float(ord))
    raise ValueError(f"norm: ord must be 'euclidean', 'fro', 1, 2, np.inf or a positive "
                     f"number; received {ord!r}")


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """A vector norm (``axis`` None or an int) or a matrix norm (``axis`` a pair), as
    ``tf.norm``: ``ord`` is ``'euclidean'``/``'fro'``, 1, 2, ``np.inf`` or ``p > 0`` for
    vectors; ``'euclidean'``/``'fro'``, 1 or ``np.inf`` for matrices."""
    x = tensor_arg(tensor)
    keepdims = builtins.bool(keepdims)
    if isinstance(axis, (list, tuple)) and len(axis) == 2:
        rows, cols = (normalize_axis(a, x.ndim, "norm") for a in axis)
        if rows == cols:
            raise ValueError(f"norm: the two matrix axes must differ; received {axis}")
        if ord in ("euclidean", "fro"):
            return sqrt(reduce_sum(x * x, (rows, cols), keepdims))
        if ord in (1, np.inf):
            inner, outer = (rows, cols) if ord == 1 else (cols, rows)
            sums = reduce_sum(abs(x), inner, keepdims=True)
            out = reduce_max(sums, outer, keepdims=True)
            return out if keepdims else reshape(
                out, tuple(d for i, d in enumerate(x.shape) if i not in (rows, cols)))
        raise ValueError(f"norm: matrix norms take ord 'euclidean', 'fro', 1 or np.inf; "
                         f"received {ord!r} (the spectral norm needs an SVD, not available)")
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ValueError(f"norm: axis must be None, an int or a pair; received {axis!r}")
        axis = axis[0]
    if ord == "fro" and axis is not None:
        raise ValueError("norm: ord='fro' needs a pair of axes (a matrix norm)")
    return _vector_norm(x, ord, axis, keepdims)


def l2_normalize(x, axis=None, epsilon=1e-12):
    """``x / sqrt(max(sum(x ** 2), epsilon))`` along ``axis``."""
    x = tensor_arg(x)
    return x / sqrt(maximum(reduce_sum(x * x, axis, keepdims=True), epsilon))


def _safe_l2(t, axes):
    """``sqrt(sum(t ** 2))`` over ``axes`` (kept), with gradient 0 rather than NaN at 0."""
    total = reduce_sum(t * t, axes, keepdims=True)
    positive = greater(total, 0)
    return where(positive, sqrt(where(positive, total, 1)), total)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled down so that its L2 norm over ``axes`` is at most ``clip_norm``
    (unchanged when already within)."""
    t = tensor_arg(t)
    return t * clip_norm / maximum(_safe_l2(t, axes), clip_norm)


def global_norm(t_list, name=None):
    """``sqrt(sum of every squared entry of every tensor)`` (None entries are skipped)."""
    squares = [reduce_sum(tensor_arg(t) * tensor_arg(t)) for t in t_list if t is not None]
    if not squares:
        return Tensor._wrap(xp.asarray(0.0, dtypes.float32))
    return sqrt(add_n(squares))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(clipped, global_norm)``: every tensor scaled by ``clip_norm / max(global_norm,
    clip_norm)``, so their joint norm is at most ``clip_norm``."""
    t_list = list(t_list)
    norm_value = global_norm(t_list) if use_norm is None else tensor_arg(use_norm)
    scale = clip_norm / maximum(norm_value, clip_norm)
    clipped = [None if t is None else tensor_arg(t) * scale for t in t_list]
    return clipped, norm_value
