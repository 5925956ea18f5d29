"""``keras.optimizers``: SGD, RMSprop, Adagrad, Adam, the Optimizer base, and :func:`get`."""

from .._registry import from_name_or_config
from .adagrad import Adagrad
from .adam import Adam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "get"]

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier):
    """An optimizer from a name (``"rmsprop"``: default arguments), a config dict
    ``{"class_name": ..., "config": {...}}``, or an Optimizer (returned as it is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return from_name_or_config("optimizer", identifier, _CLASSES, _BY_NAME)
    raise TypeError(f"optimizer must be a name such as 'rmsprop' or an Optimizer; received "
                    f"{identifier!r} of type {type(identifier).__name__}")
