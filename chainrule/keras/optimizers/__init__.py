"""``keras.optimizers``: SGD, RMSprop, Adagrad, Adam, the Optimizer base, :func:`get`, and
the learning-rate ``schedules``."""

from .._registry import Registry
from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "get", "schedules"]

REGISTRY = Registry("optimizer")
for _cls, _name in ((SGD, "sgd"), (RMSprop, "rmsprop"), (Adagrad, "adagrad"), (Adam, "adam")):
    REGISTRY.register(_cls, _name)


def get(identifier):
    """An optimizer from a name (``"rmsprop"``: default arguments), a config dict
    ``{"class_name": ..., "config": {...}}``, or an Optimizer (returned as it is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return REGISTRY.from_name(identifier)
    if isinstance(identifier, dict):
        return REGISTRY.deserialize(identifier)
    raise TypeError(f"optimizer must be a name such as 'rmsprop' or an Optimizer; received "
                    f"{identifier!r} of type {type(identifier).__name__}")
