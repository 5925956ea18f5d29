"""Variable: mutable, named state (the weights of a model), and slices that assign into it.

A Variable is the only thing updated in place (``assign``, ``assign_add``, ``assign_sub``).
Layers and optimizers hold Variables; gradient tapes watch trainable ones automatically.
Each update is announced to this thread's listeners first (a graph tracer captures it as a
node) and stamps the Variable on the change clock afterwards (a tape refuses to
differentiate through a value that changed after it was read).
"""

import numbers

from .backend import xp
from .primitives import table as P
from .primitives.primitive import bind
from .recording import announce_read, announce_update, mark_changed, state as _recording
from .tensor import Tensor, _array_repr, _to_array, plain_index


class Variable(Tensor):
    """Mutable, named state: the weights of a model.

    ``assign``, ``assign_add`` and ``assign_sub`` change the value in place (the Variable
    keeps its identity, dtype and shape) and return the Variable. Reading a Variable in an
    op inside a :class:`~chainrule.GradientTape` makes the tape watch it when it is
    ``trainable``.

    >>> import chainrule as cr
    >>> v = cr.Variable([[1.0, 2.0], [3.0, 4.0]])
    >>> _ = v.assign_sub(0.5 * cr.ones((2, 2)))
    >>> v[0, 0].assign(9.0).numpy().tolist()
    [[9.0, 1.5], [2.5, 3.5]]
    """

    __slots__ = ("name", "trainable", "_changed", "constraint")
    _counts = {}

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, shape=None,
                 constraint=None):
        if callable(initial_value):
            initial_value = initial_value()
        value = _to_array(initial_value, dtype)
        if shape is not None and tuple(shape) != value.shape:
            raise ValueError(f"Variable: initial value has shape {value.shape}, "
                             f"but shape={tuple(shape)} was given")
        # A Variable owns its buffer: copy, so assigning never changes the caller's array.
        self._value = xp.array(value, copy=True)
        self._changed = 0
        self.trainable = True if trainable is None else bool(trainable)
        self.name = name if name is not None else _unique_name("Variable")
        # A projection (``weight -> weight``) that optimizers apply after each update, as
        # Keras's ``kernel_constraint``; None for none.
        self.constraint = constraint

    def numpy(self):
        """A copy of the current value (later assignments do not change it)."""
        if _recording.listeners:
            announce_read(self, "numpy")
        return self._value.copy()

    def __repr__(self):
        return (f"<chainrule.Variable '{self.name}' shape={self.shape} "
                f"dtype={self.dtype.name}, numpy={_array_repr(self._value)}>")

    def __getitem__(self, index):
        return _VariableSlice.of(self, index)

    def assign(self, value, read_value=True):
        """Sets the value in place; ``value`` must have this Variable's shape (or broadcast
        to it) and a dtype that casts safely to the Variable's."""
        if _recording.listeners:
            announce_update(self, "assign", value)
        xp.copyto(self._value, self._checked(value, "assign"))
        mark_changed(self)
        return self if read_value else None

    def assign_add(self, delta, read_value=True):
        if _recording.listeners:
            announce_update(self, "assign_add", delta)
        xp.add(self._value, self._checked(delta, "assign_add"), out=self._value)
        mark_changed(self)
        return self if read_value else None

    def assign_sub(self, delta, read_value=True):
        if _recording.listeners:
            announce_update(self, "assign_sub", delta)
        xp.subtract(self._value, self._checked(delta, "assign_sub"), out=self._value)
        mark_changed(self)
        return self if read_value else None

    def _checked(self, value, verb, target_shape=None):
        target_shape = self.shape if target_shape is None else target_shape
        if isinstance(value, Tensor):
            value = value._value
        elif isinstance(value, numbers.Number):
            return value  # a Python scalar adopts the Variable's dtype
        value = xp.asarray(value)
        if value.shape != target_shape:
            try:
                if xp.broadcast_shapes(value.shape, target_shape) != target_shape:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"Variable '{self.name}'.{verb}: value of shape {value.shape} does not fit "
                    f"the variable's shape {target_shape}. A Variable's shape is fixed; "
                    f"create a new Variable for a new shape.") from None
        if value.dtype != self.dtype and not xp.can_cast(value.dtype, self.dtype, "same_kind"):
            raise TypeError(
                f"Variable '{self.name}'.{verb}: value of dtype {value.dtype} cannot be stored "
                f"in a {self.dtype} variable; cast it first, e.g. chainrule.cast(value, "
                f"'{self.dtype}').")
        return value


class _VariableSlice(Tensor):
    """``v[index]``: a tensor holding the selected values that can also assign into ``v``."""

    __slots__ = ("_variable", "_index")

    @classmethod
    def of(cls, variable, index):
        # The read is an ordinary recorded getitem whose result is of this class, so
        # gradients flow through a slice as through any indexing.
        s = bind(P.getitem, (variable,), {"index": plain_index(index)}, cls)
        s._variable = variable
        s._index = index
        return s

    def assign(self, value, read_value=True):
        var = self._variable
        if _recording.listeners:
            announce_update(var, "assign", value, self._index)
        var._value[self._index] = var._checked(value, "assign", self._value.shape)
        mark_changed(var)
        return var if read_value else None

    def assign_add(self, delta, read_value=True):
        var = self._variable
        if _recording.listeners:
            announce_update(var, "assign_add", delta, self._index)
        var._value[self._index] += var._checked(delta, "assign_add", self._value.shape)
        mark_changed(var)
        return var if read_value else None

    def assign_sub(self, delta, read_value=True):
        var = self._variable
        if _recording.listeners:
            announce_update(var, "assign_sub", delta, self._index)
        var._value[self._index] -= var._checked(delta, "assign_sub", self._value.shape)
        mark_changed(var)
        return var if read_value else None


def _unique_name(base):
    n = Variable._counts.get(base, 0)
    Variable._counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"
