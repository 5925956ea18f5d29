"""Losses: a per-sample function and a reducing class for each, plus :func:`get`.

The functions (``sparse_categorical_crossentropy(y_true, y_pred)``) return one loss per
sample, as chapter 2 uses them before ``reduce_mean``. The classes
(``SparseCategoricalCrossentropy()``) average those over the batch (the
``"sum_over_batch_size"`` reduction), which is what ``compile`` uses.

Cross-entropy on probabilities follows Keras exactly: the predictions are divided by their
sum, then clipped to [1e-7, 1 - 1e-7] before the log. A sample's loss is therefore at most
-ln(1e-7) = 16.118, and its gradient is zero where the clip is active. With
``from_logits=True`` the log-softmax (or log-sigmoid) is computed from the logits directly:
exact, with no clipping.

A softmax output of :func:`chainrule.keras.activations.softmax` (a ``Dense(...,
activation="softmax")`` layer) carries its logits, and the categorical cross-entropies use
them, as the TensorFlow backend of Keras does: one exact op whose gradient is ``softmax -
one_hot``. Its value equals the clipped formula wherever the true class's probability is at
least 1e-7; below that the clipped formula would stop at 16.118 and pass no gradient.
"""

import numpy as np

from .. import ops
from ..primitives import Primitive, bind
from .activations import logits_of
from ..tensor import Tensor
from ._registry import Registry, snake_case

__all__ = [
    "EPSILON", "Loss", "LossFunctionWrapper", "apply_mask", "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "sparse_categorical_crossentropy",
    "categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
    "mean_absolute_error", "mean_absolute_percentage_error", "mse", "mae", "mape", "get",
]

EPSILON = 1e-7  # keras.config.epsilon(): the clip margin for probabilities


# -- argument handling ----------------------------------------------------------------------

def _predictions(y_pred):
    y_pred = y_pred if isinstance(y_pred, Tensor) else Tensor._wrap(np.asarray(y_pred))
    if y_pred.dtype.kind != "f":
        y_pred = ops.cast(y_pred, "float32")
    return y_pred


def _float_targets(y_true, y_pred):
    """``y_true`` as a tensor of ``y_pred``'s dtype, with a trailing size-1 axis added or
    dropped so both have the same rank (Keras does the same). Written with ops, so that a
    traced step sees the targets as its input, not as a constant."""
    targets = _as_tensor(y_true)
    if targets.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        targets = ops.expand_dims(targets, -1)
    elif targets.ndim == y_pred.ndim + 1 and targets.shape[-1] == 1:
        targets = ops.reshape(targets, targets.shape[:-1])
    if targets.dtype != y_pred.dtype:
        targets = ops.cast(targets, y_pred.dtype)
    return targets


def _integer_labels(fn_name, y_true, y_pred, check_range=True):
    """Class-index labels for the sparse losses: integers, shaped like ``y_pred`` without
    its class axis, each in [0, classes) (checked unless ``check_range=False``).

    The values are checked here, on this call's labels, and again by the ``class_indices``
    op that converts them: a compiled step replays that op on every batch, so a NaN label
    in a later batch is named as NaN there too (not as the integer a cast makes of it)."""
    labels = _as_tensor(y_true)
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = ops.reshape(labels, labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{fn_name}: y_true of shape {np.shape(y_true)} and y_pred of shape "
            f"{y_pred.shape} are incompatible: y_true must hold one class index per sample, "
            f"shape {y_pred.shape[:-1]}")
    classes = y_pred.shape[-1]
    problem = _label_problem(labels._value, classes, y_pred.shape, check_range)
    if problem:
        raise ValueError(f"{fn_name}: {problem}")
    if labels.dtype.kind in "iu" and not check_range:
        return labels  # nothing a batch could change that the loss's own op does not check
    return bind(_CLASS_INDICES, (labels,), {"classes": classes, "pred_shape": y_pred.shape,
                                            "check_range": check_range, "loss": fn_name})


def _label_problem(values, classes, pred_shape, check_range):
    """What is wrong with the class labels ``values``, in words, or None."""
    if values.dtype.kind not in "iu":
        if values.dtype.kind == "f" and values.size:
            bad = ~np.isfinite(values)
            if bad.any():
                first = values[bad].flat[0]
                return (f"y_true holds {'NaN' if np.isnan(first) else first} (sample "
                        f"{int(np.flatnonzero(bad.reshape(-1))[0])} of the batch); labels must "
                        f"be integer class indices in [0, {classes - 1}]")
            if np.any(values != np.floor(values)):
                return (f"y_true must hold integer class indices; received non-integer values "
                        f"such as {values[values != np.floor(values)][0]}")
        values = values.astype(np.int64)
    if check_range and values.size:
        hi = values.max()
        lo = 0 if values.dtype.kind == "u" else values.min()
        if lo < 0 or hi >= classes:
            return (f"label {lo if lo < 0 else hi} is out of range for y_pred with {classes} "
                    f"classes (shape {pred_shape}); labels must be integers in "
                    f"[0, {classes - 1}]")
    return None


def _class_indices(labels, classes, pred_shape, check_range, loss):
    problem = _label_problem(labels, classes, pred_shape, check_range)
    if problem:
        raise ValueError(f"{loss}: {problem}")
    return labels if labels.dtype.kind in "iu" else labels.astype(np.int64)


# Labels checked and made integers, as an op: what runs while tracing runs in every replay.
_CLASS_INDICES = Primitive("class_indices", _class_indices,
                           why="its result is integer class indices")


def _as_tensor(y):
    return y if isinstance(y, Tensor) else Tensor._wrap(np.asarray(y))


def _same_shape(fn_name, y_true, y_pred):
    if y_true.shape != y_pred.shape:
        hint = ("; for integer class labels use sparse_categorical_crossentropy"
                if y_true.ndim == y_pred.ndim - 1 or (y_true.ndim and y_true.shape[-1] == 1)
                else "")
        raise ValueError(f"{fn_name}: y_true of shape {y_true.shape} and y_pred of shape "
                         f"{y_pred.shape} must have the same shape{hint}")


def _clipped_log_probabilities(p, axis=-1):
    """log of ``p / sum(p)`` clipped to [EPSILON, 1 - EPSILON] (Keras's rule)."""
    p = p / ops.reduce_sum(p, axis, keepdims=True)
    return ops.log(ops.clip_by_value(p, EPSILON, 1 - EPSILON))


# -- the loss functions (one value per sample) -----------------------------------------------

def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """``-log p[label]`` for integer labels ``y_true`` (shape ``(batch,)`` or ``(batch, 1)``)
    and class probabilities (or logits) ``y_pred`` of shape ``(batch, classes)``.

    Returns a ``(batch,)`` tensor. Probabilities are renormalised and clipped to
    [1e-7, 1 - 1e-7] first (so each value is at most 16.118); logits go through an exact
    fused log-softmax.

    >>> import numpy as np, chainrule as cr
    >>> from chainrule import keras
    >>> p = cr.constant([[0.1, 0.9], [0.5, 0.5]])
    >>> np.round(keras.losses.sparse_categorical_crossentropy(np.array([1, 0], np.uint8), p).numpy(), 4)
    array([0.1054, 0.6931], dtype=float32)
    """
    _last_axis_only("sparse_categorical_crossentropy", axis)
    if not from_logits and logits_of(y_pred) is not None:
        y_pred, from_logits = logits_of(y_pred), True
    y_pred = _predictions(y_pred)
    if from_logits:
        # The op checks the label range itself; on failure, say it in this loss's words.
        labels = _integer_labels("sparse_categorical_crossentropy", y_true, y_pred, False)
        try:
            return ops.sparse_softmax_cross_entropy_with_logits(labels, y_pred)
        except ValueError:
            _integer_labels("sparse_categorical_crossentropy", y_true, y_pred)
            raise
    labels = _integer_labels("sparse_categorical_crossentropy", y_true, y_pred)
    log_p = _clipped_log_probabilities(y_pred)
    picked = ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return -ops.reduce_sum(picked * log_p, -1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log p)`` over the class axis, for one-hot (or soft) targets of the same
    shape as ``y_pred``. Same clipping rule as the sparse form."""
    _last_axis_only("categorical_crossentropy", axis)
    if not from_logits and logits_of(y_pred) is not None:
        y_pred, from_logits = logits_of(y_pred), True
    y_pred = _predictions(y_pred)
    y_true = _float_targets(y_true, y_pred)
    _same_shape("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    log_p = ops.log_softmax(y_pred, -1) if from_logits else _clipped_log_probabilities(y_pred)
    return -ops.reduce_sum(y_true * log_p, -1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-(y log p + (1 - y) log(1 - p))``, averaged over the last axis.

    Probabilities are clipped to [1e-7, 1 - 1e-7]. From logits x it is computed as
    ``softplus(x) - x * y``, which is stable for any x and has the exact gradient
    ``sigmoid(x) - y``.
    """
    _last_axis_only("binary_crossentropy", axis)
    y_pred = _predictions(y_pred)
    y_true = _float_targets(y_true, y_pred)
    _same_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per_entry = ops.softplus(y_pred) - y_pred * y_true
    else:
        p = ops.clip_by_value(y_pred, EPSILON, 1 - EPSILON)
        per_entry = -(y_true * ops.log(p) + (1 - y_true) * ops.log(1 - p))
    return ops.reduce_mean(per_entry, -1)


def mean_squared_error(y_true, y_pred):
    """``mean((y_pred - y_true) ** 2)`` over the last axis: one value per sample."""
    y_pred = _predictions(y_pred)
    y_true = _float_targets(y_true, y_pred)
    return ops.reduce_mean(ops.square(y_pred - y_true), -1)


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_pred - y_true|)`` over the last axis: one value per sample."""
    y_pred = _predictions(y_pred)
    y_true = _float_targets(y_true, y_pred)
    return ops.reduce_mean(ops.abs(y_pred - y_true), -1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|(y_true - y_pred) / y_true|)`` over the last axis, with ``|y_true|``
    kept at least ``EPSILON``: one value per sample."""
    y_pred = _predictions(y_pred)
    y_true = _float_targets(y_true, y_pred)
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), EPSILON))
    return 100.0 * ops.reduce_mean(diff, -1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error


def _last_axis_only(fn_name, axis):
    if axis not in (-1, None):
        raise NotImplementedError(f"{fn_name}: only axis=-1 (classes last) is supported")


# -- the classes (reduce over the batch) -----------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` reduces :meth:`call`'s
    per-sample values; the default reduction, ``"sum_over_batch_size"``, is their mean.
    When ``y_pred`` carries a mask (a model's output after ``Embedding(mask_zero=True)``),
    the masked values count for nothing: see :func:`apply_mask`."""

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{[r for r in _REDUCTIONS if r]} or None; received {reduction!r}")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)  # a masked model output's (Keras 3)
        values = self.call(y_true, y_pred)
        out_mask = getattr(values, "_keras_mask", None)
        if out_mask is not None:
            mask = out_mask if mask is None else ops.logical_and(
                ops.cast(mask, bool), ops.cast(out_mask, bool))
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, values, self.reduction, self.name)
        return reduce_losses(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def apply_mask(sample_weight, mask, values, reduction, name):
    """The sample weights with a prediction's mask folded in, as Keras 3 does: where the
    mask is False the weight is 0; under a mean reduction (``"sum_over_batch_size"``) the
    kept entries weigh ``entries / kept``, so the mean over the batch becomes the mean over
    the kept steps (0 when none is kept). A per-sample weight of shape ``(batch,)`` scales
    every step of its sample."""
    mask = ops.convert_to_tensor(mask)
    if tuple(values.shape[:mask.ndim]) != tuple(mask.shape):
        raise ValueError(
            f"{name}: the mask of y_pred has shape {tuple(mask.shape)}, which does not match "
            f"the per-sample losses of shape {tuple(values.shape)} (their leading axes); a "
            f"layer that changes the steps should set (or drop) the mask it passes on")
    kept = ops.cast(mask, bool)
    if reduction in ("sum_over_batch_size", "mean"):
        # entries / kept (where nothing is kept every weight is 0 anyway)
        kept_count = ops.maximum(ops.reduce_sum(ops.cast(kept, values.dtype)), 1.0)
        scale = ops.constant(float(kept.size), values.dtype) / kept_count
        weights = ops.where(kept, scale, ops.zeros((), values.dtype))
    else:
        weights = ops.cast(kept, values.dtype)
    if sample_weight is None:
        return weights
    sample_weight = _as_tensor(sample_weight)
    if sample_weight.dtype != values.dtype:
        sample_weight = ops.cast(sample_weight, values.dtype)
    if sample_weight.ndim == weights.ndim + 1 and sample_weight.shape[-1] == 1:
        sample_weight = ops.reshape(sample_weight, sample_weight.shape[:-1])
    if 0 < sample_weight.ndim < weights.ndim:  # (batch,): the same weight for every step
        sample_weight = ops.reshape(
            sample_weight, tuple(sample_weight.shape) + (1,) * (weights.ndim - sample_weight.ndim))
    return weights * sample_weight


def reduce_losses(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Per-sample losses reduced to what ``reduction`` asks for."""
    if sample_weight is not None:
        values = values * _float_targets(sample_weight, values)
    if reduction in ("none", None):
        return values
    total = ops.reduce_sum(values)
    if reduction == "sum":
        return total
    return total * (1.0 / max(values.size, 1))


class LossFunctionWrapper(Loss):
    """A loss class around a per-sample function and its keyword arguments."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **fn_kwargs):
        super().__init__(name or getattr(fn, "__name__", None), reduction)
        self.fn = fn
        self.fn_kwargs = fn_kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _wrapper_class(class_name, fn, arguments, doc):
    def __init__(self, *args, name=None, reduction="sum_over_batch_size", **kwargs):
        values = dict(arguments)
        unknown = set(kwargs) - set(values)
        if unknown or len(args) > len(values):
            raise TypeError(f"{class_name}: unexpected argument(s) "
                            f"{', '.join(sorted(unknown)) or args[len(values):]}")
        values.update(zip(values, args))
        values.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, name or fn.__name__, reduction, **values)

    return type(class_name, (LossFunctionWrapper,),
                {"__init__": __init__, "__doc__": doc, "__module__": __name__})


SparseCategoricalCrossentropy = _wrapper_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    {"from_logits": False}, "Mean over the batch of :func:`sparse_categorical_crossentropy`.")
CategoricalCrossentropy = _wrapper_class(
    "CategoricalCrossentropy", categorical_crossentropy,
    {"from_logits": False, "label_smoothing": 0.0},
    "Mean over the batch of :func:`categorical_crossentropy`.")
BinaryCrossentropy = _wrapper_class(
    "BinaryCrossentropy", binary_crossentropy, {"from_logits": False, "label_smoothing": 0.0},
    "Mean over the batch of :func:`binary_crossentropy`.")
MeanSquaredError = _wrapper_class(
    "MeanSquaredError", mean_squared_error, {}, "Mean over the batch of :func:`mean_squared_error`.")
MeanAbsoluteError = _wrapper_class(
    "MeanAbsoluteError", mean_absolute_error, {},
    "Mean over the batch of :func:`mean_absolute_error`.")
MeanAbsolutePercentageError = _wrapper_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, {},
    "Mean over the batch of :func:`mean_absolute_percentage_error`.")


REGISTRY = Registry("loss")
for _fn, *_names in ((sparse_categorical_crossentropy, "sparse_categorical_crossentropy"),
                     (categorical_crossentropy, "categorical_crossentropy"),
                     (binary_crossentropy, "binary_crossentropy"),
                     (mean_squared_error, "mean_squared_error", "mse"),
                     (mean_absolute_error, "mean_absolute_error", "mae"),
                     (mean_absolute_percentage_error, "mean_absolute_percentage_error",
                      "mape")):
    REGISTRY.register(_fn, *_names)
for _cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
             MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError):
    REGISTRY.register(_cls, _cls.__name__)  # (so that the valid names listed include them)


def get(identifier):
    """A loss from a name: a function for snake_case names (``"mse"``,
    ``"sparse_categorical_crossentropy"``), an instance for class names
    (``"SparseCategoricalCrossentropy"``); Loss objects and callables pass through."""
    if isinstance(identifier, str):
        return REGISTRY.from_name(identifier)
    if isinstance(identifier, dict):
        return REGISTRY.deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"loss must be a name, a Loss or a callable; received {identifier!r}")
