"""``keras.layers``: Layer, Dense, Activation, Flatten, Dropout, InputLayer, Input, the
merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum), and the
convolution, pooling, reshaping and preprocessing families (a module each).

Layers serialise as ``{"class_name": ..., "config": ...}`` (:func:`serialize`) and come
back through :data:`REGISTRY` (:func:`deserialize`), where models register too, so that a
model can hold another."""

from .._registry import Registry, serialize
from .core import Activation, Dropout, Flatten, Input, InputLayer
from .dense import Dense
from .keras_tensor import KerasTensor
from .layer import Layer
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add,
                    average, concatenate, maximum, minimum, multiply, subtract)
from .convolutional import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D,
                      MaxPooling2D, MaxPooling3D)
from .preprocessing import Rescaling
from .reshaping import Reshape, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D

_CONVNET_LAYERS = [Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, MaxPooling1D,
             MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D,
             GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
             GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, Reshape, UpSampling1D,
             UpSampling2D, ZeroPadding1D, ZeroPadding2D, Rescaling]

__all__ = ["Layer", "Dense", "Activation", "Flatten", "Dropout", "InputLayer", "Input",
           "KerasTensor", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "get", "serialize", "deserialize"] + [c.__name__ for c in _CONVNET_LAYERS]

REGISTRY = Registry("layer")
for _cls in (Dense, Activation, Flatten, Dropout, InputLayer, Concatenate, Add, Subtract,
             Multiply, Average, Maximum, Minimum):
    REGISTRY.register(_cls)
for _cls in _CONVNET_LAYERS:
    REGISTRY.register(_cls)


def deserialize(config, custom_objects=None):
    """The layer a :func:`serialize` dict describes (``custom_objects`` adds own classes)."""
    return REGISTRY.deserialize(config, custom_objects)


get = deserialize
