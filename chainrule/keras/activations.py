"""Activation functions by name: ``Dense(512, activation="relu")``.

Each is one primitive of the core (so the training step records a single op per
activation); :func:`get` turns a name, ``None`` or a callable into the function.
"""

from .. import ops
from ._registry import lookup

__all__ = ["relu", "softmax", "sigmoid", "tanh", "linear", "get", "serialize"]


def relu(x):
    """``max(x, 0)``; the derivative at 0 is taken as 0."""
    return ops.relu(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (the last by default), without overflow."""
    return ops.softmax(x, axis)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed in a form that cannot overflow."""
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def linear(x):
    """The identity: what ``activation=None`` means."""
    return x


_BY_NAME = {"relu": relu, "softmax": softmax, "sigmoid": sigmoid, "tanh": tanh,
            "linear": linear}

# Functions that compute a softmax over the last axis. A layer whose activation is one of
# these can hand its logits to a cross-entropy loss instead (see Model.compute_loss_and_predictions).
SOFTMAX_FUNCTIONS = (softmax, ops.softmax)


def get(identifier):
    """The activation function for a name (``"relu"``), ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return lookup("activation", identifier, _BY_NAME)
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, a callable or None; received "
                    f"{identifier!r} of type {type(identifier).__name__}")


def serialize(activation):
    """The name of a built-in activation (for ``get_config``), else the callable itself."""
    for name, fn in _BY_NAME.items():
        if activation is fn:
            return name
    if activation is ops.softmax:
        return "softmax"
    return getattr(activation, "__name__", activation)
