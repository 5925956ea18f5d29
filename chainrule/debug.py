"""Finding where a NaN or an infinity comes from: :func:`check_numerics`.

Inside ``with chainrule.debug.check_numerics():`` every op's output is checked as it is
made, in the forward pass and in the backward pass (a tape's sweep runs ops too). The
first one holding a NaN or an infinity raises :class:`NumericsError`, which names the op,
the layer that was running, the line of code that called it, and the range of each of the
op's inputs. ``model.fit(..., check_numerics=True)`` does the same and adds the epoch and
the batch.

It works as one more recorder of this thread (see :mod:`chainrule.recording`): with no
check active, no op pays anything for it.
"""

import contextlib
import os
import sys
import threading

import numpy as np

from . import recording
from .autodiff.tape import sweep

__all__ = ["check_numerics", "NumericsError", "layer_scope", "watching_layers"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Files that are machinery, not the code that asked for an op: an error points past them.
_MACHINERY = tuple(_PACKAGE + p for p in (
    "ops" + os.sep, "primitives" + os.sep, "autodiff" + os.sep, "compiler" + os.sep,
    "graph" + os.sep, "tensor.py", "variable.py", "recording.py", "debug.py", "math.py",
    "nn.py", "backend.py", "dtypes.py", os.path.join("keras", "activations.py")))


class NumericsError(FloatingPointError):
    """An op produced a NaN or an infinity while :func:`check_numerics` was on.

    Attributes: ``op`` (the op's name), ``layer`` (or None), ``phase`` ("forward" or
    "backward"), ``epoch`` and ``batch`` (0-based, or None outside ``fit``)."""

    def __init__(self, message, op=None, layer=None, phase=None, epoch=None, batch=None):
        super().__init__(message)
        self.op, self.layer, self.phase, self.epoch, self.batch = op, layer, phase, epoch, batch


class _State(threading.local):
    def __init__(self):
        self.layers = None  # the names of the layers running, while someone watches; else None


_state = _State()
_OFF = contextlib.nullcontext()


class _LayerScope:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        _state.layers.append(self.name)

    def __exit__(self, *exc):
        _state.layers.pop()
        return False


def layer_scope(name):
    """What ``Layer.__call__`` runs its ``call`` in: notes the layer while a checker watches
    (a shared no-op otherwise)."""
    return _OFF if _state.layers is None else _LayerScope(name)


def current_layer():
    """The path of the layer running now (``"sequential/dense_1"``), or None."""
    layers = _state.layers
    return "/".join(layers) if layers else None


@contextlib.contextmanager
def watching_layers():
    """Keeps track of the running layer inside the block (for checkers and diagnostics)."""
    saved = _state.layers
    if saved is None:
        _state.layers = []
    try:
        yield
    finally:
        _state.layers = saved


class NumericsChecker:
    """The recorder behind :func:`check_numerics`. ``epoch`` and ``batch`` are set by
    ``fit``; ``where`` says what else is running ("validation")."""

    _MAX_REMEMBERED = 10_000  # outputs kept to name the layer of a backward op

    def __init__(self):
        self.epoch = self.batch = self.steps = None
        self.where = None
        self._layer_of = {}  # id(output) -> (layer path, output): names backward ops' layers

    def new_batch(self, epoch=None, batch=None, where=None):
        self.epoch, self.batch, self.where = epoch, batch, where
        self._layer_of.clear()

    def _record(self, prim, inputs, params, out):
        value = out._value
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            raise self._error(prim, inputs, value)
        layers = _state.layers
        if layers:
            if len(self._layer_of) > self._MAX_REMEMBERED:
                self._layer_of.clear()
            self._layer_of[id(out)] = ("/".join(layers), out)

    def _error(self, prim, inputs, value):
        phase, rule_of, layer = "forward", None, current_layer()
        frame = sys._getframe(2)
        f = frame
        while f is not None:
            if f.f_code is sweep.__code__:  # inside the one reverse sweep every gradient runs
                phase, rule_of = "backward", f.f_locals.get("prim")
                forward_out = f.f_locals.get("out")
                known = self._layer_of.get(id(forward_out))
                layer = known[0] if known is not None and known[1] is forward_out else None
                break
            f = f.f_back
        bad = _count_bad(value)
        lines = [f"check_numerics: op '{prim.name}' produced {bad} "
                 f"(output shape {value.shape}, {value.dtype})"]
        if phase == "backward":
            rule = f"the derivative rule of '{rule_of.name}'" if rule_of is not None else "a derivative rule"
            lines.append(f"  in the backward pass, inside {rule}"
                         + (f" (the op ran in layer '{layer}')" if layer else ""))
        else:
            lines.append(f"  in the forward pass" + (f", in layer '{layer}'" if layer
                                                      else " (outside any layer)"))
        at, caller = _source_lines(frame)
        if at:
            lines.append(f"  at {at}")
        if caller and caller != at:
            lines.append(f"  called from {caller}")
        for i, x in enumerate(inputs):
            lines.append(f"  input {i}: {_summary(x._value)}")
        if self.epoch is not None:
            step = f", batch {self.batch + 1}" + (f" of {self.steps}" if self.steps else "") \
                if self.batch is not None else ""
            lines.append(f"  during epoch {self.epoch + 1}{step}"
                         + (f" ({self.where})" if self.where else ""))
        return NumericsError("\n".join(lines), op=prim.name, layer=layer, phase=phase,
                             epoch=self.epoch, batch=self.batch)


def _count_bad(value):
    nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
    parts = [f"NaN ({nan} of {value.size} values)"] if nan else []
    if inf:
        parts.append(f"inf ({inf} of {value.size} values)")
    return " and ".join(parts)


def _summary(a):
    a = np.asarray(a)
    if a.size == 0 or a.dtype.kind not in "biufc":
        return f"shape {a.shape} {a.dtype}"
    text = f"shape {a.shape} {a.dtype}"
    if a.dtype.kind in "fc":
        finite = a[np.isfinite(a)]
        rng = f"min {finite.min():.4g}, max {finite.max():.4g}" if finite.size else "no finite values"
        return f"{text}, {rng}, any NaN: {bool(np.isnan(a).any())}, any inf: {bool(np.isinf(a).any())}"
    return f"{text}, min {a.min()}, max {a.max()}"


def _source_lines(frame):
    """(the innermost line outside chainrule's machinery, the innermost outside chainrule)."""
    at = caller = None
    f = frame
    while f is not None and caller is None:
        name = os.path.abspath(f.f_code.co_filename)
        if at is None and not name.startswith(_MACHINERY):
            at = _describe(f)
        if not name.startswith(_PACKAGE):
            caller = _describe(f)
        f = f.f_back
    return at, caller


def _describe(frame):
    import linecache
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}: {text}"


@contextlib.contextmanager
def check_numerics():
    """Checks every op's output for NaN and infinity inside the block; the first one raises
    :class:`NumericsError` naming the op, the layer, the line and the inputs' ranges.

    >>> import chainrule as cr
    >>> with cr.debug.check_numerics():  # doctest: +ELLIPSIS
    ...     cr.sqrt(cr.constant([-1.0]))
    Traceback (most recent call last):
    chainrule.debug.NumericsError: check_numerics: op 'sqrt' produced NaN (1 of 1 values) ...
    """
    checker = NumericsChecker()
    recorders = recording.recorders()
    recorders.append(checker)
    try:
        with np.errstate(all="ignore"), watching_layers():
            yield checker
    finally:
        if checker in recorders:
            recorders.remove(checker)


# -- tf.print ------------------------------------------------------------------------------
class _Print:
    """``chainrule.print`` as a graph effect: a traced function keeps it as a node, so each
    run of the graph prints the values of that run (Python's ``print`` in a traced function
    prints once, while tracing). Its operands are the tensors printed; ``layout`` says where
    each goes among the other (Python) items."""

    name = "print"
    vjp = None
    why = "printing is a side effect, not a function of its inputs"

    def apply(self, *tensors, layout, sep, end, stream, summarize):
        if recording.listeners():  # traced (or replayed inside a trace): a node of the
            # graph, which prints when the graph runs; tracing itself prints nothing
            recording.announce_effect(self, tensors, {"layout": layout, "sep": sep, "end": end,
                                                      "stream": stream,
                                                      "summarize": summarize})
            return
        parts = [_format_value(tensors[x], summarize) if kind == "tensor" else str(x)
                 for kind, x in layout]
        stream = sys.stderr if stream is None else stream
        stream.write(sep.join(parts) + end)

    def changes(self, *tensors, **params):
        return []

    def __repr__(self):
        return "<effect print>"


PRINT = _Print()


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """TensorFlow's ``tf.print``: writes ``inputs`` (tensors as arrays, ``summarize`` items
    from each end of a long axis; other values as ``str``) to ``output_stream`` (standard
    error by default, as TensorFlow does). Inside :func:`chainrule.function` it prints at
    every call, not only while tracing.

    >>> import sys, chainrule as cr
    >>> cr.print("x:", cr.constant([1, 2, 3]), output_stream=sys.stdout)
    x: [1 2 3]
    """
    from .tensor import Tensor

    tensors, layout = [], []
    for x in inputs:
        if isinstance(x, (Tensor, np.ndarray)):
            layout.append(("tensor", len(tensors)))
            tensors.append(x if isinstance(x, Tensor) else Tensor._wrap(x))
        else:
            layout.append(("text", x))
    PRINT.apply(*tensors, layout=tuple(layout), sep=sep, end=end, stream=output_stream,
                summarize=summarize)


def _format_value(tensor, summarize):
    value = np.asarray(getattr(tensor, "_value", tensor))  # a compiled graph passes arrays
    if value.dtype.kind in "SUO" and value.ndim == 0:
        item = value.item()
        return item.decode() if isinstance(item, bytes) else str(item)
    if value.ndim == 0:
        return f"{value.item():g}" if value.dtype.kind == "f" else str(value.item())
    threshold = value.size + 1 if summarize is None or summarize < 0 else 2 * summarize
    return np.array2string(value, separator=" ", threshold=threshold,
                           edgeitems=max(summarize or 0, 1), max_line_width=10**6,
                           formatter={"float_kind": lambda v: f"{v:g}", "int_kind": str})
