"""Element-wise arithmetic, comparisons and reductions."""

import builtins

from ..primitives import table as P
from ..primitives.primitive import bind
from ..backend import xp
from ..tensor import Tensor
from ._convert import binary_args, normalize_axes, tensor_arg


def _binary(prim):
    def op(x, y):
        return bind(prim, binary_args(prim.name, x, y))
    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Element-wise ``{prim.name}`` with NumPy broadcasting."
    return op


def _comparison(prim):
    def op(x, y):
        # Comparisons may mix dtypes (an int64 argmax against uint8 labels): NumPy promotes.
        return bind(prim, binary_args(prim.name, x, y, strict=False))
    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Element-wise ``{prim.name}``, a boolean tensor."
    return op


def _unary(prim):
    def op(x):
        return bind(prim, (tensor_arg(x),))
    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Element-wise ``{prim.name}``."
    return op


add = _binary(P.add)
subtract = _binary(P.subtract)
multiply = _binary(P.multiply)
divide = _binary(P.divide)
truediv = divide
pow = _binary(P.power)  # noqa: A001
power = pow
maximum = _binary(P.maximum)
minimum = _binary(P.minimum)
floordiv = _binary(P.floordiv)
mod = _binary(P.mod)
floormod = mod

equal = _comparison(P.equal)
not_equal = _comparison(P.not_equal)
less = _comparison(P.less)
less_equal = _comparison(P.less_equal)
greater = _comparison(P.greater)
greater_equal = _comparison(P.greater_equal)
logical_and = _comparison(P.logical_and)
logical_or = _comparison(P.logical_or)

negative = _unary(P.negative)
exp = _unary(P.exp)
log = _unary(P.log)
sqrt = _unary(P.sqrt)
abs = _unary(P.abs)  # noqa: A001
tanh = _unary(P.tanh)
sigmoid = _unary(P.sigmoid)
relu = _unary(P.relu)
softplus = _unary(P.softplus)
sign = _unary(P.sign)
floor = _unary(P.floor)
round = _unary(P.round)  # noqa: A001
logical_not = _unary(P.logical_not)


def square(x):
    """``x * x``."""
    x = tensor_arg(x)
    return bind(P.multiply, (x, x))


def reciprocal(x):
    return divide(1, x)


def clip_by_value(t, clip_value_min, clip_value_max):
    """``t`` limited to [min, max]; the gradient is zero where a bound is active."""
    return minimum(maximum(t, clip_value_min), clip_value_max)


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
    from .array import reshape
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


def stop_gradient(input):  # noqa: A002
    """``input`` unchanged, with no gradient flowing back through it."""
    return bind(P.stop_gradient, (tensor_arg(input),))


def cast(x, dtype):
    """``x`` converted to ``dtype`` (values truncate toward zero when casting to ints)."""
    from .. import dtypes
    x = tensor_arg(x)
    dtype = dtypes.as_dtype(dtype)
    if x._value.dtype == dtype:
        return x
    return bind(P.cast, (x,), {"dtype": dtype})


def _prod(items):
    n = 1
    for i in items:
        n *= i
    return n
