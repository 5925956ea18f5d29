"""Tensor: an immutable value, and conversion to tensors.

A :class:`Tensor` wraps one NumPy array and never changes it. Its operators call the
functions in :mod:`chainrule.ops`, which is where recording for gradients happens; this
module knows nothing about tapes.

A :class:`Variable` is the only thing updated in place (``assign``, ``assign_add``,
``assign_sub``). Layers and optimizers hold Variables; gradient tapes watch trainable ones
automatically.
"""

import numpy as np

from . import dtypes
from .backend import xp
from .recording import announce_read, state as _recording


class TensorShape(tuple):
    """A tensor's shape: a tuple of ints (so ``shape == (2, 3)`` and unpacking work), with
    TensorFlow's ``TensorShape`` methods. Dimensions are always known in chainrule."""

    __slots__ = ()

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    @property
    def dims(self):
        return list(self)

    def num_elements(self):
        n = 1
        for d in self:
            n *= d
        return n

    def is_fully_defined(self):
        return True

    def concatenate(self, other):
        return TensorShape(tuple(self) + tuple(other))

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):  # "(2, 3)" in messages and f-strings, as TensorFlow prints it
        return tuple.__repr__(self)


class Tensor:
    """An immutable n-dimensional array of one dtype.

    Make one with :func:`chainrule.constant` (or any op). It behaves like a NumPy array for
    reading: ``shape``, ``ndim``, ``dtype``, indexing, arithmetic with broadcasting, ``@``,
    comparisons, ``len()``, ``float()`` on scalars, f-string formats, and ``np.asarray(t)``.

    >>> import chainrule as cr
    >>> x = cr.constant([[1.0, 2.0], [3.0, 4.0]])
    >>> (2 * x + 1).numpy().tolist()
    [[3.0, 5.0], [7.0, 9.0]]
    >>> x.shape, x.dtype
    (TensorShape([2, 2]), dtype('float32'))
    >>> x.shape == (2, 2), x.shape.as_list()
    (True, [2, 2])
    """

    __slots__ = ("_value",)
    # Makes `ndarray <op> Tensor` defer to Tensor's reflected operator, so the result is a
    # Tensor that a tape can record (NumPy would otherwise loop over the tensor as an object).
    __array_priority__ = 100

    def __init__(self, value, dtype=None):
        self._value = _to_array(value, dtype)

    @classmethod
    def _wrap(cls, array):
        """Wraps an array the caller gives up (no copy, no checks): the ops' fast path."""
        t = object.__new__(cls)
        t._value = array
        return t

    # -- reading -------------------------------------------------------------------------
    @property
    def shape(self):
        return TensorShape(self._value.shape)

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def size(self):
        return self._value.size

    def numpy(self):
        """The value as a NumPy array (shared with the tensor: treat it as read-only)."""
        if _recording.listeners:
            announce_read(self, "numpy")
        v = self._value
        return v if isinstance(v, np.ndarray) else np.asarray(v)

    def __array__(self, dtype=None, copy=None):
        if _recording.listeners:
            announce_read(self, "np.asarray")
        a = np.asarray(self._value)
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a scalar tensor (shape ()); it has no first dimension")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("iteration over a scalar tensor (shape ())")
        for i in range(self._value.shape[0]):
            yield self[i]

    def _scalar(self, what):
        if _recording.listeners:
            announce_read(self, what)
        if self._value.size != 1:
            raise TypeError(
                f"{what}() needs a tensor with exactly one element; this one has shape "
                f"{self.shape}. Reduce it first (e.g. chainrule.reduce_sum) or index it.")
        return self._value.reshape(()).item()

    def __bool__(self):
        return bool(self._scalar("bool"))

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if not dtypes.is_integer(self.dtype):
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self._scalar("index"))

    def __format__(self, spec):
        if not spec:
            return str(self)
        if self._value.size == 1 and self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        return (f"<chainrule.{type(self).__name__}: shape={self.shape}, "
                f"dtype={self.dtype.name}, numpy={_array_repr(self._value)}>")

    def __str__(self):
        return (f"chainrule.Tensor({_array_text(self._value)}, shape={self.shape}, "
                f"dtype={self.dtype.name})")

    # Tensors hash by identity (as in PyTorch), so Variables can key dicts and sets;
    # `==` stays element-wise and returns a boolean tensor.
    __hash__ = object.__hash__

    # -- operators: each is one function of chainrule.ops --------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.subtract(self, other)

    def __rsub__(self, other):
        return ops.subtract(other, self)

    def __mul__(self, other):
        return ops.multiply(self, other)

    def __rmul__(self, other):
        return ops.multiply(other, self)

    def __truediv__(self, other):
        return ops.divide(self, other)

    def __rtruediv__(self, other):
        return ops.divide(other, self)

    def __floordiv__(self, other):
        return ops.floordiv(self, other)

    def __rfloordiv__(self, other):
        return ops.floordiv(other, self)

    def __mod__(self, other):
        return ops.mod(self, other)

    def __rmod__(self, other):
        return ops.mod(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __invert__(self):
        return ops.logical_not(self)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __or__(self, other):
        return ops.logical_or(self, other)

    def __eq__(self, other):
        return ops.equal(self, other)

    def __ne__(self, other):
        return ops.not_equal(self, other)

    def __lt__(self, other):
        return ops.less(self, other)

    def __le__(self, other):
        return ops.less_equal(self, other)

    def __gt__(self, other):
        return ops.greater(self, other)

    def __ge__(self, other):
        return ops.greater_equal(self, other)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    @property
    def T(self):
        return ops.transpose(self)

    # -- a few NumPy-style methods, for convenience --------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype):
        return ops.cast(self, dtype)

    # Their signatures accept NumPy's extra arguments, because np.mean(t, axis=0) and its
    # kin call these methods with dtype= and out= (out must be None: tensors are immutable).
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return ops.reduce_sum(_numpy_style(self, dtype, out, kwargs, "sum"), axis, keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        x = _numpy_style(self, dtype, out, kwargs, "mean")
        if dtype is None and x.dtype.kind in "iub":
            x = ops.cast(x, "float64")  # NumPy's mean of integers is a float64
        return ops.reduce_mean(x, axis, keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return ops.reduce_prod(_numpy_style(self, dtype, out, kwargs, "prod"), axis, keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        x = _numpy_style(self, dtype, out, kwargs, "var")
        v = ops.reduce_variance(x, axis, keepdims)
        if ddof:
            n = x.size // max(v.size, 1)
            v = v * (n / (n - ddof))
        return v

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        return ops.sqrt(self.var(axis, dtype, out, ddof, keepdims, **kwargs))

    def max(self, axis=None, out=None, keepdims=False, **kwargs):
        return ops.reduce_max(_numpy_style(self, None, out, kwargs, "max"), axis, keepdims)

    def min(self, axis=None, out=None, keepdims=False, **kwargs):
        return ops.reduce_min(_numpy_style(self, None, out, kwargs, "min"), axis, keepdims)

    def argmax(self, axis=None, out=None, **kwargs):
        x = _numpy_style(self, None, out, kwargs, "argmax")
        return ops.argmax(ops.reshape(x, (-1,)) if axis is None else x, 0 if axis is None else axis)

    def argmin(self, axis=None, out=None, **kwargs):
        x = _numpy_style(self, None, out, kwargs, "argmin")
        return ops.argmin(ops.reshape(x, (-1,)) if axis is None else x, 0 if axis is None else axis)


def _numpy_style(x, dtype, out, extra, method):
    if out is not None:
        raise TypeError(f"Tensor.{method}: out= is not supported (tensors are immutable); "
                        f"use the returned tensor")
    if extra.get("where", True) is True:  # NumPy passes where=True meaning "everywhere"
        extra.pop("where", None)
    if extra:
        raise TypeError(f"Tensor.{method}: unsupported arguments {sorted(extra)}")
    return x if dtype is None else ops.cast(x, dtype)


def _array_text(a):
    return np.array2string(np.asarray(a), separator=", ", threshold=100)


def _array_repr(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return repr(a.item())
    text = repr(a)
    return "\n" + text if "\n" in text else text


def _to_array(value, dtype=None):
    """NumPy array from a Python/NumPy/Tensor value under the dtype rules of
    :mod:`chainrule.dtypes`."""
    if isinstance(value, Tensor):
        value = value._value
        return value if dtype is None else xp.asarray(value, dtype=dtypes.as_dtype(dtype))
    if dtype is None:
        dtype = dtypes.default_dtype_of(value)
        if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
            value = [np.asarray(v) for v in value]
    else:
        dtype = dtypes.as_dtype(dtype)
    try:
        return xp.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise type(e)(f"cannot convert {type(value).__name__} to a tensor"
                      f"{'' if dtype is None else f' of dtype {dtype}'}: {e}") from None


def as_tensor(value, dtype=None):
    """``value`` as a Tensor (returned unchanged when it already is one of that dtype)."""
    if isinstance(value, Tensor):
        if dtype is None or value.dtype == dtype:
            return value
        return ops.cast(value, dtype)
    return Tensor._wrap(_to_array(value, dtype))


from . import ops  # noqa: E402  (ops builds on Tensor; operators above resolve it at call time)
