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
from ..primitives import Primitive, bind
from ..tensor import Tensor
from ..variable import Variable
from . import initializers, losses
from ._registry import Registry, snake_case

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "ShapeResolvedAccuracy",
    "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "sparse_categorical_accuracy", "categorical_accuracy",
    "binary_accuracy", "accuracy", "get", "resolve", "serialize", "deserialize",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredLogarithmicError",
    "LogCoshError", "CosineSimilarity", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
    "CategoricalHinge", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "RootMeanSquaredError", "R2Score", "TruePositives",
    "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision", "Recall", "AUC",
    "FBetaScore", "F1Score", "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "cosine_similarity", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_focal_crossentropy",
    "categorical_focal_crossentropy", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "hinge",
    "squared_hinge", "categorical_hinge", "huber", "kl_divergence", "log_cosh", "poisson",
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
        if w.ndim < values.ndim:  # one weight per sample: the same for all its values
            w = ops.reshape(w, w.shape + (1,) * (values.ndim - w.ndim))
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
            if w.ndim < values.ndim:
                w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
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

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


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


# -- more running means of per-sample functions -----------------------------------------------

def _in_top_k(labels, y_pred, k):
    """1.0 where the label's score is among the ``k`` largest of its row (a tie with the
    k-th largest counts as in, as in Keras): fewer than ``k`` scores are strictly larger."""
    picked = ops.reduce_sum(ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype) * y_pred,
                            -1, keepdims=True)
    larger = ops.reduce_sum(ops.cast(ops.greater(y_pred, picked), "float32"), -1)
    return ops.cast(ops.less(larger, float(k)), "float32")


def _rows(y_pred):
    return ops.reshape(y_pred, (-1, y_pred.shape[-1])) if y_pred.ndim > 2 else y_pred


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where ``argmax(y_true)`` is among the ``k`` highest scores of ``y_pred``."""
    y_true, y_pred = _tensor(y_true), ops.cast(_tensor(y_pred), "float32")
    labels = ops.argmax(y_true, axis=-1)
    hits = _in_top_k(ops.reshape(labels, (-1,)), _rows(y_pred), k)
    return ops.reshape(hits, labels.shape) if labels.ndim > 1 else hits


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` highest scores of ``y_pred``; with
    ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score and the label must
    be one of its first ``k``."""
    y_true, y_pred = _tensor(y_true), _tensor(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = ops.reshape(y_true, y_true.shape[:-1])
    shape = y_true.shape
    labels = ops.reshape(y_true, (-1,))
    if from_sorted_ids:
        ids = _rows(y_pred)[:, :k]
        hits = ops.cast(ops.reduce_any(ops.equal(ops.expand_dims(
            ops.cast(labels, ids.dtype), 1), ids), axis=1), "float32")
    else:
        labels = labels if labels.dtype.kind in "iu" else ops.cast(labels, "int64")
        hits = _in_top_k(labels, ops.cast(_rows(y_pred), "float32"), k)
    return ops.reshape(hits, shape) if len(shape) > 1 else hits


def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(normalize(y_true) * normalize(y_pred))`` over ``axis`` (1 for vectors pointing
    the same way; the loss of the same name is its negative)."""
    return -losses.cosine_similarity(y_true, y_pred, axis)


def _metric_wrapper(class_name, fn, default_name, doc, **defaults):
    def __init__(self, name=default_name, dtype="float32", **kwargs):
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{class_name}: unexpected argument(s) {', '.join(sorted(unknown))}")
        MeanMetricWrapper.__init__(self, fn, name, dtype, **{**defaults, **kwargs})

    return type(class_name, (MeanMetricWrapper,),
                {"__init__": __init__, "__doc__": doc, "__module__": __name__})


TopKCategoricalAccuracy = _metric_wrapper(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy",
    "How often argmax(y_true) is among the k highest scores (k=5).", k=5)
SparseTopKCategoricalAccuracy = _metric_wrapper(
    "SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy",
    "How often the integer label is among the k highest scores (k=5).", k=5,
    from_sorted_ids=False)
MeanSquaredLogarithmicError = _metric_wrapper(
    "MeanSquaredLogarithmicError", _regression(losses.mean_squared_logarithmic_error),
    "mean_squared_logarithmic_error", "The running mean of the squared logarithmic error.")
LogCoshError = _metric_wrapper("LogCoshError", _regression(losses.log_cosh), "logcosh",
                               "The running mean of log(cosh(y_pred - y_true)).")
CosineSimilarity = _metric_wrapper("CosineSimilarity", cosine_similarity, "cosine_similarity",
                                   "The running mean of the cosine similarity.", axis=-1)
KLDivergence = _metric_wrapper("KLDivergence", _regression(losses.kl_divergence),
                               "kl_divergence", "The running mean of the KL divergence.")
Poisson = _metric_wrapper("Poisson", _regression(losses.poisson), "poisson",
                          "The running mean of the Poisson loss.")
Hinge = _metric_wrapper("Hinge", _regression(losses.hinge), "hinge",
                        "The running mean of the hinge loss.")
SquaredHinge = _metric_wrapper("SquaredHinge", _regression(losses.squared_hinge),
                               "squared_hinge", "The running mean of the squared hinge loss.")
CategoricalHinge = _metric_wrapper("CategoricalHinge", _regression(losses.categorical_hinge),
                                   "categorical_hinge",
                                   "The running mean of the categorical hinge loss.")
BinaryCrossentropy = _metric_wrapper(
    "BinaryCrossentropy", losses.binary_crossentropy, "binary_crossentropy",
    "The running mean of the binary cross-entropy.", from_logits=False, label_smoothing=0)
CategoricalCrossentropy = _metric_wrapper(
    "CategoricalCrossentropy", losses.categorical_crossentropy, "categorical_crossentropy",
    "The running mean of the categorical cross-entropy.", from_logits=False,
    label_smoothing=0, axis=-1)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of the sparse categorical cross-entropy (``ignore_class`` must be
    None: chainrule's loss has no ignored class)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype="float32",
                 from_logits=False, ignore_class=None, axis=-1):
        if ignore_class is not None:
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class={ignore_class!r} "
                             f"is not supported; pass ignore_class=None (and weight those "
                             f"samples by 0 with sample_weight instead)")
        super().__init__(losses.sparse_categorical_crossentropy, name, dtype,
                         from_logits=from_logits, axis=axis)

    def get_config(self):
        return {**super().get_config(), "ignore_class": None}


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of the squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype="float32"):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(_tensor(y_pred), self.dtype)
        y_true = losses._float_targets(y_true, y_pred)
        super().update_state(ops.square(y_pred - y_true), sample_weight)

    def result(self):
        return ops.sqrt(super().result())


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output column of 2-D
    targets, accumulated over batches (weighted by ``sample_weight``), then averaged:
    ``class_aggregation`` "uniform_average" (default), "variance_weighted_average" or None
    (one score per column). A column of constant targets scores 0. ``num_regressors`` > 0
    gives the adjusted score ``1 - (1 - R²)(n - 1)/(n - p - 1)``, n counting every target
    entry (as Keras does)."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype="float32"):
        super().__init__(name, dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average'; received {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0; received {num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self.num_samples = self.add_weight("num_samples")
        self._columns = None

    def _build(self, y_true):
        if y_true.ndim != 2:
            raise ValueError(f"R2Score expects 2-D targets (batch, outputs); received shape "
                             f"{y_true.shape}")
        self._columns = columns = y_true.shape[-1]
        self.squared_sum = self.add_weight("squared_sum", (columns,))
        self.sum = self.add_weight("sum", (columns,))
        self.total_mse = self.add_weight("residual", (columns,))
        self.count = self.add_weight("count", (columns,))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(_tensor(y_pred), self.dtype)
        y_true = losses._float_targets(y_true, y_pred)
        if self._columns is None:
            self._build(y_true)
        w = ops.ones((), self.dtype) if sample_weight is None else \
            ops.cast(_tensor(sample_weight), self.dtype)
        if w.ndim == 1:
            w = ops.expand_dims(w, 1)
        w = ops.broadcast_to(w, y_true.shape)
        weighted = y_true * w
        self.sum.assign_add(ops.reduce_sum(weighted, 0))
        self.squared_sum.assign_add(ops.reduce_sum(y_true * weighted, 0))
        self.total_mse.assign_add(ops.reduce_sum(ops.square(y_true - y_pred) * w, 0))
        self.count.assign_add(ops.reduce_sum(w, 0))
        self.num_samples.assign_add(float(y_true.size))

    def result(self):
        if self._columns is None:
            return ops.zeros((), self.dtype)
        zero = ops.zeros((), self.dtype)
        mean = ops.divide_no_nan(self.sum, self.count)
        total = self.squared_sum - self.sum * mean
        # A column with no variance: 0 if its predictions miss, undefined (NaN) if they do
        # not, as Keras's 1 - x/0 after its inf -> 0 rule.
        flat = ops.equal(total, zero)
        raw = ops.where(flat, ops.where(ops.equal(self.total_mse, zero),
                                        ops.fill((), float("nan")), zero),
                        1.0 - self.total_mse / ops.where(flat, ops.ones_like(total), total))
        if self.class_aggregation == "uniform_average":
            score = ops.reduce_mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = ops.reduce_sum(total * raw) / ops.reduce_sum(total)
        else:
            score = raw
        n, p = float(self.num_samples._value), float(self.num_regressors)
        if p and p < n - 1:
            score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def reset_state(self):
        super().reset_state()

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# -- confusion-matrix metrics ------------------------------------------------------------------

NEG_INF = -1e10  # Keras's stand-in for -inf: the score of the entries top_k leaves out


def _top_k_mask(x, k):
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, x.dtype)
    np.put_along_axis(mask, order, 1, axis=-1)
    return mask


# Which entries are among the k largest of their row: integer positions, no gradient.
_TOP_K_MASK = Primitive("top_k_mask", _top_k_mask, why="its result marks positions")


def _same_rank(a, b):
    """``a`` and ``b`` with a trailing size-1 axis dropped from the one of higher rank."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        a = ops.reshape(a, a.shape[:-1])
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        b = ops.reshape(b, b.shape[:-1])
    return a, b


def _thresholds_of(metric, thresholds, default):
    if thresholds is None:
        return [float(default)]
    values = [float(t) for t in (thresholds if isinstance(thresholds, (list, tuple))
                                 else [thresholds])]
    bad = [t for t in values if not 0 <= t <= 1]
    if bad:
        raise ValueError(f"{metric}: thresholds must be in [0, 1]; received {bad}")
    return values


def _confusion_counts(counts, y_true, y_pred, thresholds, top_k=None, class_id=None,
                      sample_weight=None, multi_label=False, label_weights=None):
    """Adds the (weighted) counts of true/false positives/negatives at each threshold to the
    Variables ``counts`` holds under "tp", "fp", "tn", "fn". A prediction is positive
    where it is strictly greater than the threshold; a label where it is not 0."""
    y_pred = ops.cast(_tensor(y_pred), "float32")
    y_true = ops.cast(_tensor(y_true), "float32")
    y_pred, y_true = _same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = ops.expand_dims(ops.cast(_tensor(sample_weight), "float32"), -1)
        if sample_weight.ndim == y_true.ndim + 1 and sample_weight.shape[-1] == 1:
            sample_weight = ops.reshape(sample_weight, sample_weight.shape[:-1])
    if top_k is not None:
        mask = bind(_TOP_K_MASK, (y_pred,), {"k": int(top_k)})
        y_pred = y_pred * mask + NEG_INF * (1.0 - mask)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(f"class_id needs predictions of shape (samples, classes); "
                             f"received shape {y_pred.shape}")
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
        if sample_weight is not None and sample_weight.ndim == y_pred.ndim and \
                sample_weight.shape[-1] > 1:
            sample_weight = sample_weight[..., class_id:class_id + 1]
    thresholds = np.asarray(thresholds, np.float32)
    if multi_label:
        preds, labels = ops.expand_dims(y_pred, 0), ops.expand_dims(ops.not_equal(y_true, 0.0), 0)
        cut = thresholds.reshape(-1, 1, 1)
    else:
        preds = ops.reshape(y_pred, (1, -1))
        labels = ops.reshape(ops.not_equal(y_true, 0.0), (1, -1))
        cut = thresholds.reshape(-1, 1)
    weights = None
    if sample_weight is not None:
        weights = ops.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = ops.broadcast_to(ops.constant(np.asarray(label_weights, np.float32)), y_pred.shape)
        weights = lw if weights is None else weights * lw
    if weights is not None:
        weights = ops.expand_dims(weights, 0) if multi_label else ops.reshape(weights, (1, -1))
    positive = ops.greater(preds, cut)
    negative, label_negative = ops.logical_not(positive), ops.logical_not(labels)
    cases = {"tp": (labels, positive), "fn": (labels, negative),
             "fp": (label_negative, positive), "tn": (label_negative, negative)}
    for key, variable in counts.items():
        label, pred = cases[key]
        both = ops.logical_and(label, pred)
        if weights is None:
            hits = ops.cast(both, "float32")
        else:
            hits = ops.where(both, weights, ops.zeros((), "float32"))
        variable.assign_add(ops.reduce_sum(hits, 1))


class _ConfusionCount(Metric):
    _key = None

    def __init__(self, thresholds=None, name=None, dtype="float32"):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds_of(type(self).__name__, thresholds, 0.5)
        self.accumulator = self.add_weight("accumulator", (len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None):
        _confusion_counts({self._key: self.accumulator}, y_true, y_pred, self.thresholds,
                          sample_weight=sample_weight)

    def result(self):
        return self.accumulator[0] if len(self.thresholds) == 1 else \
            ops.identity(self.accumulator)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) count of positive labels predicted above each threshold (0.5)."""
    _key = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) count of negative labels predicted above each threshold (0.5)."""
    _key = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) count of negative labels predicted at or below each threshold."""
    _key = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) count of positive labels predicted at or below each threshold."""
    _key = "fn"


class _PrecisionRecall(Metric):
    _other = None  # "fp" for precision, "fn" for recall

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None,
                 dtype="float32"):
        super().__init__(name, dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _thresholds_of(type(self).__name__, thresholds,
                                         0.5 if top_k is None else NEG_INF)
        size = (len(self.thresholds),)
        self.true_positives = self.add_weight("true_positives", size)
        other = "false_positives" if self._other == "fp" else "false_negatives"
        setattr(self, other, self.add_weight(other, size))
        self._other_count = getattr(self, other)

    def update_state(self, y_true, y_pred, sample_weight=None):
        _confusion_counts({"tp": self.true_positives, self._other: self._other_count}, y_true,
                          y_pred, self.thresholds, self.top_k, self.class_id, sample_weight)

    def result(self):
        value = ops.divide_no_nan(self.true_positives, self.true_positives + self._other_count)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` over everything seen, at each threshold (default 0.5: a score
    above it is a positive prediction); ``top_k`` counts only each row's k highest scores as
    candidates, ``class_id`` looks at one class's column. 0 when nothing was predicted
    positive."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` over everything seen, at each threshold (default 0.5); arguments
    as :class:`Precision`. 0 when there was no positive label."""
    _other = "fn"


class AUC(Metric):
    """The area under the ROC (or precision-recall) curve, from counts at
    ``num_thresholds`` (200) thresholds: 0 - 1e-7, then ``i / (num_thresholds - 1)`` for i
    = 1 .. num_thresholds - 2, then 1 + 1e-7 (or the sorted ``thresholds`` given, between
    those two ends).

    ROC: a Riemann sum over the points (fpr, tpr) with heights the mean of neighbouring
    points ("interpolation", default), their minimum ("minoring") or maximum ("majoring").
    PR with "interpolation" uses Davis & Goadrich's interpolation of precision between
    thresholds. ``multi_label=True`` keeps one curve per label column and averages the
    areas (weighted by ``label_weights`` if given); ``from_logits=True`` puts predictions
    through a sigmoid first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype="float32", thresholds=None, multi_label=False,
                 num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name, dtype)
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR", "PRGAIN"):
            raise ValueError(f"AUC: curve must be 'ROC', 'PR' or 'PRGAIN'; received {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring'; received {summation_method!r}")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds_of("AUC", list(thresholds), 0.5))
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1; received "
                                 f"{num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = [0.0 - losses.EPSILON] + inner + [1.0 + losses.EPSILON]
        self.curve, self.summation_method = curve, summation_method
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        if isinstance(label_weights, dict):  # Keras's saved form of a tensor
            label_weights = label_weights.get("config", {}).get("value")
        self.label_weights = None if label_weights is None else \
            np.asarray(label_weights, np.float32)
        self._from_logits = bool(from_logits)
        if not self.multi_label and num_labels:
            raise ValueError("AUC: num_labels is needed only when multi_label=True")
        self._built = False
        if not self.multi_label:
            self._build(None)
        elif num_labels:
            self._build((None, num_labels))

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"AUC: y_pred must have rank 2 when multi_label=True; "
                                 f"received shape {tuple(shape)}")
            size = (self.num_thresholds, shape[1])
        else:
            size = (self.num_thresholds,)
        self.true_positives = self.add_weight("true_positives", size)
        self.false_positives = self.add_weight("false_positives", size)
        self.true_negatives = self.add_weight("true_negatives", size)
        self.false_negatives = self.add_weight("false_negatives", size)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _tensor(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = ops.sigmoid(ops.cast(y_pred, "float32"))
        _confusion_counts({"tp": self.true_positives, "tn": self.true_negatives,
                           "fp": self.false_positives, "fn": self.false_negatives},
                          y_true, y_pred, self.thresholds, sample_weight=sample_weight,
                          multi_label=self.multi_label,
                          label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, terms):
        if not self.multi_label:
            return ops.reduce_sum(terms)
        by_label = ops.reduce_sum(terms, 0)
        if self.label_weights is None:
            return ops.reduce_mean(by_label)
        weights = ops.constant(self.label_weights)
        return ops.divide_no_nan(ops.reduce_sum(by_label * weights), ops.reduce_sum(weights))

    def _interpolated_pr(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        zero = ops.zeros((), "float32")
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = ops.divide_no_nan(dtp, ops.maximum(dp, zero))
        intercept = tp[1:] - slope * p[1:]
        both = ops.logical_and(ops.greater(p[:-1], zero), ops.greater(p[1:], zero))
        ratio = ops.where(both, ops.divide_no_nan(p[:-1], ops.maximum(p[1:], zero)),
                          ops.ones_like(p[1:]))
        increment = ops.divide_no_nan(slope * (dtp + intercept * ops.log(ratio)),
                                      ops.maximum(tp[1:] + fn[1:], zero))
        return self._by_label(increment)

    def result(self):
        if not self._built:
            return ops.zeros((), self.dtype)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = ops.divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = ops.divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, ops.divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            zero, one = ops.zeros((), "float32"), ops.ones((), "float32")
            scale = ops.divide_no_nan(tp + fn, tn + fp)
            no_tp = ops.equal(tp, zero)
            x = ops.maximum(ops.where(no_tp, zero, 1.0 - scale * ops.divide_no_nan(fn, tp)),
                            zero)
            y = ops.where(no_tp, one, 1.0 - scale * ops.divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = ops.minimum(y[:-1], y[1:])
        else:
            heights = ops.maximum(y[:-1], y[1:])
        return self._by_label((x[:-1] - x[1:]) * heights)

    def reset_state(self):
        super().reset_state()

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None
                  else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(Metric):
    """The F-beta score ``(1 + beta²) * P * R / (beta² * P + R)`` per class of 2-D one-hot or
    multi-label targets, from counts over everything seen (each term with 1e-7 added to its
    denominator, as Keras). A prediction is positive above ``threshold``, or, without one,
    where it is its row's maximum (and not 0). ``average``: None (one score per class),
    "micro" (counts pooled over classes), "macro" (the mean of the scores) or "weighted"
    (weighted by each class's count of true labels)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype="float32"):
        super().__init__(name, dtype)
        cls = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{cls}: average must be None, 'micro', 'macro' or 'weighted'; "
                             f"received {average!r}")
        if not isinstance(beta, float) or beta <= 0:
            raise ValueError(f"{cls}: beta must be a Python float > 0; received {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or
                                      not 0 < threshold <= 1):
            raise ValueError(f"{cls}: threshold must be a Python float in (0, 1]; received "
                             f"{threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, true_shape, pred_shape):
        if len(pred_shape) != 2 or len(true_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects 2-D inputs (batch, classes); "
                             f"received y_true of shape {tuple(true_shape)} and y_pred of "
                             f"shape {tuple(pred_shape)}")
        size = () if self.average == "micro" else (pred_shape[-1],)
        self.true_positives = self.add_weight("true_positives", size)
        self.false_positives = self.add_weight("false_positives", size)
        self.false_negatives = self.add_weight("false_negatives", size)
        self.intermediate_weights = self.add_weight("intermediate_weights", size)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(_tensor(y_true), "float32")
        y_pred = ops.cast(_tensor(y_pred), "float32")
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:
            top = ops.reduce_max(y_pred, -1, keepdims=True)
            positive = ops.logical_and(ops.greater_equal(y_pred, top),
                                       ops.greater(ops.abs(y_pred), 1e-9))
        else:
            positive = ops.greater(y_pred, self.threshold)
        y_pred = ops.cast(positive, "float32")
        w = None if sample_weight is None else \
            ops.expand_dims(ops.cast(_tensor(sample_weight), "float32"), 1)

        def total(value):
            return ops.reduce_sum(value if w is None else value * w, self.axis)

        self.true_positives.assign_add(total(y_pred * y_true))
        self.false_positives.assign_add(total(y_pred * (1.0 - y_true)))
        self.false_negatives.assign_add(total((1.0 - y_pred) * y_true))
        self.intermediate_weights.assign_add(total(y_true))

    def result(self):
        if not self._built:
            return ops.zeros((), self.dtype)
        eps = losses.EPSILON
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        b2 = self.beta ** 2
        score = precision * recall / (precision * b2 + recall + eps) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (ops.reduce_sum(self.intermediate_weights)
                                                   + eps)
            return ops.reduce_sum(score * weights)
        if self.average is not None:
            return ops.reduce_mean(score)
        return score

    def reset_state(self):
        super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype="float32"):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# -- intersection over union -------------------------------------------------------------------

class _IoUBase(Metric):
    def __init__(self, num_classes, name=None, dtype="int32", ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name, "int32" if dtype in (None, "int") else dtype)
        self.num_classes, self.ignore_class = int(num_classes), ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_weight("total_confusion_matrix",
                                        (self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _tensor(y_true), _tensor(y_pred)
        if not self.sparse_y_true:
            y_true = ops.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = ops.argmax(y_pred, axis=self.axis)
        # Labels, predictions and weights in the metric's dtype (int32 by default, as
        # Keras: fractional weights are truncated), then counted in float32.
        y_true = ops.reshape(ops.cast(ops.cast(y_true, self.dtype), "float32"), (-1,))
        y_pred = ops.reshape(ops.cast(ops.cast(y_pred, self.dtype), "float32"), (-1,))
        w = ops.ones((), "float32") if sample_weight is None else \
            ops.reshape(ops.cast(ops.cast(_tensor(sample_weight), self.dtype), "float32"),
                        (-1,))
        w = ops.broadcast_to(w, y_true.shape)
        n = float(self.num_classes)
        inside = ops.logical_and(
            ops.logical_and(ops.greater_equal(y_true, 0.0), ops.less(y_true, n)),
            ops.logical_and(ops.greater_equal(y_pred, 0.0), ops.less(y_pred, n)))
        if self.ignore_class is not None:
            inside = ops.logical_and(inside, ops.not_equal(y_true, float(self.ignore_class)))
        zero = ops.zeros((), "float32")
        labels = ops.cast(ops.where(inside, y_true, zero), "int64")
        predicted = ops.cast(ops.where(inside, y_pred, zero), "int64")
        w = ops.where(inside, w, zero)
        # cm[i, j] += the weight of each sample labelled i and predicted j
        rows = ops.one_hot(labels, self.num_classes, dtype="float32") * ops.expand_dims(w, 1)
        cm = ops.matmul(ops.transpose(rows), ops.one_hot(predicted, self.num_classes,
                                                         dtype="float32"))
        self.total_cm.assign_add(ops.cast(cm, self.dtype))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class IoU(_IoUBase):
    """Intersection over union, ``tp / (tp + fp + fn)``, from a confusion matrix of
    ``num_classes`` classes accumulated over everything seen (weighted; the matrix is
    int32 by default, as in Keras, so weights are truncated to integers), averaged over the
    ``target_class_ids`` that occurred (as predictions or labels). Labels and predictions
    are class ids (``sparse_y_true``/``sparse_y_pred``; otherwise their argmax over
    ``axis``); ids outside [0, num_classes) and ``ignore_class`` are left out."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype="int32",
                 ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true,
                         sparse_y_pred, axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"{type(self).__name__}: target class id "
                             f"{max(target_class_ids)} is out of range [0, {num_classes})")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = ops.cast(self.total_cm, "float32")
        tp = ops.reduce_sum(cm * ops.eye(self.num_classes, dtype="float32"), 1)
        denominator = ops.reduce_sum(cm, 0) + ops.reduce_sum(cm, 1) - tp
        ids = np.asarray(self.target_class_ids, np.int64)
        tp, denominator = ops.gather(tp, ids), ops.gather(denominator, ids)
        valid = ops.greater(denominator, 1e-9)
        count = ops.reduce_sum(ops.cast(valid, "float32"))
        iou = ops.where(valid, tp / (denominator + losses.EPSILON), ops.zeros((), "float32"))
        return ops.reduce_sum(iou, self.axis) / (count + losses.EPSILON)

    def get_config(self):
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


class BinaryIoU(IoU):
    """:class:`IoU` of 0/1 labels and scores, a score at or above ``threshold`` (0.5) counting
    as class 1; averaged over ``target_class_ids`` (both classes by default)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype="int32"):
        super().__init__(2, target_class_ids, name, dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.greater_equal(ops.cast(_tensor(y_pred), "float32"),
                                            float(self.threshold)), "float32")
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name,
                "target_class_ids": self.target_class_ids, "threshold": self.threshold}


class MeanIoU(IoU):
    """:class:`IoU` averaged over all ``num_classes`` classes."""

    def __init__(self, num_classes, name=None, dtype="int32", ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name, dtype, ignore_class,
                         sparse_y_true, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """:class:`IoU` of one-hot labels (and scores, unless ``sparse_y_pred``)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype="int32",
                 ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False,
                         sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` of one-hot labels (and scores, unless ``sparse_y_pred``)."""

    def __init__(self, num_classes, name=None, dtype="int32", ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


# Keras's metric functions that are losses (keras.metrics.hinge is keras.losses.hinge).
binary_crossentropy = losses.binary_crossentropy
categorical_crossentropy = losses.categorical_crossentropy
sparse_categorical_crossentropy = losses.sparse_categorical_crossentropy
binary_focal_crossentropy = losses.binary_focal_crossentropy
categorical_focal_crossentropy = losses.categorical_focal_crossentropy
mean_squared_error, mean_absolute_error = losses.mean_squared_error, losses.mean_absolute_error
mean_absolute_percentage_error = losses.mean_absolute_percentage_error
mean_squared_logarithmic_error = losses.mean_squared_logarithmic_error
hinge, squared_hinge, categorical_hinge = losses.hinge, losses.squared_hinge, \
    losses.categorical_hinge
huber, kl_divergence, log_cosh, poisson = losses.huber, losses.kl_divergence, \
    losses.log_cosh, losses.poisson


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
        (ShapeResolvedAccuracy, "accuracy", "acc"),  # see resolve()
        (MeanSquaredLogarithmicError, "mean_squared_logarithmic_error", "msle"),
        (BinaryCrossentropy, "binary_crossentropy", "bce"), (MeanMetricWrapper,)):
    REGISTRY.register(_cls, *_names)
# Keras's string names of the other classes: their snake_case class names.
for _cls in (TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, LogCoshError,
             CosineSimilarity, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
             CategoricalCrossentropy, SparseCategoricalCrossentropy, RootMeanSquaredError,
             R2Score, TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision,
             Recall, AUC, FBetaScore, F1Score, IoU, BinaryIoU, MeanIoU, OneHotIoU,
             OneHotMeanIoU):
    REGISTRY.register(_cls, snake_case(_cls.__name__))


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
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metric must be a name, a Metric or a callable; received {identifier!r}")


def serialize(metric):
    """A Metric as ``{"class_name": ..., "config": ...}``; a metric function as its name."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    name = getattr(metric, "__name__", None)
    if callable(metric) and name and globals().get(name) is metric:
        return name
    raise ValueError(f"metrics.serialize: {metric!r} is not a Metric or a metric function "
                     f"of keras.metrics")


def deserialize(config, custom_objects=None):
    """The metric a :func:`serialize` result describes: a config dict (the class made from
    its config), or a name (a metric function of this module, else a class made with its
    default arguments)."""
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        found = globals().get(config)
        if callable(found) and not isinstance(found, type) and config in __all__:
            return found
        return get(config)
    cls = REGISTRY.class_named(config.get("class_name"), custom_objects)
    return cls.from_config(config.get("config", {}))


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
