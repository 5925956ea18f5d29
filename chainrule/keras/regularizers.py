"""``keras.regularizers``: weight penalties added to the training loss.

A regularizer is a function of one weight tensor returning a scalar; a layer given one
(``Dense(..., kernel_regularizer=regularizers.l2(0.001))``) adds its value to the model's
loss at every training step, so the penalty is part of the reported ``loss`` and of the
gradient, as in Keras.
"""

from .. import ops
from ._registry import Configurable, Registry, serialize

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]


class Regularizer(Configurable):
    """Base class: ``regularizer(weight)`` is a scalar penalty."""

    def __call__(self, x):
        return ops.constant(0.0)


def _factor(value, name):
    value = float(value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative number; received {name}={value}")
    return value


class L1(Regularizer):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1")

    def __call__(self, x):
        return self.l1 * ops.reduce_sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x ** 2)``."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        return self.l2 * ops.reduce_sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, x):
        total = None
        if self.l1:
            total = self.l1 * ops.reduce_sum(ops.abs(x))
        if self.l2:
            part = self.l2 * ops.reduce_sum(ops.square(x))
            total = part if total is None else total + part
        return ops.zeros((), x.dtype) if total is None else total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def l1(l1=0.01):  # noqa: E741
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):  # noqa: E741
    return L1L2(l1, l2)


REGISTRY = Registry("regularizer")
for _cls, *_names in ((L1, "l1"), (L2, "l2"), (L1L2, "l1_l2", "l1l2")):
    REGISTRY.register(_cls, *_names)


def get(identifier):
    """A regularizer from None, a name (``"l2"``: default factor), a config dict, a
    Regularizer, or any callable ``weight -> scalar``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return REGISTRY.from_name(identifier)
    if isinstance(identifier, dict):
        return REGISTRY.deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"regularizer must be None, a name, a config dict or a callable; "
                    f"received {identifier!r}")
