"""Tensor: an immutable value, and conversion to tensors.

A :class:`Tensor` wraps one NumPy array and never changes it. Its operators (``+``, ``@``,
``[]``, ...) and NumPy-style methods (``reshape``, ``sum``, ...) are functions of
:mod:`chainrule.ops`, which is where recording for gradients happens: the ops, defined
above this module, install them on the class when they are imported
(:func:`chainrule.ops.operators.install_operators`). This module knows nothing about tapes.

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
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self:
            n *= d
        return n

    def is_fully_defined(self):
        return all(d is not None for d in self)  # a TensorSpec's shape may leave some open

    def concatenate(self, other):
        return TensorShape(tuple(self) + tuple(other))

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):  # "(2, 3)" in messages and f-strings, as TensorFlow prints it
        return tuple.__repr__(self)


class TensorSpec:
    """What a tensor argument must be: a ``shape`` (``None`` for a size, or for the whole
    shape, left open), a ``dtype`` and an optional ``name`` (TensorFlow's ``TensorSpec``,
    for ``chainrule.function(input_signature=...)`` and ``get_concrete_function``).

    >>> import chainrule as cr
    >>> spec = cr.TensorSpec([None, 3], cr.float32)
    >>> spec, spec.is_compatible_with(cr.zeros((5, 3))), spec.is_compatible_with(cr.zeros(3))
    (TensorSpec(shape=(None, 3), dtype=tf.float32, name=None), True, False)
    """

    __slots__ = ("_shape", "dtype", "name")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = None if shape is None else tuple(
            None if d is None else int(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        return cls(tensor.shape, tensor.dtype, name)

    @property
    def shape(self):
        """A :class:`TensorShape` (sizes may be None), or None when the rank is open."""
        return None if self._shape is None else TensorShape(self._shape)

    def is_compatible_with(self, value):
        """Whether ``value`` (a tensor, an array or another spec) fits this spec."""
        shape = value._shape if isinstance(value, TensorSpec) else np.shape(value)
        dtype = value.dtype if isinstance(value, TensorSpec) else (
            getattr(value, "dtype", None) or np.asarray(value).dtype)
        if dtypes.as_dtype(dtype) != self.dtype:
            return False
        if self._shape is None or shape is None:
            return True
        return len(shape) == len(self._shape) and all(
            a is None or b is None or a == b for a, b in zip(self._shape, shape))

    def example(self, size=1):
        """Zeros of this spec, ``size`` along each open axis (a scalar for an open rank)."""
        shape = () if self._shape is None else tuple(size if d is None else d
                                                     for d in self._shape)
        return Tensor._wrap(np.zeros(shape, self.dtype))

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self._shape, self.dtype, self.name) == (
            other._shape, other.dtype, other.name)

    def __hash__(self):
        return hash((self._shape, self.dtype, self.name))

    def __repr__(self):
        shape = "<unknown>" if self._shape is None else tuple.__repr__(self._shape)
        name = None if self.name is None else repr(self.name)
        return f"TensorSpec(shape={shape}, dtype=tf.{dtypes.name_of(self.dtype)}, name={name})"


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

    # `_keras_mask`: the mask a Keras layer attached to its output (unset on most tensors;
    # read it with getattr(t, "_keras_mask", None)), as Keras 3 attaches one.
    __slots__ = ("_value", "_keras_mask")
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
                f"dtype={dtypes.name_of(self.dtype)}, numpy={_array_repr(self._value)}>")

    def __str__(self):
        return (f"chainrule.Tensor({_array_text(self._value)}, shape={self.shape}, "
                f"dtype={dtypes.name_of(self.dtype)})")

    # Tensors hash by identity (as in PyTorch), so Variables can key dicts and sets;
    # `==` stays element-wise and returns a boolean tensor.
    __hash__ = object.__hash__


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
    if dtype == dtypes.string:
        return _string_array(value)
    try:
        return xp.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise type(e)(f"cannot convert {type(value).__name__} to a tensor"
                      f"{'' if dtype is None else f' of dtype {dtype}'}: {e}") from None


def _string_array(value):
    """A tf.string array: an object array of bytes (str encoded as UTF-8)."""
    a = np.asarray(value, dtype=object)
    if a.ndim == 0:
        a = np.empty((), object)  # (np.asarray would treat a bytes value as a sequence)
        a[()] = value
    flat = a.reshape(-1)
    for i, item in enumerate(flat):
        if isinstance(item, str):
            flat[i] = item.encode("utf-8")
        elif isinstance(item, np.bytes_):
            flat[i] = bytes(item)
        elif not isinstance(item, bytes):
            raise TypeError(f"a tf.string tensor holds text (str or bytes); received "
                            f"{type(item).__name__} {item!r}")
    return a


def plain_index(index):
    """An index with Tensors replaced by arrays (and lists by arrays), NumPy-style."""
    if isinstance(index, tuple):
        return tuple(plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.numpy()
    if isinstance(index, list):
        return np.asarray(index)
    return index
