"""Neural-network functions: activations, softmax, losses and dropout."""

import math as _math

from ..backend import xp
from ..primitives import table as P
from ..primitives.primitive import bind
from ..tensor import Tensor
from ._convert import binary_args, normalize_axis, tensor_arg
from .array import where
from .math import (abs, cast, divide, greater, greater_equal, minimum, multiply, sigmoid,
                   softplus, tanh)
from .reduction import reduce_sum
from .special import erf, expm1


# -- activations ---------------------------------------------------------------------------

def relu(x):
    """``max(x, 0)``; the derivative at 0 is taken as 0."""
    return bind(P.relu, (tensor_arg(x),))


def relu6(features):
    """``min(max(x, 0), 6)``."""
    return minimum(relu(features), 6)


def leaky_relu(features, alpha=0.2):
    """``x`` where positive, ``alpha * x`` elsewhere (TensorFlow's default alpha is 0.2)."""
    x = tensor_arg(features)
    return where(greater(x, 0), x, alpha * x)


def elu(features, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    x = tensor_arg(features)
    return where(greater(x, 0), x, alpha * expm1(minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features):
    """The self-normalising ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s
    constants."""
    return _SELU_SCALE * elu(features, _SELU_ALPHA)


def gelu(features, approximate=False):
    """``x * P(X <= x)`` for a standard normal X: with the error function, or with
    ``approximate=True`` the tanh approximation."""
    x = tensor_arg(features)
    if approximate:
        return 0.5 * x * (1 + tanh(_math.sqrt(2 / _math.pi) * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1 + erf(x * (1 / _math.sqrt(2))))


def silu(features, beta=1.0):
    """``x * sigmoid(beta * x)`` (also called swish)."""
    x = tensor_arg(features)
    return x * sigmoid(beta * x if beta != 1.0 else x)


swish = silu


def softsign(features):
    """``x / (1 + |x|)``."""
    x = tensor_arg(features)
    return x / (1 + abs(x))


def log_sigmoid(x):
    """``log(sigmoid(x))``, stably: ``-softplus(-x)``."""
    return -softplus(-tensor_arg(x))


def softmax(logits, axis=-1, _result_type=Tensor):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed without overflow."""
    x = tensor_arg(logits)
    axis = normalize_axis(-1 if axis is None else axis, x.ndim, "softmax")
    return bind(P.softmax, (x,), {"axis": axis}, _result_type)


def log_softmax(logits, axis=-1):
    """``log(softmax(x))`` along ``axis``, exactly (no log of a rounded zero)."""
    x = tensor_arg(logits)
    return bind(P.log_softmax, (x,), {"axis": normalize_axis(-1 if axis is None else axis, x.ndim, "log_softmax")})


def bias_add(value, bias):
    """``value + bias`` along the last axis."""
    return tensor_arg(value) + bias


# -- losses --------------------------------------------------------------------------------

def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """Per-example cross-entropy between integer ``labels`` and unnormalised ``logits``.

    ``labels`` has the shape of ``logits`` without its last (class) axis; the result has
    that shape too. The gradient with respect to ``logits`` is ``softmax - one_hot``.
    """
    logits = tensor_arg(logits)
    labels = tensor_arg(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        f"not {labels.dtype}")
    if logits.dtype.kind != "f":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: logits must be floating, "
                        f"not {logits.dtype}")
    classes = logits.shape[-1] if logits.ndim else 0
    if labels.size:
        lo, hi = int(xp.min(labels._value)), int(xp.max(labels._value))
        if lo < 0 or hi >= classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"sparse_softmax_cross_entropy_with_logits: label {bad} is out of "
                             f"range for {classes} classes (valid labels are 0..{classes - 1})")
    return bind(P.sparse_softmax_cross_entropy, (labels, logits))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """Per-example cross-entropy between probability ``labels`` and ``logits``."""
    return -reduce_sum(multiply(labels, log_softmax(logits, axis)), axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """Per-entry cross-entropy of 0/1 (or probability) ``labels`` and ``logits``:
    ``max(x, 0) - x * z + log(1 + exp(-|x|))``, which never overflows."""
    x, z = binary_args("sigmoid_cross_entropy_with_logits", logits, labels)
    return relu(x) - x * z + softplus(-abs(x))


def l2_loss(t):
    """``sum(t ** 2) / 2``."""
    t = tensor_arg(t)
    return reduce_sum(t * t) * 0.5


# -- dropout -------------------------------------------------------------------------------

def dropout(x, rate, noise_shape=None, seed=None):
    """``x`` with a random fraction ``rate`` of its entries zeroed and the rest scaled by
    ``1 / (1 - rate)``; ``noise_shape`` (broadcast against ``x``) shares one draw along
    axes of size 1. ``seed`` as in :func:`chainrule.random.generator`."""
    x = tensor_arg(x)
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    noise = bind(P.random, (), {"shape": shape, "dtype": xp.dtype("float32"), "seed": seed,
                                "distribution": "uniform", "a": 0, "b": 1})
    keep = cast(greater_equal(noise, rate), x.dtype)
    return multiply(x, divide(keep, xp.float32(1 - rate)))
