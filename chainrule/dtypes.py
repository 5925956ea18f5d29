"""Data types, and the rules that decide a new tensor's dtype.

chainrule's dtypes are NumPy dtype objects, so ``t.dtype == chainrule.float32``,
``t.dtype == "float32"`` and ``t.dtype == np.float32`` all hold, and a dtype can be handed
to NumPy unchanged.

The conversion rules follow TensorFlow rather than NumPy where they differ:

* a Python ``float`` becomes float32 and a Python ``int`` becomes int32 (NumPy would pick
  float64 and int64, doubling the cost of every later op);
* a NumPy array keeps its dtype;
* a Python scalar (or NumPy scalar) combined with a tensor takes the tensor's dtype, so
  ``2 * x + 3`` stays float32.
"""

import builtins
import numbers

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
uint16 = np.dtype("uint16")
uint32 = np.dtype("uint32")
uint64 = np.dtype("uint64")
bool_ = np.dtype("bool")
bool = bool_  # noqa: A001  (TensorFlow spells it tf.bool)
# TensorFlow's tf.string: each element is a bytes object (text is stored UTF-8 encoded), held
# in a NumPy object array. Tensors of it can be made, compared (==, tf.equal), reshaped,
# stacked, indexed and printed; arithmetic and the tf.strings ops are not in chainrule.
string = np.dtype(object)

DEFAULT_FLOAT = float32
DEFAULT_INT = int32

__all__ = [
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool_", "string", "as_dtype", "is_floating",
    "is_integer", "default_dtype_of", "name_of",
]


# TensorFlow's DataType enum numbers (``tf.zeros(3, 1)`` passes float32 as 1).
_TF_ENUM = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
            9: "int64", 10: "bool", 17: "uint16", 19: "float16", 22: "uint32", 23: "uint64",
            7: "object"}


def as_dtype(dtype):
    """A NumPy dtype from a dtype, a type, a name such as ``"float32"``, or TensorFlow's
    DataType enum number (1 is float32)."""
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in ("string", "tf.string"):  # NumPy's "string" is bytes
        return string
    if isinstance(dtype, int) and not isinstance(dtype, builtins.bool):
        if dtype not in _TF_ENUM:
            raise TypeError(f"not a dtype: {dtype!r} is not one of TensorFlow's DataType "
                            f"numbers chainrule has ({sorted(_TF_ENUM)}); use e.g. "
                            f"chainrule.float32 or 'float32'")
        return np.dtype(_TF_ENUM[dtype])
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}; use e.g. chainrule.float32 or 'float32'") from None


def is_floating(dtype):
    return dtype.kind == "f"


def is_integer(dtype):
    return dtype.kind in "iu"


def name_of(dtype):
    """A dtype's name as TensorFlow prints it (``float32``; ``string`` for tf.string)."""
    return "string" if dtype == string else dtype.name


def default_dtype_of(value):
    """The dtype a Python value becomes when no dtype is asked for (TensorFlow's rule)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, (str, bytes)):
        return string
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(value, numbers.Integral):
        return DEFAULT_INT
    if isinstance(value, numbers.Real):
        return DEFAULT_FLOAT
    if isinstance(value, (list, tuple)):
        kinds = _scalar_kinds(value)
        if "f" in kinds:
            return DEFAULT_FLOAT
        if "i" in kinds:
            return DEFAULT_INT
        if kinds == {"b"}:
            return bool_
        if kinds == {"s"}:
            return string
        if not kinds:  # an empty list
            return DEFAULT_FLOAT
    return None  # let NumPy decide (nested arrays, exotic objects)




def _scalar_kinds(seq):
    kinds = set()
    stack = [seq]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (builtins.bool, np.bool_)):
            kinds.add("b")
        elif isinstance(item, numbers.Integral):
            kinds.add("i")
        elif isinstance(item, numbers.Real):
            kinds.add("f")
        elif isinstance(item, (str, bytes)):
            kinds.add("s")
        elif isinstance(item, (np.ndarray, np.generic)) or hasattr(item, "__array__"):
            kinds.add("f" if np.asarray(item).dtype.kind == "f" else "i")
        else:
            kinds.add("?")
    return kinds
