"""``chainrule.cond``: a branch on a tensor's value that a traced function keeps.

Eagerly, ``cond`` calls the branch the predicate picks, like an ``if``. Inside a traced
function (``chainrule.function``), where an ``if`` on a tensor would be fixed at the
branch taken while tracing, ``cond`` runs both branches and selects each output with
``where``, so every replay picks by the value it is given. Gradients flow into the branch
that was selected. A branch that updates a Variable cannot be selected this way (both
updates would happen); ``cond`` refuses it with a message saying what to do.
"""

import numpy as np

from . import nest, recording
from .ops import convert_to_tensor, where
from .tensor import Tensor

__all__ = ["cond"]


def cond(pred, true_fn=None, false_fn=None, name=None):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (``tf.cond``); both return the same
    structure of tensors (nested lists, tuples, dicts) of matching shapes and dtypes."""
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond: true_fn and false_fn must both be callables of no arguments")
    if not isinstance(pred, Tensor):
        return true_fn() if bool(pred) else false_fn()
    if pred.size != 1:
        raise ValueError(f"cond: pred must be a scalar boolean; received shape {pred.shape}")
    if not recording.listeners():  # eager: nothing is traced, so read the value
        return true_fn() if bool(np.asarray(pred._value).reshape(())) else false_fn()
    watch = _UpdateWatch()
    listeners = recording.listeners()
    listeners.append(watch)
    try:
        a, b = true_fn(), false_fn()
    finally:
        listeners.remove(watch)
    if watch.updated:
        raise ValueError(
            f"cond: a branch updates {', '.join(watch.updated[:3])} inside a traced function; "
            f"both branches run there and only values can be selected. Compute the new "
            f"value with cond (or where) and assign it once after, or run eagerly "
            f"(chainrule.config.run_functions_eagerly(True)).")
    if not nest.same_structure(a, b):  # (dicts match by key, in any order)
        raise ValueError(f"cond: the branches return different structures: {_describe(a)} "
                         f"and {_describe(b)}")
    p = pred if pred.dtype == np.bool_ else Tensor._wrap(np.asarray(pred._value, bool))

    def pick(x, y):
        x, y = convert_to_tensor(x), convert_to_tensor(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            raise ValueError(f"cond: the branches return tensors of different shapes or "
                             f"dtypes: {x.shape} {x.dtype.name} and {y.shape} {y.dtype.name}")
        return where(p.reshape(()) if p.ndim else p, x, y)
    return nest.map_structure(pick, a, b)


class _UpdateWatch:
    """A listener that notes Variable updates made while the branches run."""

    def __init__(self):
        self.updated = []

    def _record_update(self, variable, kind, value, index):
        self.updated.append(f"Variable {getattr(variable, 'name', '?')!r} ({kind})")

    def _record_effect(self, effect, inputs, params):
        self.updated.append(f"{effect!r}")

    def _record_read(self, tensor, what):
        pass


def _describe(obj):
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__} of {len(obj)}"
    if isinstance(obj, dict):
        return f"dict with keys {sorted(obj)}"
    return type(obj).__name__
