"""Compiled steps: what ``Model.compile(jit_compile=True)`` runs.

A model step is traced once per input signature (the batch's shapes and dtypes: a full
batch and the short last one of an epoch get one graph each; when those two are the same
graph but for the batch size, further batch sizes replay it rather than trace the step
again, as ``reduce_retracing`` does) and then replayed on
:mod:`chainrule.compiler.execute`'s executor: buffers planned once, element-wise chains and
the optimizer update fused, no per-op dispatch. The trace is a recording of the same
primitive calls eager code makes, so a replay gives eager numbers.

What is traced:

* training: ``Model._measured_gradient_step``: forward, loss, ``tape.gradient``,
  ``optimizer.apply_gradients`` (one graph node that replays the optimizer's own update, so
  the step counter and learning rate are read live; the compiler inlines it), and the
  updates of the loss trackers and metrics (``assign_add`` on their Variables), so a batch
  is one call. When a metric cannot be replayed (it reads values into Python), the
  metrics are updated in Python after a compiled ``Model._gradient_step`` instead.
* evaluation: ``Model._measured_test_forward`` (or ``Model._test_forward``), the same
  way; prediction: ``Model._predict_forward``.
* a ``train_step``, ``test_step`` or ``predict_step`` that a subclass overrides is traced
  whole.

A step that a replay could not repeat faithfully runs eagerly instead, with one warning:
when tracing raises :class:`~chainrule.graph.TraceError`, when the step reads the value of
a traced tensor into Python (``if float(loss) > 1:``, a metric updated from it), or when it
returns Python numbers computed while tracing. Metric states are put back as they were
before such a trace, so the batch is counted once.
"""

import copy
import numbers
import warnings

import numpy as np

from ... import compiler, recording
from ...graph.capture import Function, TraceCache
from ...graph import TraceError
from ...tensor import Tensor

__all__ = ["CompiledSteps"]


class CannotCompile(Exception):
    """A step cannot be replayed faithfully; the message says why."""


class CompiledSteps:
    """The compiled steps of one compiled model; ``compile`` makes a new one."""

    def __init__(self, model):
        self.model = model
        self._functions = {}  # method name -> _CheckedFunction (its traces by signature)
        # (method, shapes and dtypes of plain tensor args) -> Traced; bounded as the
        # functions' own caches are, for a server predicting on ever new batch sizes.
        self._by_shapes = TraceCache()
        self.eager = {}  # method name -> why it runs eagerly
        self._weights_key = None

    def refresh(self):
        """Forgets the traces when the model's weights (or which are trainable) changed:
        a trace holds the Variables it read. Called once per fit/evaluate/predict."""
        model = self.model
        key = (tuple(map(id, model.weights)), tuple(map(id, model._weights_to_train())))
        if key != self._weights_key:
            self._functions.clear()
            self._by_shapes.clear()
            self._weights_key = key

    def run(self, method, *args):
        """``getattr(model, method)(*args)``, through its compiled graph."""
        _, result = self._run(method, args, quiet=False)
        return result

    def try_run(self, method, *args):
        """Runs ``method`` through its compiled graph and returns True; returns False,
        without running it or warning, when it cannot be compiled faithfully (the caller
        has another way)."""
        found, _ = self._run(method, args, quiet=True)
        return found

    def _run(self, method, args, quiet):
        # The loops call with a few plain tensors: find their trace by shapes alone (this
        # runs once per batch, so the general signature below is worth skipping).
        shapes = _shapes(args)
        traced = self._by_shapes.get((method, shapes)) if shapes is not None else None
        if traced is not None and not recording.recorders():
            return True, traced.run(args, compiled=True)
        if method in self.eager:
            return (False, None) if quiet else (True, getattr(self.model, method)(*args))
        fn = self._functions.get(method)
        if fn is None:
            fn = self._functions[method] = _CheckedFunction(getattr(self.model, method),
                                                            self.model)
        try:
            traced, tensors = fn._traced_for(args, {})
        except CannotCompile as e:
            self.eager[method] = str(e)
            if quiet:
                return False, None
            warnings.warn(f"jit_compile: {type(self.model).__name__}.{method.lstrip('_')} "
                          f"runs eagerly: {e}", stacklevel=4)
            return True, getattr(self.model, method)(*args)
        if shapes is not None:
            self._by_shapes.put((method, shapes), traced)
        # Inside another trace (a step that calls super().train_step()) the graph is
        # replayed op by op, so that trace records it.
        return True, traced.run(tensors, compiled=not recording.recorders())


class _CheckedFunction(Function):
    """A traced function that refuses traces a replay could not repeat faithfully."""

    def __init__(self, fn, model):
        # As in Keras 3, one trace serves every batch size (when the step allows it).
        super().__init__(fn, compile=compiler.compile, reduce_retracing=True)
        self._model = model

    def _trace(self, args, kwargs):
        metrics = [(m, copy.deepcopy(m.__dict__)) for m in self._model.metrics]
        try:
            traced = super()._trace(args, kwargs)
            problem = _unfaithful(traced)
        except TraceError as e:
            problem = str(e)
        if problem:
            for metric, state in metrics:  # the tracing run updated them: undo that
                metric.__dict__.clear()
                metric.__dict__.update(state)
            raise CannotCompile(problem)
        return traced


def _shapes(args):
    """The shapes and dtypes of ``args`` when all are plain Tensors (not Variables), else
    None."""
    if all(type(a) is Tensor for a in args):
        return tuple((a._value.shape, a._value.dtype) for a in args)
    return None


def _unfaithful(traced):
    """Why a replay of ``traced`` would not do what the function does, or None."""
    if traced.guards:
        return (f"its Python decides on tensor values "
                f"({'; '.join(sorted({g.where for g in traced.guards})[:3])}), and a compiled "
                f"step is one graph for every batch (chainrule.cond or where keep it compiled)")
    if traced.value_reads:
        return (f"it reads traced values into Python ({', '.join(traced.value_reads[:3])}), "
                f"which a replay would freeze at the values seen while tracing")
    numbers_out = [x for x in traced.literals if isinstance(x, (numbers.Number, np.generic))]
    if numbers_out:
        return (f"it returns Python numbers ({numbers_out[:3]}) rather than tensors; a replay "
                f"would return the numbers computed while tracing")
    return None
