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
from .nn import (
    dropout, log_softmax, softmax, softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits,
)

__all__ = [name for name in dir() if not name.startswith("_")]
