"""``keras.optimizers``: SGD, RMSprop, Adagrad, Adam, AdamW, Nadam, Adamax, Adadelta, Lion,
Ftrl, the Optimizer base, :func:`get`, :func:`serialize`, :func:`deserialize`, and the
learning-rate ``schedules``."""

from .._registry import Registry
from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .ftrl import Ftrl
from .lion import Lion
from .nadam import Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Nadam", "Adamax",
           "Adadelta", "Lion", "Ftrl", "get", "serialize", "deserialize", "schedules"]

REGISTRY = Registry("optimizer")
for _cls, _name in ((SGD, "sgd"), (RMSprop, "rmsprop"), (Adagrad, "adagrad"), (Adam, "adam"),
                    (AdamW, "adamw"), (Nadam, "nadam"), (Adamax, "adamax"),
                    (Adadelta, "adadelta"), (Lion, "lion"), (Ftrl, "ftrl")):
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


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}`` for an optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize takes an Optimizer; received {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """The optimizer a :func:`serialize` dict (or a name) describes."""
    if isinstance(config, str):
        return REGISTRY.from_name(config)
    cls = REGISTRY.class_named(config.get("class_name"), custom_objects)
    return cls.from_config(config.get("config", {}), custom_objects)
