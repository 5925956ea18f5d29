"""``keras.optimizers``: SGD, RMSprop, Adagrad, Adam, the Optimizer base, and :func:`get`."""

from .._registry import lookup
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
    if isinstance(identifier, str):
        return (_CLASSES.get(identifier) or lookup("optimizer", identifier, _BY_NAME))()
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name"))
        cls = _CLASSES.get(name) or lookup("optimizer", name, _BY_NAME)
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(f"optimizer must be a name such as 'rmsprop' or an Optimizer; received "
                    f"{identifier!r} of type {type(identifier).__name__}")
