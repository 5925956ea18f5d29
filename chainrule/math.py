"""``chainrule.math``: the math ops under TensorFlow's ``tf.math`` names."""

from .ops import (  # noqa: F401
    abs, add, argmax, argmin, cast, divide, equal, exp, floor, floordiv, floormod, greater,
    greater_equal, less, less_equal, log, logical_and, logical_not, logical_or, maximum,
    minimum, mod, multiply, negative, not_equal, pow, reciprocal, reduce_logsumexp,
    reduce_max, reduce_mean, reduce_min, reduce_sum, round, sigmoid, sign, softplus, sqrt,
    square, subtract, tanh, truediv,
)
from .ops import softmax, log_softmax  # noqa: F401
from .ops import (  # noqa: F401
    acos, acosh, add_n, asin, asinh, atan, atan2, atanh, ceil, cos, cosh, count_nonzero,
    cumprod, cumsum, divide_no_nan, erf, erfc, expm1, is_finite, is_inf, is_nan,
    l2_normalize, log1p, log_sigmoid, reduce_all, reduce_any, reduce_euclidean_norm,
    reduce_prod, reduce_std, reduce_variance, rsqrt, sin, sinh, softsign, squared_difference,
    tan, xlogy,
)
