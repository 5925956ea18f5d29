"""``tf.Module``: a named container whose Variables are found by walking its attributes.

As in TensorFlow, ``variables`` and ``trainable_variables`` are tuples: this module's own
Variables first (attributes in sorted name order, looking inside lists, tuples and dicts),
then those of its submodules in the same order, each Variable once. A Keras layer held in
an attribute contributes its weights.
"""

import contextlib
import re

from .variable import Variable

__all__ = ["Module"]


class Module:
    """Base class for objects that own Variables and other Modules.

    >>> import chainrule as tf
    >>> class Scale(tf.Module):
    ...     def __init__(self, name=None):
    ...         super().__init__(name=name)
    ...         self.w = tf.Variable(2.0, name="w")
    ...         self.frozen = tf.Variable(1.0, trainable=False, name="frozen")
    ...     def __call__(self, x):
    ...         return self.w * x + self.frozen
    >>> m = Scale()
    >>> m.name, len(m.variables), [v.name for v in m.trainable_variables]
    ('scale', 2, ['w'])
    """

    def __init__(self, name=None):
        if name is None:
            name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(self).__name__).lower()
        elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", name):
            raise ValueError(f"{name!r} is not a valid module name: use letters, digits and "
                             f"_ . - / , starting with a letter or _")
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        """A context manager, for TensorFlow compatibility (names are not scoped here)."""
        return contextlib.nullcontext()

    @property
    def variables(self):
        """Every Variable of this module and its submodules, as a tuple."""
        return tuple(_flatten(self, lambda v: isinstance(v, Variable), set()))

    @property
    def trainable_variables(self):
        """The Variables with ``trainable=True``, as a tuple."""
        return tuple(_flatten(self, lambda v: isinstance(v, Variable) and v.trainable, set()))

    @property
    def non_trainable_variables(self):
        return tuple(_flatten(self, lambda v: isinstance(v, Variable) and not v.trainable,
                              set()))

    @property
    def submodules(self):
        """Every Module below this one, as a tuple: the direct ones, then theirs."""
        return tuple(_flatten(self, lambda v: isinstance(v, Module), {id(self)}))

    @classmethod
    def with_name_scope(cls, method):
        """A decorator, for TensorFlow compatibility: returns ``method`` unchanged."""
        return method

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} object named {self.name!r}>"


def _attribute_leaves(module):
    """The values in ``module``'s attributes, sorted by attribute name, with lists, tuples
    and dicts (sorted by key) opened up."""
    out = []
    for key in sorted(vars(module)):
        stack = [vars(module)[key]]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value[k] for k in sorted(value, key=str, reverse=True))
            elif isinstance(value, (list, tuple)):
                stack.extend(reversed(value))
            else:
                out.append(value)
    return out


def _flatten(module, keep, seen):
    """What ``keep`` accepts among ``module``'s attribute values, then (recursively) among
    its submodules', each object once: TensorFlow's order. Module trees are shallow, so
    recursion is fine here."""
    out, submodules = [], []
    for leaf in _attribute_leaves(module):
        if hasattr(leaf, "trainable_variables") and hasattr(leaf, "weights") and \
                not isinstance(leaf, Module):
            leaves = list(leaf.weights)  # a Keras layer: its weights
        else:
            leaves = [leaf]
        for item in leaves:
            if id(item) in seen:
                continue
            seen.add(id(item))
            if keep(item):
                out.append(item)
            if isinstance(item, Module):
                submodules.append(item)
    for sub in submodules:
        out.extend(_flatten(sub, keep, seen))
    return out
