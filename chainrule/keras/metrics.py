"""Metrics: stateful running means over an epoch (``update_state`` / ``result`` /
``reset_state``), plus :func:`get` and :func:`resolve` for the names ``compile`` accepts.

A metric only reads values (it is never differentiated), so it works on NumPy arrays: the
accuracy of a batch is an argmax over the probabilities the model already computed.
"""

import numpy as np

from ..tensor import Tensor
from . import losses
from ._registry import lookup

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "ShapeResolvedAccuracy", "SparseCategoricalAccuracy",
    "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "accuracy",
    "get", "resolve",
]


def _array(x):
    # numpy() rather than ._value: a trace of a step that updates metrics notes the read.
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


class Metric:
    """Base class: accumulate with ``update_state``, read with ``result``, clear with
    ``reset_state``; ``metric(y_true, y_pred)`` updates and returns the result."""

    def __init__(self, name=None, dtype="float32"):
        self.name = name or _snake(type(self).__name__)
        self.dtype = np.dtype(dtype)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The weighted mean of all values seen since the last reset."""

    def __init__(self, name="mean", dtype="float32"):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = _array(values)
        if sample_weight is None:
            self.total += float(np.add.reduce(values, axis=None, dtype=np.float64))
            self.count += values.size
        elif np.ndim(sample_weight) == 0 and values.ndim == 0:
            # A batch mean weighted by its batch size: the running loss of fit.
            w = float(sample_weight)
            self.total += float(values) * w
            self.count += w
        else:
            values = values.astype(np.float64)
            w = np.broadcast_to(_array(sample_weight), values.shape)
            self.total += float((values * w).sum())
            self.count += float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred)``, a per-sample function."""

    def __init__(self, fn, name=None, dtype="float32", **fn_kwargs):
        super().__init__(name or fn.__name__, dtype)
        self.fn, self.fn_kwargs = fn, fn_kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(y_true, y_pred, **self.fn_kwargs)
        super().update_state(values, sample_weight)


# -- per-sample accuracy functions (NumPy in, NumPy out) -------------------------------------

def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals the integer label, else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_pred.argmax(-1) == y_true).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals ``argmax(y_true)`` (one-hot targets)."""
    return (_array(y_pred).argmax(-1) == _array(y_true).argmax(-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of entries, per sample, where ``y_pred > threshold`` matches ``y_true``."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    hits = (y_pred > threshold) == (y_true > 0.5)
    return hits.mean(-1, dtype=np.float32) if hits.ndim > 1 else hits.astype(np.float32)


def accuracy(y_true, y_pred):
    """1.0 where ``y_pred`` equals ``y_true`` exactly (Keras's ``Accuracy``)."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    hits = (y_true == y_pred)
    return hits.mean(-1, dtype=np.float32) if hits.ndim > 1 else hits.astype(np.float32)


def _regression(loss_fn):
    def per_sample(y_true, y_pred):
        return _array(loss_fn(y_true, y_pred))
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


def _snake(name):
    import re
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


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
        return 0.0 if self.resolved is None else self.resolved.result()

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "accuracy": ShapeResolvedAccuracy, "acc": ShapeResolvedAccuracy,  # see resolve()
}
_CLASSES = {cls.__name__: cls for cls in (
    SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, Accuracy,
    MeanSquaredError, MeanAbsoluteError, Mean)}


def get(identifier):
    """A Metric from a name, a class name or a Metric; a plain function is wrapped in a
    running mean. ``"accuracy"``/``"acc"`` give a metric that is resolved from the shapes
    of its first batch (see :func:`resolve`)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        return lookup("metric", identifier, _BY_NAME)(name=identifier)
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
    true_shape, pred_shape = np.shape(_array(y_true)), np.shape(_array(y_pred))
    if pred_shape and pred_shape[-1] == 1:
        cls = BinaryAccuracy
    elif len(true_shape) < len(pred_shape) or (
            true_shape and true_shape[-1] == 1 and pred_shape and pred_shape[-1] > 1):
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=identifier)
