"""Turning op arguments into Tensors, with TensorFlow's dtype rules.

Tensors are *strongly* typed: an arithmetic op on two tensors of different dtypes is an
error with a hint, instead of NumPy's silent promotion (float32 + float64 would quietly
double the cost of everything after it). What is not yet a tensor (Python scalars, lists,
NumPy scalars and NumPy arrays) is converted to the dtype of the tensor it meets, as
TensorFlow converts it: ``w * np.linspace(-1, 4, 100)`` is float32 for a float32 ``w``.
A value that would lose its fractional part (0.5 for an integer tensor) is an error.
Two NumPy arrays with no tensor keep the strict rule.
"""

import functools
import numbers

import numpy as np

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor, _to_array

_WEAK = (numbers.Number, np.generic, list, tuple)


def convert_to_tensor(value, dtype=None, dtype_hint=None):
    """``value`` as a Tensor; a Tensor of the right dtype is returned as it is."""
    if isinstance(value, Tensor):
        if dtype is None or value._value.dtype == dtype:
            return value
        raise TypeError(f"convert_to_tensor: a tensor of dtype {value.dtype} was given where "
                        f"{dtypes.as_dtype(dtype)} is needed; use chainrule.cast to convert")
    if dtype is None and dtype_hint is not None and isinstance(value, _WEAK):
        dtype = dtype_hint
    return Tensor._wrap(_to_array(value, dtype))


def tensor_arg(x):
    """The fast path of conversion for single-input ops."""
    return x if isinstance(x, Tensor) else Tensor._wrap(_to_array(x))


def same_shape_tensors(values, op):
    """``values`` as a non-empty list of Tensors of one shape, or a ValueError naming ``op``."""
    tensors = [convert_to_tensor(v) for v in values]
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"{op}: all tensors need the same shape; got {sorted(shapes)}")
    return tensors


def _adopt(value, dtype, op):
    """A value that is not a tensor (scalar, list, NumPy array) as a tensor of ``dtype``."""
    kind = type(value)
    if (kind is float or kind is int) and dtype.kind == "f":  # the common case, fast
        return Tensor._wrap(dtype.type(value))
    if isinstance(value, np.ndarray):
        if value.dtype == dtype or value.dtype.kind == "b":
            # (A boolean array stays boolean: NumPy computes `g * mask` in g's dtype.)
            return Tensor._wrap(value)
        if value.dtype.kind not in "biuf" or dtype.kind not in "biuf":
            return Tensor._wrap(value)  # strings, objects, complex: the strict check says why
        if dtype.kind in "iub" and value.dtype.kind == "f" and _has_fraction(value):
            raise TypeError(f"{op}: cannot combine a float array with fractional values "
                            f"and a tensor of dtype {dtype}; cast the tensor first, e.g. "
                            f"chainrule.cast(x, 'float32')")
        return Tensor._wrap(value.astype(dtype))
    if isinstance(value, _WEAK):
        if dtype.kind in "iub" and _has_fraction(value):
            raise TypeError(f"{op}: cannot combine the non-integer value {value!r} with a "
                            f"tensor of dtype {dtype}; cast the tensor first, e.g. "
                            f"chainrule.cast(x, 'float32')")
        return Tensor._wrap(xp.asarray(value, dtype=dtype))
    return Tensor._wrap(_to_array(value))


def _has_fraction(value):
    a = np.asarray(value)
    return a.dtype.kind == "f" and bool(np.any(a != np.floor(a)))


def binary_args(op, a, b, strict=True):
    """Both operands as Tensors of one dtype (weak operands adopt the other's dtype)."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = _adopt(b, a._value.dtype, op)
    elif isinstance(b, Tensor):
        a = _adopt(a, b._value.dtype, op)
    else:
        a = Tensor._wrap(_to_array(a))
        b = Tensor._wrap(_to_array(b)) if isinstance(b, np.ndarray) else \
            _adopt(b, a._value.dtype, op)
    if strict and a._value.dtype != b._value.dtype and "b" not in (a.dtype.kind, b.dtype.kind):
        # (A boolean operand is allowed: NumPy computes in the other operand's dtype, so
        # `g * mask` masks without widening anything.)
        raise TypeError(
            f"{op}: operands have different dtypes, {a.dtype} and {b.dtype}. chainrule does "
            f"not promote silently (float64 doubles the cost of every later op); cast one "
            f"operand, e.g. chainrule.cast(x, '{a.dtype}').")
    return a, b


def normalize_axes(axis, ndim, op):
    """``axis`` (None, an int or a sequence) as None or a sorted tuple of non-negative ints."""
    if axis is None:
        return None
    items = (axis,) if isinstance(axis, (numbers.Integral, Tensor, np.ndarray)) and \
        np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in items:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def normalize_axis(axis, ndim, op):
    """One axis as a non-negative int."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
    return a % ndim


# -- symbolic values: a hook for a functional API built on top ----------------------------
#
# The core knows no symbolic tensor type. A package above it (chainrule.keras: KerasTensor)
# registers its types and a function that records an op call on them; every public op of
# chainrule.ops is wrapped by :func:`symbolic_aware`, which runs the op as it is and only
# when it fails on arguments that hold a registered symbolic value hands the call over.
# The eager path pays one call frame and no checks.

_symbolic = None  # (types, dispatch) once registered


def register_symbolic(types, dispatch):
    """Makes ops called on an instance of ``types`` (anywhere in their arguments) return
    ``dispatch(name, op, args, kwargs)`` instead of failing: ``name`` is the op's name in
    :data:`chainrule.ops.SYMBOLIC_OPS`, ``op`` the public function."""
    global _symbolic
    _symbolic = (tuple(types), dispatch)


def holds_symbolic(value):
    """Whether ``value`` (a structure of lists, tuples and dicts) holds a registered
    symbolic value."""
    if _symbolic is None:
        return False
    if isinstance(value, _symbolic[0]):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds_symbolic(v) for v in value)
    if isinstance(value, dict):
        return any(holds_symbolic(v) for v in value.values())
    return False


def symbolic_aware(name, fn):
    """``fn`` (a public op named ``name``) that hands calls on symbolic values to the
    registered dispatch (see :func:`register_symbolic`)."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            if not (holds_symbolic(args) or holds_symbolic(kwargs)):
                raise
        return _symbolic[1](name, op, args, kwargs)
    op._symbolic_name = name
    return op
