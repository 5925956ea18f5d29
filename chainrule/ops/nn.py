"""Neural-network functions: activations, softmax, losses and dropout."""

import math as _math

from ..backend import xp
from ..primitives import table as P
from ..primitives.primitive import bind
from ..tensor import Tensor
from ._convert import binary_args, normalize_axis, tensor_arg
from .array import where
from .math import (abs, cast, clip_by_value, divide, exp, greater, greater_equal, less,
                   less_equal, maximum, minimum, multiply, sigmoid, softplus, sqrt, tanh)
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
    """``x`` where positive, ``alpha * x`` elsewhere (TensorFlow's default alpha is 0.2).

    For ``alpha <= 1`` it is ``maximum(alpha * x, x)``: the same numbers, with the kink at 0
    known to the table (at the tie the first operand takes the gradient: ``alpha``, as
    TensorFlow's rule gives at 0)."""
    x = tensor_arg(features)
    if alpha <= 1:
        return maximum(alpha * x, x)
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


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, a line between (Keras's form)."""
    return relu6(tensor_arg(x) + 3) / 6


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    x = tensor_arg(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))``."""
    x = tensor_arg(x)
    return x * tanh(softplus(x))


def exponential(x):
    """``exp(x)``, as an activation."""
    return exp(x)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``: an ELU whose derivative is
    continuous for every ``alpha``."""
    x = tensor_arg(x)
    return maximum(x, 0.0) + alpha * expm1(minimum(x, 0.0) / alpha)


def hard_tanh(x):
    """``x`` limited to [-1, 1]."""
    return clip_by_value(tensor_arg(x), -1.0, 1.0)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    x = tensor_arg(x)
    return x - tanh(x)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu (``b`` sets how smooth)."""
    x = tensor_arg(x)
    return (x + sqrt(x * x + b)) / 2


def soft_shrink(x, threshold=0.5):
    """``x`` moved toward 0 by ``threshold``, and 0 within ``threshold`` of it."""
    x = tensor_arg(x)
    return where(greater(x, threshold), x - threshold,
                 where(less(x, -threshold), x + threshold, 0.0))


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    x = tensor_arg(x)
    return where(greater(abs(x), threshold), x, 0.0)


def sparse_plus(x):
    """0 up to -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` from 1."""
    x = tensor_arg(x)
    return where(less_equal(x, -1.0), 0.0, where(less(x, 1.0), 0.25 * ((x + 1) * (x + 1)), x))


def sparse_sigmoid(x):
    """0 up to -1, ``(x + 1) / 2`` on (-1, 1), 1 from 1."""
    x = tensor_arg(x)
    return where(less_equal(x, -1.0), 0.0, where(greater_equal(x, 1.0), 1.0, 0.5 * (x + 1)))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = tensor_arg(x)
    return where(greater(x, threshold), x, default_value)


def glu(x, axis=-1):
    """``a * sigmoid(b)``, where ``a`` and ``b`` are the two halves of ``x`` along ``axis``."""
    x = tensor_arg(x)
    axis = normalize_axis(axis, x.ndim, "glu")
    half, odd = divmod(x.shape[axis], 2)
    if odd:
        raise ValueError(f"glu: the size of axis {axis} must be even to split it in two; "
                         f"received shape {x.shape}")
    lead = (slice(None),) * axis
    return x[lead + (slice(None, half),)] * sigmoid(x[lead + (slice(half, None),)])


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
