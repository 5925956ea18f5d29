"""``keras.layers``: Layer, Dense, Activation, Flatten, Dropout, InputLayer, Input, the
merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum) and the
activation layers (ReLU, LeakyReLU, ELU, Softmax, PReLU).

Layers serialise as ``{"class_name": ..., "config": ...}`` (:func:`serialize`) and come
back through :data:`REGISTRY` (:func:`deserialize`), where models register too, so that a
model can hold another."""

from .._registry import Registry, serialize
from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .core import Activation, Dropout, Flatten, Input, InputLayer
from .dense import Dense
from .keras_tensor import KerasTensor
from .layer import Layer
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add,
                    average, concatenate, maximum, minimum, multiply, subtract)

__all__ = ["Layer", "Dense", "Activation", "Flatten", "Dropout", "InputLayer", "Input",
           "KerasTensor", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU", "get", "serialize",
           "deserialize"]

REGISTRY = Registry("layer")
for _cls in (Dense, Activation, Flatten, Dropout, InputLayer, Concatenate, Add, Subtract,
             Multiply, Average, Maximum, Minimum, ReLU, LeakyReLU, ELU, Softmax, PReLU):
    REGISTRY.register(_cls)


def deserialize(config, custom_objects=None):
    """The layer a :func:`serialize` dict describes (``custom_objects`` adds own classes)."""
    return REGISTRY.deserialize(config, custom_objects)


get = deserialize
