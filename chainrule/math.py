"""``chainrule.math``: the ops under TensorFlow's ``tf.math`` names, re-exported from
:mod:`chainrule.ops.math` (element-wise), :mod:`chainrule.ops.special`,
:mod:`chainrule.ops.reduction`, and the few activations ``tf.math`` also lists."""

from .ops.math import (  # noqa: F401
    abs, add, add_n, cast, ceil, divide, divide_no_nan, equal, exp, floor, floordiv,
    floormod, greater, greater_equal, is_finite, is_inf, is_nan, less, less_equal, log,
    logical_and, logical_not, logical_or, maximum, minimum, mod, multiply, negative,
    not_equal, pow, reciprocal, round, rsqrt, sigmoid, sign, softplus, sqrt, square,
    squared_difference, subtract, tanh, truediv, xlogy,
)
from .ops.special import (  # noqa: F401
    acos, acosh, asin, asinh, atan, atan2, atanh, cos, cosh, erf, erfc, expm1, log1p, sin,
    sinh, tan,
)
from .ops.reduction import (  # noqa: F401
    argmax, argmin, count_nonzero, cumprod, cumsum, l2_normalize, reduce_all, reduce_any,
    reduce_euclidean_norm, reduce_logsumexp, reduce_max, reduce_mean, reduce_min,
    reduce_prod, reduce_std, reduce_sum, reduce_variance,
)
from .ops.nn import log_sigmoid, log_softmax, softmax, softsign  # noqa: F401
