"""Activation functions by name: ``Dense(512, activation="relu")``, with Keras 3's names,
arguments and defaults.

relu, sigmoid, softmax, log_softmax, tanh and softplus are primitives of the core (so the
training step records a single op for them); the others are compositions of primitives from
:mod:`chainrule.ops.nn`, differentiated, compiled and fused through their parts.
:func:`get` turns a name, ``None`` or a callable into the function.
"""

from .. import ops
from ..tensor import Tensor
from ._registry import Registry

__all__ = [
    "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "elu", "selu", "celu", "softplus",
    "softsign", "silu", "swish", "gelu", "glu", "mish", "tanh", "tanh_shrink", "sigmoid",
    "log_sigmoid", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "hard_shrink", "soft_shrink", "sparse_plus", "sparse_sigmoid", "squareplus", "threshold",
    "linear", "get", "serialize",
]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)`` (the derivative at 0 is taken as 0); Keras's options: below
    ``threshold`` the output is 0 (``x`` above it), ``max_value`` caps it, and
    ``negative_slope`` adds that slope below the threshold."""
    x = ops.convert_to_tensor(x)
    if negative_slope == 0 and max_value is None and threshold == 0:
        return ops.relu(x)
    if negative_slope != 0:
        if max_value is None and threshold == 0:
            return ops.leaky_relu(x, negative_slope)
        below = ops.relu(threshold - x if threshold != 0 else -x)
    clip = max_value is not None
    if threshold != 0:
        x = ops.where(ops.greater(x, threshold), x, 0.0)
    elif max_value == 6:
        x, clip = ops.relu6(x), False
    else:
        x = ops.relu(x)
    if clip:
        x = ops.clip_by_value(x, 0.0, max_value)
    if negative_slope != 0:
        x = x - negative_slope * below
    return x


def leaky_relu(x, negative_slope=0.2):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return ops.leaky_relu(x, negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return ops.relu6(x)


class Probabilities(Tensor):
    """A softmax over the last axis that remembers its input, ``logits``.

    The cross-entropy losses read the logits (and only they do): the loss is then computed
    from them in one exact op, as the TensorFlow backend of Keras does, while the model's
    output stays the probabilities. A model needs no code of its own for this."""

    __slots__ = ("logits",)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (the last by default), without overflow.

    Over the last axis the result is a :class:`Probabilities` carrying ``x`` as its logits."""
    x = ops.convert_to_tensor(x)
    if axis not in (-1, x.ndim - 1):
        return ops.softmax(x, axis)
    out = ops.softmax(x, axis, _result_type=Probabilities)
    out.logits = x
    return out


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, exactly."""
    return ops.log_softmax(x, axis)


def logits_of(y_pred):
    """The logits a softmax output was computed from, or None (see :class:`Probabilities`)."""
    return y_pred.logits if type(y_pred) is Probabilities else None


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed in a form that cannot overflow."""
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return ops.elu(x, alpha)


def selu(x):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al."""
    return ops.selu(x)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    return ops.celu(x, alpha)


def softplus(x):
    """``log(exp(x) + 1)``, computed without overflow."""
    return ops.softplus(x)


def softsign(x):
    """``x / (abs(x) + 1)``."""
    return ops.softsign(x)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return ops.silu(x)


def gelu(x, approximate=False):
    """``x * P(X <= x)`` for a standard normal X, with the error function, or with
    ``approximate=True`` its tanh approximation."""
    return ops.gelu(x, approximate)


def glu(x, axis=-1):
    """``a * sigmoid(b)`` for the two halves ``a``, ``b`` of ``x`` along ``axis``."""
    return ops.glu(x, axis)


def mish(x):
    """``x * tanh(softplus(x))``."""
    return ops.mish(x)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return ops.tanh_shrink(x)


def log_sigmoid(x):
    """``log(sigmoid(x))``, computed without overflow."""
    return ops.log_sigmoid(x)


def exponential(x):
    """``exp(x)``."""
    return ops.exp(x)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, a line between."""
    return ops.hard_sigmoid(x)


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    return ops.hard_silu(x)


def hard_tanh(x):
    """``x`` limited to [-1, 1]."""
    return ops.hard_tanh(x)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return ops.hard_shrink(x, threshold)


def soft_shrink(x, threshold=0.5):
    """``x`` moved toward 0 by ``threshold``, 0 within ``threshold`` of it."""
    return ops.soft_shrink(x, threshold)


def sparse_plus(x):
    """0 up to -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` from 1."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """0 up to -1, ``(x + 1) / 2`` on (-1, 1), 1 from 1."""
    return ops.sparse_sigmoid(x)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    return ops.squareplus(x, b)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return ops.threshold(x, threshold, default_value)


def linear(x):
    """The identity: what ``activation=None`` means."""
    return x


swish = silu
hard_swish = hard_silu

REGISTRY = Registry("activation")
for _fn in (relu, leaky_relu, relu6, softmax, log_softmax, elu, selu, celu, softplus, softsign,
            silu, gelu, glu, mish, tanh, tanh_shrink, sigmoid, log_sigmoid, exponential,
            hard_sigmoid, hard_silu, hard_tanh, hard_shrink, soft_shrink, sparse_plus,
            sparse_sigmoid, squareplus, threshold, linear):
    REGISTRY.register(_fn, _fn.__name__)
REGISTRY.register(silu, "swish")  # Keras's aliases
REGISTRY.register(hard_silu, "hard_swish")


def get(identifier):
    """The activation function for a name (``"relu"``), ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return REGISTRY.lookup(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, a callable or None; received "
                    f"{identifier!r} of type {type(identifier).__name__}")


def serialize(activation):
    """The name of a built-in activation (for ``get_config``), else the callable itself."""
    for name, fn in REGISTRY.names.items():
        if activation is fn:
            return name
    if activation is ops.softmax:
        return "softmax"
    return getattr(activation, "__name__", activation)
