"""Tensor's operators and NumPy-style methods, each one function of these ops.

:class:`~chainrule.tensor.Tensor` is defined below the ops (every op takes and returns
Tensors), so it cannot name them itself; :func:`install_operators` gives the class its
``+``, ``@``, ``[]``, comparisons, ``.T``, ``reshape``, ``sum`` and so on, once, when
:mod:`chainrule.ops` is imported. (JAX attaches its array methods the same way, and
TensorFlow its operator overloads.) Subclasses (Variable) inherit them.
"""

from ..tensor import Tensor
from .array import getitem, reshape, transpose
from .linalg import matmul
from .math import (abs, add, cast, divide, equal, floordiv, greater, greater_equal, less,
                   less_equal, logical_and, logical_not, logical_or, mod, multiply, negative,
                   not_equal, pow, sqrt, subtract)
from .reduction import (argmax, argmin, reduce_max, reduce_mean, reduce_min, reduce_prod,
                        reduce_sum, reduce_variance)

__all__ = ["install_operators"]


def _binary(op):
    def method(self, other):
        return op(self, other)

    def reflected(self, other):
        return op(other, self)
    return method, reflected


def _numpy_style(x, dtype, out, extra, method):
    if out is not None:
        raise TypeError(f"Tensor.{method}: out= is not supported (tensors are immutable); "
                        f"use the returned tensor")
    if extra.get("where", True) is True:  # NumPy passes where=True meaning "everywhere"
        extra.pop("where", None)
    if extra:
        raise TypeError(f"Tensor.{method}: unsupported arguments {sorted(extra)}")
    return x if dtype is None else cast(x, dtype)


# -- a few NumPy-style methods, for convenience ----------------------------------------------
# Their signatures accept NumPy's extra arguments, because np.mean(t, axis=0) and its kin
# call these methods with dtype= and out= (out must be None: tensors are immutable).

def _reshape(self, *shape):
    return reshape(self, shape[0] if len(shape) == 1 else shape)


def _astype(self, dtype):
    return cast(self, dtype)


def _sum(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    return reduce_sum(_numpy_style(self, dtype, out, kwargs, "sum"), axis, keepdims)


def _mean(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    x = _numpy_style(self, dtype, out, kwargs, "mean")
    if dtype is None and x.dtype.kind in "iub":
        x = cast(x, "float64")  # NumPy's mean of integers is a float64
    return reduce_mean(x, axis, keepdims)


def _prod(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    return reduce_prod(_numpy_style(self, dtype, out, kwargs, "prod"), axis, keepdims)


def _var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    x = _numpy_style(self, dtype, out, kwargs, "var")
    v = reduce_variance(x, axis, keepdims)
    if ddof:
        n = x.size // max(v.size, 1)
        v = v * (n / (n - ddof))
    return v


def _std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    return sqrt(self.var(axis, dtype, out, ddof, keepdims, **kwargs))


def _max(self, axis=None, out=None, keepdims=False, **kwargs):
    return reduce_max(_numpy_style(self, None, out, kwargs, "max"), axis, keepdims)


def _min(self, axis=None, out=None, keepdims=False, **kwargs):
    return reduce_min(_numpy_style(self, None, out, kwargs, "min"), axis, keepdims)


def _argmax(self, axis=None, out=None, **kwargs):
    x = _numpy_style(self, None, out, kwargs, "argmax")
    return argmax(reshape(x, (-1,)) if axis is None else x, 0 if axis is None else axis)


def _argmin(self, axis=None, out=None, **kwargs):
    x = _numpy_style(self, None, out, kwargs, "argmin")
    return argmin(reshape(x, (-1,)) if axis is None else x, 0 if axis is None else axis)


def _pos(self):
    return self


def install_operators():
    """Gives :class:`~chainrule.tensor.Tensor` its operators and NumPy-style methods, each
    one of these ops (called once, by ``chainrule.ops``'s ``__init__``)."""
    cls = Tensor
    for name, op in (("add", add), ("sub", subtract), ("mul", multiply),
                     ("truediv", divide), ("floordiv", floordiv), ("mod", mod),
                     ("pow", pow), ("matmul", matmul)):
        method, reflected = _binary(op)
        _set(cls, f"__{name}__", method)
        _set(cls, f"__r{name}__", reflected)
    for name, op in (("and", logical_and), ("or", logical_or), ("eq", equal),
                     ("ne", not_equal), ("lt", less), ("le", less_equal), ("gt", greater),
                     ("ge", greater_equal), ("getitem", getitem)):
        _set(cls, f"__{name}__", _binary(op)[0])
    cls.__neg__, cls.__abs__, cls.__invert__ = negative, abs, logical_not
    _set(cls, "__pos__", _pos)
    cls.T = property(transpose)
    for name, method in (("reshape", _reshape), ("astype", _astype), ("sum", _sum),
                         ("mean", _mean), ("prod", _prod), ("var", _var), ("std", _std),
                         ("max", _max), ("min", _min), ("argmax", _argmax),
                         ("argmin", _argmin)):
        _set(cls, name, method)


def _set(cls, name, method):
    method.__name__, method.__qualname__ = name, f"{cls.__name__}.{name}"
    setattr(cls, name, method)
