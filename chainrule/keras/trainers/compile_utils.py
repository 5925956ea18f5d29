"""What ``compile(loss=..., loss_weights=..., metrics=..., weighted_metrics=...)`` becomes
for models with one output or several.

* :class:`CompileLoss` computes the total loss: one loss per output (a list in output
  order, a dict by output name, or one loss for every output), each weighted by
  ``loss_weights``, summed. With more than one loss, each output's unweighted loss is
  also tracked as ``<output>_loss`` (Keras 3's log name).
* :class:`CompileMetrics` routes the targets and predictions of each output to its
  metrics, logged as ``<output>_<metric>`` (``department_accuracy``) when the model has
  several outputs, and as the metric's own name otherwise. ``metrics`` ignore sample
  weights; ``weighted_metrics`` use them (a name clash gets a ``weighted_`` prefix).

Output names are the model's ``output_names`` (a functional model's output layer names,
or the keys of its output dict); a subclassed model returning a list gets ``output_1``,
``output_2``... Targets and per-output sample weights may be given as a list in output
order or as a dict keyed by output name.
"""

import numbers

from ... import nest
from .. import losses as losses_module
from .. import metrics as metrics_module

__all__ = ["CompileLoss", "CompileMetrics", "ordered_results"]


def _as_loss(loss):
    """A loss identifier as a reducing callable ``(y_true, y_pred, sample_weight)``."""
    if loss is None:
        return None
    resolved = losses_module.get(loss)
    if isinstance(resolved, losses_module.Loss):
        return resolved
    name = loss if isinstance(loss, str) else getattr(resolved, "__name__", "loss")
    return losses_module.LossFunctionWrapper(resolved, name=name)


def _flat_outputs(values, names, what):
    """Per-output values (targets, predictions, sample weights) as a list in output order."""
    if isinstance(values, dict):
        if names is None:
            return list(values.values())
        unknown = [k for k in values if k not in names]
        if unknown:
            raise ValueError(f"{what}: keys {unknown} are not outputs of the model; its "
                             f"outputs are {names}")
        return [values.get(name) for name in names]
    if isinstance(values, (list, tuple)):
        if names is not None and len(values) != len(names):
            raise ValueError(f"{what}: the model has {len(names)} outputs {names}; received "
                             f"{len(values)} entries")
        return list(values)
    return [values]


def _per_output(spec, names, what):
    """A compile argument (one value, a list in output order, or a dict by output name) as
    one entry per output."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} has keys {unknown} that are not outputs of the "
                             f"model; its outputs are {names}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"compile: the model has {n} outputs {names}, so a list given as "
                             f"{what} needs {n} entries (one per output); received {len(spec)}")
        return list(spec)
    return [spec] * n


class CompileLoss:
    """The compiled loss: ``compile_loss(y_true, y_pred, sample_weight)`` is the total.

    ``last_values`` holds the unweighted per-output losses of the latest call (a tuple,
    empty for a single loss): the training step returns them so that ``<output>_loss``
    is tracked outside any compiled graph."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(
                loss_weights, (list, tuple, dict, numbers.Number)):
            raise ValueError(f"compile: loss_weights must be a number (one output), a list or "
                             f"a dict by output name; received {loss_weights!r}")
        self.loss = loss
        self.loss_weights = loss_weights
        self.output_names = output_names
        self.metrics = []  # the <output>_loss trackers
        self.built = False
        self.last_values = ()
        for spec in nest.flatten(loss):
            _as_loss(spec)  # unknown names fail at compile, not mid-fit
        if output_names is not None:
            self._resolve(output_names)

    def _resolve(self, names):
        single = len(names) == 1 and not isinstance(self.loss, (list, tuple, dict))
        losses = _per_output(self.loss, names, "loss")
        weights = (_per_output(self.loss_weights, names, "loss_weights")
                   if self.loss_weights is not None else [None] * len(names))
        self._names = names
        self._fns = [_as_loss(spec) for spec in losses]
        self._weights = [None if w is None else float(w) for w in weights]
        self._single = single
        used = [i for i, fn in enumerate(self._fns) if fn is not None]
        if not used:
            raise ValueError(f"compile: no loss for any of the outputs {names}")
        self.metrics = ([metrics_module.Mean(name=f"{names[i]}_loss") for i in used]
                        if len(used) > 1 else [])
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:  # a subclassed model: the outputs are known from the first batch
            n = len(nest.flatten(y_pred)) if nest.is_nested(y_pred) else 1
            names = (list(y_pred) if isinstance(y_pred, dict)
                     else [f"output_{i + 1}" for i in range(n)] if n > 1 else ["output"])
            self._resolve(names)
        if self._single and not nest.is_nested(y_pred):
            self.last_values = ()
            value = self._fns[0](y_true, y_pred, sample_weight)
            return value if self._weights[0] is None else value * self._weights[0]
        names = self._names
        preds = _flat_outputs(y_pred, names, "the model's outputs")
        targets = _flat_outputs(y_true, names, "y (the targets)")
        if isinstance(sample_weight, (list, tuple, dict)):
            weights = _flat_outputs(sample_weight, names, "sample_weight")
        else:
            weights = [sample_weight] * len(names)
        total, values = None, []
        for fn, w, yt, yp, sw, name in zip(self._fns, self._weights, targets, preds, weights,
                                           names):
            if fn is None:
                continue
            if yt is None:
                raise ValueError(f"no targets given for output '{name}', which has a loss")
            value = fn(yt, yp, sw)
            values.append(value)
            weighted = value if w is None else value * w
            total = weighted if total is None else total + weighted
        self.last_values = tuple(values) if len(values) > 1 else ()
        return total

    def single_loss(self):
        """The loss of a model with one output and one loss (a callable ``(y_true, y_pred,
        sample_weight)``), resolved even before the first batch; None otherwise."""
        if self.built:
            return self._fns[0] if len(self._fns) == 1 else None
        if self.loss is None or isinstance(self.loss, (list, dict)):
            return None
        return _as_loss(self.loss)

    def update_trackers(self, values, batch_size):
        """Adds one batch's per-output losses to the ``<output>_loss`` trackers."""
        for tracker, value in zip(self.metrics, values):
            tracker.update_state(value, sample_weight=batch_size)


class _OutputMetric(metrics_module.Metric):
    """A metric of one output, under the name the logs show (``department_accuracy``)."""

    def __init__(self, inner, name):
        self.inner = inner
        self.name = name
        self.dtype = inner.dtype

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.inner.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self.inner.result()

    def reset_state(self):
        self.inner.reset_state()

    def get_config(self):
        return self.inner.get_config()


class CompileMetrics:
    """Routes each output's targets and predictions to its compiled metrics.

    ``metrics`` is the flat list of Metric objects (what ``model.metrics`` shows after
    the loss trackers); for a subclassed model with several outputs it is filled on the
    first batch, when the outputs are known."""

    def __init__(self, metrics, weighted_metrics=None, output_names=None):
        for what, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if spec is not None and not isinstance(spec, (list, tuple, dict)):
                raise ValueError(f"compile: {what} must be a list (or, for several outputs, "
                                 f"a list of lists or a dict by output name); received "
                                 f"{spec!r}")
        self._specs = (metrics, weighted_metrics)
        self.metrics = []
        self._routes = []  # (metric, output index or None, uses sample weights)
        self.built = False
        nested = any(isinstance(spec, dict) or (isinstance(spec, (list, tuple)) and any(
            isinstance(m, (list, tuple)) for m in spec)) for spec in self._specs)
        if output_names is not None or not nested:
            self._build(output_names)

    def _build(self, names):
        self._names = names
        taken = set()
        multi = names is not None and len(names) > 1
        for weighted, spec in zip((False, True), self._specs):
            if not spec:
                continue
            if multi:
                per_output = _per_output(spec, names, "weighted_metrics" if weighted
                                         else "metrics")
            else:
                if isinstance(spec, dict):
                    spec = [m for v in spec.values() for m in (v if isinstance(v, (list, tuple))
                                                               else [v])]
                per_output = [spec]
            for index, entries in enumerate(per_output):
                if entries is None:
                    continue
                if not isinstance(entries, (list, tuple)):
                    entries = [entries]
                for entry in entries:
                    if entry is None:
                        continue
                    metric = metrics_module.get(entry)
                    name = metric.name
                    if name in taken and weighted:
                        name = f"weighted_{name}"
                    prefix = f"{names[index]}_" if multi else ""
                    if prefix:
                        name = prefix + name
                    base, k = name, 1
                    while name in taken:
                        name, k = f"{base}_{k}", k + 1
                    taken.add(name)
                    if name != metric.name:
                        metric = _OutputMetric(metric, name)
                    self.metrics.append(metric)
                    self._routes.append((metric, index if multi else None, weighted))
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            n = len(nest.flatten(y_pred))
            self._build(list(y_pred) if isinstance(y_pred, dict)
                        else [f"output_{i + 1}" for i in range(n)])
        split = None
        for metric, index, weighted in self._routes:
            if index is None:
                metric.update_state(y_true, y_pred, sample_weight if weighted else None)
                continue
            if split is None:
                names = self._names
                weights = (_flat_outputs(sample_weight, names, "sample_weight")
                           if isinstance(sample_weight, (list, tuple, dict))
                           else [sample_weight] * len(names))
                split = (_flat_outputs(y_true, names, "y (the targets)"),
                         _flat_outputs(y_pred, names, "the model's outputs"), weights)
            targets, preds, weights = split
            if targets[index] is not None:
                metric.update_state(targets[index], preds[index],
                                    weights[index] if weighted else None)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def result(self):
        """``{name: value}`` of every compiled metric (the logs spread such a dict out)."""
        return {metric.name: metric.result() for metric in self.metrics}


def ordered_results(model, logs):
    """``evaluate``'s list order, as Keras 3 makes it: the names of ``model.metrics`` that
    appear in the logs as they are (the loss, the compiled metrics by their own unprefixed
    names, then the ``<output>_loss`` trackers), then the other log keys sorted."""
    names = [m.inner.name if isinstance(m, _OutputMetric) else m.name for m in model.metrics]
    order = [n for n in dict.fromkeys(names) if n in logs]
    return order + sorted(k for k in logs if k not in order)
