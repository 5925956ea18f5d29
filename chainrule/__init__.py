"""chainrule: tensors, a gradient tape, computation graphs and a Keras-style API.

``import chainrule as tf`` gives the TensorFlow names that chapter 2 of *Deep Learning with
Python* uses; ``chainrule.keras`` the Keras ones.
"""

from . import dtypes
from .version import __version__
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
from .ops import (
    acos, add_n, asin, atan, clip_by_global_norm, clip_by_norm, cos, cosh, cumsum, einsum,
    norm, pad, reduce_all, reduce_any, reduce_prod, sin, sinh, tan,
)
from .tensor import TensorShape
from .autodiff.tape import GradientTape, UnconnectedGradients
from .ops.custom_gradient import custom_gradient
from . import config, debug, errors, linalg, math, nn, ops, random
from .config import device
from .control_flow import cond
from .graph import Graph
from .compiler.jit import function
from . import distribute

bool = bool_  # noqa: A001  (TensorFlow spells it tf.bool)


def is_tensor(x):
    """Whether ``x`` is a chainrule Tensor (or Variable)."""
    return isinstance(x, Tensor)


def __getattr__(name):
    # The Keras API (and ONNX export) is imported on first use, so the core stays light to import.
    if name in ("keras", "data", "onnx"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
