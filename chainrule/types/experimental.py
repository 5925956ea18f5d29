"""``tf.types.experimental``: ``TensorLike`` (what converts to a tensor, as a type that
annotations and ``isinstance`` both take), and ``GenericFunction`` (also spelt
``PolymorphicFunction``) and ``ConcreteFunction``, the abstract types of what
``tf.function`` and ``get_concrete_function`` return."""

import abc
import typing

import numpy as np

from .. import errors
from ..graph.capture import ConcreteFunction as _Concrete
from ..graph.capture import Function as _Function
from ..graph.capture import FunctionType
from ..graph.capture import _BoundFunction
from ..tensor import Tensor

__all__ = ["ConcreteFunction", "FunctionType", "GenericFunction", "PolymorphicFunction",
           "TensorLike"]

# What convert_to_tensor takes, as TensorFlow lists it (Variables are Tensors here).
TensorLike = typing.Union[Tensor, int, float, bool, str, bytes, complex, tuple, list,
                          np.ndarray, np.generic]


class GenericFunction(abc.ABC):
    """What ``tf.function`` returns: a callable that traces once per input signature and
    gives one trace as a :class:`ConcreteFunction` (``get_concrete_function``)."""


PolymorphicFunction = GenericFunction  # TensorFlow's newer name for it


class ConcreteFunction(abc.ABC):
    """One trace of a function, callable with tensors that fit its signature."""


GenericFunction.register(_Function)
GenericFunction.register(_BoundFunction)
ConcreteFunction.register(_Concrete)

_TENSORFLOW_NAMES = frozenset({"Callable", "ConcreteFunction", "FunctionType",
                               "GenericFunction", "PolymorphicFunction", "SupportsTracingProtocol",
                               "TensorLike", "TraceType", "distributed"})


def __getattr__(name):
    kind = "TensorFlow name" if name in _TENSORFLOW_NAMES else None
    raise errors.MissingNameError(__name__, name, kind, __all__)
