"""Metrics: running values over an epoch (``update_state`` / ``result`` /
``reset_state``), plus :func:`get` and :func:`resolve` for the names ``compile`` accepts.

A metric's state lives in Variables (``add_weight``), and ``update_state`` and ``result``
are written with chainrule's ops and ``assign_add``, as in Keras: so a metric updated
inside a traced function (``chainrule.function``, a compiled ``train_step``) is updated
at every call of the graph, not only while tracing. The totals are float32, as Keras
keeps them.
"""

import threading

import numpy as np

from .. import ops, recording
from ..tensor import Tensor
from ..variable import Variable
from . import initializers, losses
from ._registry import Registry, snake_case

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "ShapeResolvedAccuracy",
    "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "sparse_categorical_accuracy", "categorical_accuracy",
    "binary_accuracy", "accuracy", "get", "resolve",
]


def _tensor(x):
    return x if isinstance(x, Tensor) else ops.convert_to_tensor(x)


class Metric:
    """Base class: accumulate with ``update_state``, read with ``result``, clear with
    ``reset_state``; ``metric(y_true, y_pred)`` updates and returns the result.

    A subclass makes its state with ``self.add_weight(name, shape, initializer)`` in
    ``__init__`` and updates it with ops and ``assign_add``/``assign`` in
    ``update_state``; the default ``reset_state`` sets every such Variable to zero."""

    def __init__(self, name=None, dtype="float32"):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype)
        self._variables = []

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None,
                   aggregation="sum", synchronization=None):
        """A state Variable of this metric (not trainable), initialised by ``initializer``."""
        if "_variables" not in self.__dict__:
            self._variables = []  # a subclass that set state before calling super().__init__
        dtype = np.dtype(dtype or getattr(self, "dtype", "float32"))
        shape = tuple(int(d) for d in shape)
        value = np.asarray(initializers.get(initializer)(shape, dtype=dtype), dtype=dtype)
        variable = Variable(value.reshape(shape), trainable=False,
                            name=f"{getattr(self, 'name', 'metric')}/{name or 'variable'}")
        self._variables.append(variable)
        return variable

    add_variable = add_weight

    @property
    def variables(self):
        """The state Variables, in the order they were made."""
        return list(self.__dict__.get("_variables", ()))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        for v in self.variables:
            v.assign(np.zeros(v.shape, v.dtype))

    def reset_states(self):
        """TF-Keras 2's name for :meth:`reset_state`."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        result = self.result()
        _last_call.result, _last_call.metric = result, self
        return result

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class _LastCall(threading.local):
    """The latest ``metric(...)`` call's result and metric, in this thread."""

    result = metric = None


_last_call = _LastCall()


def metric_of_result(value):
    """The metric whose call just returned ``value`` (the same object), else None: how
    ``add_metric(self.accuracy_fn(y, p))`` knows to report that metric."""
    return _last_call.metric if value is not None and value is _last_call.result else None


class Sum(Metric):
    """The (weighted) sum of all values seen since the last reset."""

    def __init__(self, name="sum", dtype="float32"):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")

    def update_state(self, values, sample_weight=None):
        values = ops.cast(_tensor(values), self.dtype)
        if sample_weight is not None:
            values = values * ops.cast(_tensor(sample_weight), self.dtype)
        self.total.assign_add(ops.reduce_sum(values))

    def result(self):
        return ops.identity(self.total)


class Mean(Metric):
    """The weighted mean of all values seen since the last reset: ``total / count``."""

    def __init__(self, name="mean", dtype="float32"):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")
        self.count = self.add_weight("count")

    def update_state(self, values, sample_weight=None):
        if not recording.listeners():
            return self._update_now(values, sample_weight)
        values = ops.cast(_tensor(values), self.dtype)
        if sample_weight is None:
            self.total.assign_add(ops.reduce_sum(values))
            self.count.assign_add(float(values.size))
            return
        if _is_number(sample_weight) and values.ndim == 0:
            # A batch mean weighted by its batch size: the running loss of fit.
            self.total.assign_add(values * float(sample_weight))
            self.count.assign_add(float(sample_weight))
            return
        w = ops.cast(_tensor(sample_weight), self.dtype)
        while w.ndim > values.ndim and w.shape[-1] == 1:
            w = ops.reshape(w, w.shape[:-1])
        w = ops.broadcast_to(w, values.shape) if w.shape != values.shape else w
        self.total.assign_add(ops.reduce_sum(values * w))
        self.count.assign_add(ops.reduce_sum(w))

    def _update_now(self, values, sample_weight):
        # Outside a trace nothing records the update, so the same float32 arithmetic runs on
        # the arrays directly: fit updates its loss and metrics every batch, and a dozen
        # dispatched ops per batch would cost more than the compiled step saves.
        values = np.asarray(values._value if isinstance(values, Tensor) else values,
                            dtype=self.dtype)
        if sample_weight is None:
            total, count = values.sum(dtype=self.dtype), values.size
        elif _is_number(sample_weight) and values.ndim == 0:
            w = self.dtype.type(sample_weight)
            total, count = values * w, w
        else:
            w = np.asarray(sample_weight._value if isinstance(sample_weight, Tensor)
                           else sample_weight, dtype=self.dtype)
            while w.ndim > values.ndim and w.shape[-1] == 1:
                w = w[..., 0]
            w = np.broadcast_to(w, values.shape)
            total, count = (values * w).sum(dtype=self.dtype), w.sum(dtype=self.dtype)
        for variable, delta in ((self.total, total), (self.count, count)):
            variable._value += self.dtype.type(delta)  # (0-d arrays: in place)
            recording.mark_changed(variable)

    def result(self):
        if not recording.listeners():
            count = self.count._value
            return Tensor._wrap(self.total._value / count if count else
                                np.zeros((), self.dtype))
        return ops.divide_no_nan(self.total, self.count)


def _is_number(x):
    return isinstance(x, (int, float, np.integer, np.floating))


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred)``, a per-sample function."""

    def __init__(self, fn, name=None, dtype="float32", **fn_kwargs):
        super().__init__(name or fn.__name__, dtype)
        self.fn, self.fn_kwargs = fn, fn_kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)  # a masked model output's (Keras 3)
        values = self.fn(y_true, y_pred, **self.fn_kwargs)
        if mask is not None:  # masked steps count for nothing
            sample_weight = losses.apply_mask(sample_weight, mask, _tensor(values), "sum",
                                              self.name)
        super().update_state(values, sample_weight)


# -- per-sample accuracy functions (ops: they work eagerly and in traced functions) ---------

def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals the integer label, else 0.0."""
    y_true, y_pred = _tensor(y_true), _tensor(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = ops.reshape(y_true, y_true.shape[:-1])
    return ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), y_true), "float32")


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals ``argmax(y_true)`` (one-hot targets)."""
    y_true, y_pred = _tensor(y_true), _tensor(y_pred)
    return ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), ops.argmax(y_true, axis=-1)),
                    "float32")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of entries, per sample, where ``y_pred > threshold`` matches ``y_true``."""
    y_true, y_pred = _tensor(y_true), _tensor(y_pred)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = ops.expand_dims(y_true, -1)
    y_true = y_true if y_true.dtype.kind == "f" else ops.cast(y_true, "float32")
    y_pred = y_pred if y_pred.dtype.kind == "f" else ops.cast(y_pred, "float32")
    hits = ops.cast(ops.equal(ops.greater(y_pred, threshold), ops.greater(y_true, 0.5)),
                    "float32")
    return ops.reduce_mean(hits, -1) if hits.ndim > 1 else hits


def accuracy(y_true, y_pred):
    """1.0 where ``y_pred`` equals ``y_true`` exactly (Keras's ``Accuracy``)."""
    hits = ops.cast(ops.equal(_tensor(y_true), _tensor(y_pred)), "float32")
    return ops.reduce_mean(hits, -1) if hits.ndim > 1 else hits


def _regression(loss_fn):
    def per_sample(y_true, y_pred):
        return loss_fn(_tensor(y_true), _tensor(y_pred))
    per_sample.__name__ = loss_fn.__name__
    return per_sample


def _wrapper_class(class_name, fn, default_name, doc, **defaults):
    def __init__(self, name=default_name, dtype="float32", **kwargs):
        MeanMetricWrapper.__init__(self, fn, name, dtype, **{**defaults, **kwargs})

    return type(class_name, (MeanMetricWrapper,),
                {"__init__": __init__, "__doc__": doc, "__module__": __name__})


SparseCategoricalAccuracy = _wrapper_class(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy",
    "How often argmax(y_pred) equals the integer label.")
CategoricalAccuracy = _wrapper_class(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy",
    "How often argmax(y_pred) equals argmax(y_true).")
BinaryAccuracy = _wrapper_class(
    "BinaryAccuracy", binary_accuracy, "binary_accuracy",
    "How often (y_pred > threshold) matches the 0/1 target.", threshold=0.5)
Accuracy = _wrapper_class("Accuracy", accuracy, "accuracy",
                          "How often y_pred equals y_true exactly.")
MeanSquaredError = _wrapper_class(
    "MeanSquaredError", _regression(losses.mean_squared_error), "mean_squared_error",
    "The running mean of the squared error.")
MeanAbsoluteError = _wrapper_class(
    "MeanAbsoluteError", _regression(losses.mean_absolute_error), "mean_absolute_error",
    "The running mean of the absolute error.")
MeanAbsolutePercentageError = _wrapper_class(
    "MeanAbsolutePercentageError", _regression(losses.mean_absolute_percentage_error),
    "mean_absolute_percentage_error", "The running mean of the absolute percentage error.")


class ShapeResolvedAccuracy(Metric):
    """``"accuracy"`` in ``compile``: becomes the accuracy :func:`resolve` picks from the
    shapes of the first batch it sees, then delegates to it."""

    def __init__(self, name="accuracy", dtype="float32"):
        super().__init__(name, dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.resolved is None:
            self.resolved = resolve(self.name, y_true, y_pred)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return ops.zeros((), self.dtype) if self.resolved is None else self.resolved.result()

    @property
    def variables(self):
        return [] if self.resolved is None else self.resolved.variables

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()


REGISTRY = Registry("metric")
for _cls, *_names in (
        (SparseCategoricalAccuracy, "sparse_categorical_accuracy"),
        (CategoricalAccuracy, "categorical_accuracy"), (BinaryAccuracy, "binary_accuracy"),
        (Accuracy,), (MeanSquaredError, "mean_squared_error", "mse"),
        (MeanAbsoluteError, "mean_absolute_error", "mae"),
        (MeanAbsolutePercentageError, "mean_absolute_percentage_error", "mape"), (Mean,), (Sum,),
        (ShapeResolvedAccuracy, "accuracy", "acc")):  # see resolve()
    REGISTRY.register(_cls, *_names)


def get(identifier):
    """A Metric from a name, a class name or a Metric; a plain function is wrapped in a
    running mean. ``"accuracy"``/``"acc"`` give a metric that is resolved from the shapes
    of its first batch (see :func:`resolve`)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in REGISTRY.classes:
            return REGISTRY.classes[identifier]()
        return REGISTRY.lookup(identifier)(name=identifier)  # named as it was asked for
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a callable; received {identifier!r}")


def resolve(identifier, y_true, y_pred):
    """The Metric ``compile(metrics=[identifier])`` means, given one batch's targets and
    predictions. This is where ``"accuracy"`` (or ``"acc"``) gets its meaning, as in Keras:

    * predictions with a last axis of size 1 are binary scores ⇒ :class:`BinaryAccuracy`
      (threshold 0.5);
    * targets of lower rank than the predictions, or with a last axis of size 1 while the
      predictions have more classes, are class indices ⇒ :class:`SparseCategoricalAccuracy`;
    * otherwise the targets are one-hot ⇒ :class:`CategoricalAccuracy`.

    The metric keeps the name it was asked for (``"accuracy"``). Other identifiers go to
    :func:`get`.
    """
    if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
        return get(identifier)
    # This is the only place "accuracy" is given a meaning.
    # (shapes only: no value is read, so this works inside a traced function too)
    true_shape, pred_shape = tuple(np.shape(y_true)), tuple(np.shape(y_pred))
    if pred_shape and pred_shape[-1] == 1:
        cls = BinaryAccuracy
    elif len(true_shape) < len(pred_shape) or (
            true_shape and true_shape[-1] == 1 and pred_shape and pred_shape[-1] > 1):
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=identifier)
