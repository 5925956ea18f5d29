"""Activation functions by name: ``Dense(512, activation="relu")``.

Each is one primitive of the core (so the training step records a single op per
activation); :func:`get` turns a name, ``None`` or a callable into the function.
"""

from .. import ops
from ..tensor import Tensor
from ._registry import Registry

__all__ = ["relu", "softmax", "sigmoid", "tanh", "linear", "get", "serialize"]


def relu(x):
    """``max(x, 0)``; the derivative at 0 is taken as 0."""
    return ops.relu(x)


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


def logits_of(y_pred):
    """The logits a softmax output was computed from, or None (see :class:`Probabilities`)."""
    return y_pred.logits if type(y_pred) is Probabilities else None


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed in a form that cannot overflow."""
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def linear(x):
    """The identity: what ``activation=None`` means."""
    return x


REGISTRY = Registry("activation")
for _fn in (relu, softmax, sigmoid, tanh, linear):
    REGISTRY.register(_fn, _fn.__name__)


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
