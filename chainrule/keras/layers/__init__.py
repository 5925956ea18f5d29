"""``keras.layers``: Layer, Dense, Activation, Flatten, Dropout, InputLayer, Input, and
the merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum)."""

from .core import Activation, Dropout, Flatten, Input, InputLayer
from .dense import Dense
from .keras_tensor import KerasTensor
from .layer import Layer
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add,
                    average, concatenate, maximum, minimum, multiply, subtract)

__all__ = ["Layer", "Dense", "Activation", "Flatten", "Dropout", "InputLayer", "Input",
           "KerasTensor", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "get", "serialize", "deserialize"]

_CLASSES = {cls.__name__: cls for cls in (
    Dense, Activation, Flatten, Dropout, InputLayer, Concatenate, Add, Subtract, Multiply,
    Average, Maximum, Minimum)}


def serialize(layer):
    """``{"class_name": ..., "config": ...}``: what a saved model stores for one layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config, custom_objects=None):
    """The layer a :func:`serialize` dict describes (``custom_objects`` adds own classes)."""
    classes = {**_CLASSES, **(custom_objects or {})}
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"Unknown layer class {name!r}. Known: {', '.join(sorted(classes))}; "
                         f"pass custom_objects={{'{name}': {name}}} for your own layers.")
    return classes[name].from_config(config.get("config", {}))


get = deserialize
