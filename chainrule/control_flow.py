"""``chainrule.cond``: a branch on a tensor's value that a traced function keeps; with
``while_loop`` (a Python loop whose tests on tensors are guards in a trace), ``TensorArray``
(a list of tensors, written one by one and stacked) and ``init_scope``.

Eagerly, ``cond`` calls the branch the predicate picks, like an ``if``. Inside a traced
function (``chainrule.function``), where an ``if`` on a tensor would be fixed at the
branch taken while tracing, ``cond`` runs both branches and selects each output with
``where``, so every replay picks by the value it is given. Gradients flow into the branch
that was selected. A branch that updates a Variable cannot be selected this way (both
updates would happen); ``cond`` refuses it with a message saying what to do.
"""

import numpy as np

import contextlib

from . import dtypes, nest, recording
from .ops import concat, convert_to_tensor, stack, unstack, where
from .tensor import Tensor

__all__ = ["cond", "while_loop", "TensorArray", "init_scope"]


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


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, maximum_iterations=None, name=None):
    """Repeats ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` is true and
    returns the final ``loop_vars`` (``tf.while_loop``). A list or tuple of loop variables is
    passed to ``cond`` and ``body`` positionally, anything else (one tensor, a dict) as one
    argument; ``body`` returns the same structure, each tensor keeping its dtype and, unless
    ``shape_invariants`` leaves a dimension open (None), its shape. ``maximum_iterations``
    stops the loop after that many runs of ``body`` whatever ``cond`` says.

    The loop runs in Python. Inside ``chainrule.function`` each test of ``cond`` on a traced
    tensor is a guard, so the graph is the loop unrolled for the number of iterations it
    ran, and inputs that loop a different number of times trace that path (see
    :mod:`chainrule.graph.capture`). Gradients flow through every iteration (``back_prop``
    False stops them, as ``tf.stop_gradient`` on the results would).

    >>> import chainrule as cr
    >>> i, total = cr.while_loop(lambda i, t: i < 4, lambda i, t: (i + 1, t + i),
    ...                          (cr.constant(0), cr.constant(0)))
    >>> int(i), int(total)
    (4, 6)
    """
    if not callable(cond) or not callable(body):
        raise TypeError("while_loop: cond and body must be callables")
    if parallel_iterations < 1:
        raise ValueError(f"while_loop: parallel_iterations must be a positive integer; "
                         f"received {parallel_iterations}")
    positional = isinstance(loop_vars, (list, tuple))
    if positional and not loop_vars:
        raise ValueError("while_loop: no loop variables given (loop_vars is empty)")
    if maximum_iterations is not None:
        maximum_iterations = int(maximum_iterations)
        if maximum_iterations < 0:
            raise ValueError(f"while_loop: maximum_iterations must be >= 0; received "
                             f"{maximum_iterations}")
    first = nest.flatten(loop_vars)
    invariants = None if shape_invariants is None else _invariants(shape_invariants, loop_vars, positional)

    def call(fn):
        return fn(*loop_vars) if positional else fn(loop_vars)

    iterations = 0
    while maximum_iterations is None or iterations < maximum_iterations:
        if not _test(call(cond)):
            break
        out = call(body)
        if positional and len(loop_vars) == 1 and not isinstance(out, (list, tuple)):
            out = [out]  # a body of one loop variable may return it bare
        if _skeleton(out) != _skeleton(loop_vars):
            raise ValueError(f"while_loop: body returned {nest._describe(out)}; the loop "
                             f"variables are {nest._describe(loop_vars)} (the same structure "
                             f"is needed)")
        leaves = nest.flatten(out)
        for k, (old, new) in enumerate(zip(first, leaves)):
            _check_invariant(k, old, new, None if invariants is None else invariants[k])
        loop_vars = nest.pack_sequence_as(loop_vars, leaves)
        iterations += 1
    if not back_prop:
        from .ops import stop_gradient  # noqa: PLC0415
        loop_vars = nest.map_structure(
            lambda x: stop_gradient(x) if isinstance(x, Tensor) else x, loop_vars)
    return loop_vars


def _test(c):
    """The loop test's answer. On a traced tensor it is a guard of the trace, also in a
    function traced with ``autograph=False`` (where a Python ``if`` on it is an error)."""
    if not isinstance(c, Tensor):
        return bool(c)
    if c.size != 1:
        raise ValueError(f"while_loop: cond must return a scalar boolean; it returned shape "
                         f"{c.shape}")
    if recording.listeners():
        recording.announce_read(c, "while_loop")
    return bool(np.asarray(c._value).reshape(()).item())


def _skeleton(x):
    if isinstance(x, dict):
        return ("dict", tuple(sorted((k, _skeleton(v)) for k, v in x.items())))
    if isinstance(x, (list, tuple)):  # a list and a tuple of the same items match, as in TF
        return ("seq", tuple(_skeleton(v) for v in x))
    return "leaf"


def _invariants(shape_invariants, loop_vars, positional):
    """One shape (a tuple with None for open dimensions) or None per loop variable."""
    shapes = list(shape_invariants) if positional else [shape_invariants]
    n = len(nest.flatten(loop_vars))
    if len(shapes) != n:
        raise ValueError(f"while_loop: {len(shapes)} shape invariant(s) for {n} loop "
                         f"variable(s); give one shape per loop variable")
    return [None if s is None else tuple(None if d is None else int(d) for d in
                                         (s.as_list() if hasattr(s, "as_list") else s))
            for s in shapes]


def _check_invariant(k, old, new, invariant):
    if not isinstance(old, Tensor):
        return
    new_t = convert_to_tensor(new)
    if new_t.dtype != old.dtype:
        raise TypeError(f"while_loop: loop variable {k} entered the loop as {old.dtype.name} "
                        f"and the body returned {new_t.dtype.name}; cast it in the body")
    shape = tuple(old.shape) if invariant is None else invariant
    if len(shape) != new_t.ndim or any(d is not None and d != n
                                       for d, n in zip(shape, new_t.shape)):
        raise ValueError(f"while_loop: loop variable {k} has shape {tuple(old.shape)} before "
                         f"the loop and {tuple(new_t.shape)} after an iteration"
                         + ("" if invariant is None else f" (its shape invariant is {shape})")
                         + "; give shape_invariants with None for the dimensions that change")


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


class TensorArray:
    """TensorFlow's ``TensorArray``: tensors of one dtype written by index and read back,
    stacked or concatenated. ``write`` returns the array to use next, as in TensorFlow.
    A traced function unrolls the Python loop that fills it, so its graph holds each
    write; ``size`` is fixed unless ``dynamic_size=True``.

    >>> import chainrule as cr
    >>> ta = cr.TensorArray(cr.float32, size=2)
    >>> ta = ta.write(0, cr.constant([1.0, 2.0])).write(1, cr.constant([3.0, 4.0]))
    >>> ta.stack().numpy().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):
        self.dtype = dtypes.as_dtype(dtype)
        self.dynamic_size = bool(dynamic_size)
        self._items = [None] * (0 if size is None else int(size))
        self.element_shape = element_shape

    def _index(self, index, writing):
        i = int(index)
        if i < 0 or (i >= len(self._items) and not (writing and self.dynamic_size)):
            raise IndexError(f"TensorArray: index {i} is out of range for size "
                             f"{len(self._items)}" + ("" if self.dynamic_size else
                                                      " (dynamic_size=False)"))
        return i

    def write(self, index, value, name=None):
        value = convert_to_tensor(value, dtype=self.dtype)
        i = self._index(index, writing=True)
        out = self._copy()
        out._items.extend([None] * (i + 1 - len(out._items)))
        out._items[i] = value
        return out

    def read(self, index, name=None):
        value = self._items[self._index(index, writing=False)]
        if value is None:
            raise ValueError(f"TensorArray: index {int(index)} was never written")
        return value

    def size(self, name=None):
        return convert_to_tensor(len(self._items), dtype=dtypes.int32)

    def _written(self):
        missing = [i for i, v in enumerate(self._items) if v is None]
        if missing:
            raise ValueError(f"TensorArray: indices {missing[:5]} were never written")
        return self._items

    def stack(self, name=None):
        """The elements stacked on a new first axis."""
        if not self._items:
            return convert_to_tensor([], dtype=self.dtype)
        return stack(self._written(), axis=0)

    def gather(self, indices, name=None):
        return stack([self.read(i) for i in np.asarray(indices).reshape(-1)], axis=0)

    def concat(self, name=None):
        return concat(self._written(), axis=0)

    def unstack(self, value, name=None):
        out = self._copy()
        out._items = list(unstack(convert_to_tensor(value, dtype=self.dtype), axis=0))
        return out

    def scatter(self, indices, value, name=None):
        out = self
        for i, v in zip(np.asarray(indices).reshape(-1), unstack(convert_to_tensor(value))):
            out = out.write(i, v)
        return out

    def _copy(self):
        out = object.__new__(TensorArray)
        out.__dict__.update(self.__dict__, _items=list(self._items))
        return out


@contextlib.contextmanager
def init_scope():
    """Runs the block outside any recording (TensorFlow's ``tf.init_scope``): in a traced
    function its ops and Variable updates happen once, while tracing, and are not part of
    the graph (the usual use: making or initialising state on the first call)."""
    saved = recording.state.recorders, recording.state.listeners
    recording.state.recorders, recording.state.listeners = [], []
    try:
        yield
    finally:
        recording.state.recorders, recording.state.listeners = saved
