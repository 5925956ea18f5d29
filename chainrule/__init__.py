"""chainrule: tensors, a gradient tape, computation graphs and a Keras-style API.

``import chainrule as tf`` gives the TensorFlow names that chapter 2 of *Deep Learning with
Python* uses; ``chainrule.keras`` the Keras ones.
"""

from . import dtypes
from .dtypes import (
    bool_, float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32,
    uint64, as_dtype,
)
from .tensor import Tensor
from .variable import Variable
from .module import Module
from .ops import (
    abs, add, argmax, argmin, broadcast_to, cast, clip_by_value, concat, constant,
    convert_to_tensor, divide, dot, equal, exp, expand_dims, eye, fill, flatten, gather,
    greater, greater_equal, identity, less, less_equal, linspace, log, logical_and,
    logical_not, logical_or, matmul, maximum, minimum, multiply, negative, not_equal,
    one_hot, ones, ones_like, pow, range, rank, reduce_logsumexp, reduce_max, reduce_mean,
    reduce_min, reduce_sum, reshape, round, shape, sigmoid, sign, size, sqrt, square,
    squeeze, stack, stop_gradient, subtract, tanh, tensordot, transpose, unstack, where,
    zeros, zeros_like,
)
from .autodiff.tape import GradientTape, UnconnectedGradients
from .ops.custom_gradient import custom_gradient
from . import debug, math, nn, ops, random
from .graph import Graph, function
from . import distribute

bool = bool_  # noqa: A001  (TensorFlow spells it tf.bool)

__version__ = "0.1.0"


def __getattr__(name):
    # The Keras API is imported on first use, so the core stays light to import.
    if name == "keras":
        import importlib
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
