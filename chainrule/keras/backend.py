"""``keras.backend``: Keras 3's few settings and TF-Keras 2's tensor functions.

Keras 3 keeps only settings here (``floatx``, ``epsilon``, ``image_data_format``,
``clear_session``). Code written for TF-Keras 2 also calls tensor functions through it
(``K.std(x)``, ``K.random_normal(shape)``, ``K.get_value(optimizer.learning_rate)``), so
those are here too, as thin names over :mod:`chainrule.keras.ops`: none computes anything of
its own.
"""

import numpy as np

from .. import dtypes, ops as tf_ops, random as tf_random
from ..tensor import Tensor
from ..variable import Variable
from . import ops
from .layers.keras_tensor import KerasTensor
from .utils import clear_session

__all__ = ["backend", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "clear_session", "is_keras_tensor", "get_value",
           "set_value", "batch_get_value", "batch_set_value", "int_shape", "shape", "ndim",
           "dtype", "cast", "constant", "variable", "zeros", "ones", "eval", "random_normal",
           "random_uniform", "mean", "sum", "std", "var", "max", "min", "square", "sqrt",
           "exp", "log", "abs", "dot", "concatenate", "reshape", "clip", "sigmoid", "relu",
           "softmax", "stop_gradient"]

_settings = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last"}


def backend():
    """The name of the array backend: ``"chainrule"``."""
    return "chainrule"


def floatx():
    """The default float type's name (``"float32"``)."""
    return _settings["floatx"]


def set_floatx(value):
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float16', 'float32' or 'float64'; received "
                         f"{value!r}")
    if value != "float32":
        raise NotImplementedError(f"set_floatx({value!r}): chainrule's layers compute in "
                                  f"float32; give a layer dtype=... instead")
    _settings["floatx"] = value


def epsilon():
    """The small number added to denominators (1e-7)."""
    return _settings["epsilon"]


def set_epsilon(value):
    _settings["epsilon"] = float(value)


def image_data_format():
    return _settings["image_data_format"]


def set_image_data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: expected 'channels_last' or "
                         f"'channels_first'; received {data_format!r}")
    _settings["image_data_format"] = data_format


def is_keras_tensor(x):
    """True for the symbolic tensors of the functional API (``keras.Input`` and what layers
    make of it)."""
    return isinstance(x, KerasTensor)


# -- values --------------------------------------------------------------------------------
def get_value(x):
    """``x``'s value as NumPy (a Variable, a Tensor, or a Python number as it is)."""
    if isinstance(x, Tensor):
        return x.numpy()
    return x


def set_value(x, value):
    """``x.assign(value)`` for a Variable (an optimizer's ``learning_rate``, say)."""
    if not isinstance(x, Variable):
        raise TypeError(f"set_value: expected a Variable; received {type(x).__name__}. To "
                        f"change an optimizer's rate, use optimizer.learning_rate = value")
    x.assign(np.asarray(value, dtype=x.dtype))


def batch_get_value(xs):
    return [get_value(x) for x in xs]


def batch_set_value(pairs):
    for x, value in pairs:
        set_value(x, value)


def int_shape(x):
    """The shape as a tuple of ints (``None`` for an unknown size)."""
    return tuple(x.shape)


def variable(value, dtype=None, name=None):
    return Variable(np.asarray(value, dtype=dtype or floatx()), name=name)


def eval(x):  # noqa: A001  (TF-Keras 2's name)
    return get_value(x)


def constant(value, dtype=None, shape=None, name=None):
    return tf_ops.constant(value, dtype=dtype or floatx(), shape=shape)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return tf_random.normal(shape, mean=mean, stddev=stddev, dtype=dtype or floatx(),
                            seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return tf_random.uniform(shape, minval=minval, maxval=maxval, dtype=dtype or floatx(),
                             seed=seed)


def cast(x, dtype):
    return ops.cast(x, dtypes.as_dtype(dtype))


# -- the same functions as keras.ops, under TF-Keras 2's names -----------------------------
shape, ndim, dtype, zeros, ones = ops.shape, ops.ndim, ops.dtype, ops.zeros, ops.ones
mean, sum, max, min = ops.mean, ops.sum, ops.max, ops.min  # noqa: A001
std, var, square, sqrt, exp, log = ops.std, ops.var, ops.square, ops.sqrt, ops.exp, ops.log
abs = ops.abs  # noqa: A001
dot, reshape, clip = ops.dot, ops.reshape, ops.clip
sigmoid, relu, softmax = ops.sigmoid, ops.relu, ops.softmax
stop_gradient = ops.stop_gradient


def concatenate(tensors, axis=-1):
    return ops.concatenate(tensors, axis=axis)
