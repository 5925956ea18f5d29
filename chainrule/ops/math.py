"""Element-wise math: arithmetic, comparisons, logic, element-wise functions and casts."""

import math as _math

from .. import dtypes
from ..primitives import table as P
from ..backend import xp
from ..primitives.primitive import Primitive, bind
from ..tensor import Tensor
from ._convert import binary_args, same_shape_tensors, tensor_arg
from .array import where


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


def _join_strings(a, b):
    out = xp.add(a, b)  # bytes + bytes joins them; on 0-d arrays NumPy returns the bytes
    if not isinstance(out, xp.ndarray):
        joined = xp.empty((), object)
        joined[()] = out
        return joined
    return out


# tf.add on tf.string tensors joins the texts, element by element (as TensorFlow's does).
_STRING_JOIN = Primitive("string_join", _join_strings, why="text has no derivative")


def add(x, y):
    """Element-wise ``add`` with NumPy broadcasting (on tf.string tensors: joins the texts)."""
    a, b = binary_args("add", x, y)
    if a._value.dtype.kind == "O":
        return bind(_STRING_JOIN, (a, b))
    return bind(P.add, (a, b))


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


def cast(x, dtype):
    """``x`` converted to ``dtype`` (values truncate toward zero when casting to ints)."""
    x = tensor_arg(x)
    dtype = dtypes.as_dtype(dtype)
    if x._value.dtype == dtype:
        return x
    return bind(P.cast, (x,), {"dtype": dtype})


def add_n(inputs):
    """The element-wise sum of a list of tensors of one shape and dtype."""
    inputs = same_shape_tensors(inputs, "add_n")
    total = inputs[0]
    for t in inputs[1:]:
        total = total + t
    return total


def ceil(x):
    """The smallest integer not below ``x`` (no gradient: piecewise constant)."""
    return -floor(-tensor_arg(x))


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return 1 / sqrt(x)


def squared_difference(x, y):
    """``(x - y) ** 2``."""
    d = tensor_arg(x) - y if isinstance(x, Tensor) else x - tensor_arg(y)
    return d * d


def divide_no_nan(x, y):
    """``x / y``, with 0 where ``y`` is 0."""
    x, y = binary_args("divide_no_nan", x, y)
    zero = equal(y, 0)
    return where(zero, 0 * x * y, x / where(zero, 1, y))


def xlogy(x, y):
    """``x * log(y)``, with 0 where ``x`` is 0."""
    x, y = binary_args("xlogy", x, y)
    zero = equal(x, 0)
    return where(zero, 0 * x * y, x * log(where(zero, 1, y)))


def is_nan(x):
    """Where ``x`` is NaN (NaN is the one value not equal to itself)."""
    x = tensor_arg(x)
    return not_equal(x, x)


def is_inf(x):
    """Where ``x`` is +inf or -inf."""
    return equal(abs(tensor_arg(x)), _math.inf)


def is_finite(x):
    """Where ``x`` is neither infinite nor NaN (NaN compares false with everything)."""
    return less(abs(tensor_arg(x)), _math.inf)
