"""``chainrule.math``: the math ops under TensorFlow's ``tf.math`` names."""

from .ops import (  # noqa: F401
    abs, add, argmax, argmin, cast, divide, equal, exp, floor, floordiv, floormod, greater,
    greater_equal, less, less_equal, log, logical_and, logical_not, logical_or, maximum,
    minimum, mod, multiply, negative, not_equal, pow, reciprocal, reduce_logsumexp,
    reduce_max, reduce_mean, reduce_min, reduce_sum, round, sigmoid, sign, softplus, sqrt,
    square, subtract, tanh, truediv,
)
from .ops import softmax, log_softmax  # noqa: F401
