"""chainrule's functional namespace: every op as a function of tensors.

The primitives (``chainrule.primitives.table``) run through here after their arguments
are converted; everything else in this package is a composition of primitives and needs no
derivative of its own.
"""

from ._convert import convert_to_tensor
from .array import (
    broadcast_to, concat, constant, expand_dims, eye, fill, flatten, gather, getitem,
    identity, linspace, matrix_transpose, one_hot, ones, ones_like, range, rank, reshape,
    shape, size, squeeze, stack, transpose, unstack, where, zeros, zeros_like,
)
from .linalg import dense, dot, matmul, tensordot
from .math import (
    abs, add, argmax, argmin, cast, clip_by_value, divide, equal, exp, floor, floordiv,
    floormod, greater, greater_equal, less, less_equal, log, logical_and, logical_not,
    logical_or, maximum, minimum, mod, multiply, negative, not_equal, pow, power,
    reciprocal, reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_sum, relu,
    round, sigmoid, sign, softplus, sqrt, square, stop_gradient, subtract, tanh, truediv,
)
from .special import (
    acos, acosh, asin, asinh, atan, atan2, atanh, cos, cosh, erf, erfc, expm1, log1p, sin,
    sinh, tan,
)
from .extra import (
    add_n, bias_add, ceil, clip_by_global_norm, clip_by_norm, count_nonzero, cumprod, cumsum,
    det, diag_part, divide_no_nan, einsum, elu, gelu, global_norm, inv, is_finite, is_inf,
    is_nan, l2_loss, l2_normalize, leaky_relu, log_sigmoid, moments, norm, pad, reduce_all,
    reduce_any, reduce_euclidean_norm, reduce_prod, reduce_std, reduce_variance, relu6,
    rsqrt, selu, sigmoid_cross_entropy_with_logits, silu, softsign, solve, squared_difference,
    swish, trace, xlogy,
)
from .nn import (
    dropout, log_softmax, softmax, softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits,
)

__all__ = [name for name in dir() if not name.startswith("_")]
