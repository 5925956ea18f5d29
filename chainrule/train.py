"""``tf.train``: :class:`Checkpoint`, the Variables of a few objects saved under the paths
of attributes that reach them, and :func:`list_variables`.

``Checkpoint(model=m).write("ckpt")`` writes ``ckpt.chainrule-ckpt``, a NumPy ``.npz`` of
arrays named like TensorFlow's keys (``model/dense_1/w/.ATTRIBUTES/VARIABLE_VALUE``), read
back without unpickling. ``restore`` walks the objects it is given the same way and assigns
every Variable whose path the file holds; a path that differs (a renamed attribute, another
architecture) is reported by the status's ``assert_consumed()``.
"""

import os
import types

import numpy as np

from .variable import Variable

__all__ = ["Checkpoint", "list_variables", "load_variable"]

SUFFIX = ".chainrule-ckpt"
_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"


def _variables(root_name, obj):
    """``{path: Variable}`` for every Variable reachable from ``obj`` through attributes,
    lists, tuples and dicts (each Variable once, under the first path that finds it)."""
    found, seen = {}, set()
    stack = [(root_name, obj)]
    while stack:
        path, value = stack.pop()
        if id(value) in seen:
            continue
        if isinstance(value, Variable):
            seen.add(id(value))
            found[f"{path}/{_VALUE}"] = value
            continue
        if isinstance(value, dict):
            items = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(value)]
        elif _may_hold_variables(value):
            items = [(k, v) for k, v in vars(value).items() if not k.startswith("__")]
        else:
            continue
        seen.add(id(value))
        # Pushed in reverse, so the walk visits attributes in their order.
        stack.extend((f"{path}/{name}", child) for name, child in reversed(items)
                     if _may_hold_variables(child))
    return found


def _may_hold_variables(value):
    """Variables, containers, and objects with attributes (modules, layers, optimizers);
    not classes, functions or Python modules."""
    if isinstance(value, (Variable, dict, list, tuple)):
        return True
    return hasattr(value, "__dict__") and not isinstance(
        value, (type, types.FunctionType, types.MethodType, types.ModuleType))


def _path(file_prefix):
    file_prefix = os.fspath(file_prefix)
    return file_prefix if file_prefix.endswith(SUFFIX) else file_prefix + SUFFIX


class Checkpoint:
    """The Variables of the objects given by keyword (``Checkpoint(model=m, optimizer=o)``),
    written with :meth:`write` (or :meth:`save`, which numbers the files) and read back
    into the same kind of objects with :meth:`restore`.

    >>> import chainrule as cr, tempfile, os
    >>> m = cr.Module(); m.w = cr.Variable([1.0, 2.0])
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> path = cr.train.Checkpoint(model=m).write(prefix)
    >>> _ = m.w.assign([0.0, 0.0])
    >>> _ = cr.train.Checkpoint(model=m).restore(prefix)
    >>> m.w.numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(self, root=None, **kwargs):
        self._objects = dict(kwargs)
        if root is not None:
            self._objects["root"] = root
        self._save_counter = 0

    def _all_variables(self):
        out = {}
        for name, obj in self._objects.items():
            out.update(_variables(name, obj))
        return out

    def write(self, file_prefix):
        """Writes every Variable to ``file_prefix`` + ``.chainrule-ckpt``; returns that path."""
        path = _path(file_prefix)
        arrays = {key: v.numpy() for key, v in self._all_variables().items()}
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    def save(self, file_prefix):
        """:meth:`write` to ``file_prefix-N``, N counting this checkpoint's saves from 1."""
        self._save_counter += 1
        return self.write(f"{os.fspath(file_prefix)}-{self._save_counter}")

    def read(self, save_path):
        return self.restore(save_path)

    def restore(self, save_path):
        """Assigns each Variable the value its path has in the file; returns a status whose
        ``assert_consumed()`` raises if some of the file's values or the objects' Variables
        were not matched."""
        if save_path is None:
            return _Status([], [])
        with np.load(_path(save_path), allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
        variables = self._all_variables()
        for key, variable in variables.items():
            if key in stored:
                value = stored[key]
                if value.shape != tuple(variable.shape):
                    raise ValueError(f"Checkpoint.restore: {key} has shape {value.shape} in "
                                     f"{_path(save_path)}, but the Variable has shape "
                                     f"{tuple(variable.shape)}")
                variable.assign(value.astype(variable.dtype))
        return _Status(sorted(set(stored) - set(variables)), sorted(set(variables) - set(stored)))


class _Status:
    """What :meth:`Checkpoint.restore` could not match."""

    def __init__(self, unused, missing):
        self.unused, self.missing = unused, missing

    def assert_consumed(self):
        if self.unused or self.missing:
            raise AssertionError(f"Checkpoint.restore: values in the file matched no "
                                 f"Variable: {self.unused[:5]}; Variables the file has no "
                                 f"value for: {self.missing[:5]}")
        return self

    def expect_partial(self):
        return self

    assert_existing_objects_matched = assert_consumed


def list_variables(ckpt):
    """``[(name, shape), ...]`` of the values a checkpoint file holds, sorted by name."""
    with np.load(_path(ckpt), allow_pickle=False) as data:
        return sorted((key, list(data[key].shape)) for key in data.files)


def load_variable(ckpt, name):
    """One value of a checkpoint file, by its name."""
    with np.load(_path(ckpt), allow_pickle=False) as data:
        return data[name]
