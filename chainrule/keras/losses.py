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
    "MeanSquaredLogarithmicError", "Huber", "LogCosh", "KLDivergence", "Poisson", "Hinge",
    "SquaredHinge", "CategoricalHinge", "CosineSimilarity", "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy", "mean_squared_logarithmic_error", "huber", "log_cosh",
    "kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge",
    "cosine_similarity", "binary_focal_crossentropy", "categorical_focal_crossentropy", "msle",
    "kld", "logcosh", "serialize", "deserialize", "reduce_losses",
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


def _pair(y_true, y_pred):
    y_pred = _predictions(y_pred)
    return _float_targets(y_true, y_pred), y_pred


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps)))²)`` over the last
    axis (eps = 1e-7): one value per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    first = ops.log(ops.maximum(y_pred, EPSILON) + 1.0)
    second = ops.log(ops.maximum(y_true, EPSILON) + 1.0)
    return ops.reduce_mean(ops.square(first - second), -1)


def huber(y_true, y_pred, delta=1.0):
    """Per entry ``e = y_pred - y_true``: ``e²/2`` where ``|e| <= delta``, else
    ``delta * |e| - delta²/2``; averaged over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = ops.abs(error)
    delta = float(delta)
    return ops.reduce_mean(ops.where(abs_error <= delta, ops.square(error) * 0.5,
                                     abs_error * delta - 0.5 * delta * delta), -1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed as
    ``x + softplus(-2x) - log 2`` (no overflow for large x)."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return ops.reduce_mean(x + ops.softplus(x * -2.0) - float(np.log(2.0)), -1)


def kl_divergence(y_true, y_pred):
    """``sum(t * log(t / p))`` over the last axis, with ``t`` and ``p`` clipped to
    [1e-7, 1] first."""
    y_true, y_pred = _pair(y_true, y_pred)
    t = ops.clip_by_value(y_true, EPSILON, 1.0)
    p = ops.clip_by_value(y_pred, EPSILON, 1.0)
    return ops.reduce_sum(t * ops.log(t / p), -1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.reduce_mean(y_pred - y_true * ops.log(y_pred + EPSILON), -1)


def _hinge_labels(y_true):
    """Labels that are all 0 or 1 become -1 or 1 (as Keras does); other labels are used as
    they are. Decided on the values with ops, so a compiled step decides it per batch."""
    binary = ops.reduce_all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.where(binary, y_true * 2.0 - 1.0, y_true)


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis; labels in {-1, 1}, or in
    {0, 1} (then mapped to {-1, 1})."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.reduce_mean(ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), -1)


def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0)²)`` over the last axis; labels as :func:`hinge`."""
    y_true, y_pred = _pair(y_true, y_pred)
    margin = ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)
    return ops.reduce_mean(ops.square(margin), -1)


def categorical_hinge(y_true, y_pred):
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y_true * y_pred)`` and
    ``neg = max((1 - y_true) * y_pred)`` over the last axis (one-hot ``y_true``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    pos = ops.reduce_sum(y_true * y_pred, -1)
    neg = ops.reduce_max((1.0 - y_true) * y_pred, -1)
    return ops.maximum(neg - pos + 1.0, 0.0)


def _l2_normalize(x, axis):
    # x / sqrt(sum(x²)), the inverse norm capped at 1 / 1e-7 (Keras's ops.normalize).
    inverse = ops.rsqrt(ops.reduce_sum(ops.square(x), axis, keepdims=True))
    return x * ops.minimum(inverse, 1.0 / EPSILON)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(normalize(y_true) * normalize(y_pred))`` over ``axis``: -1 for vectors
    pointing the same way, 0 for orthogonal ones (a loss to minimise)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return -ops.reduce_sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by ``(1 - p_t)^gamma`` with ``p_t = y p + (1 - y)(1 -
    p)``, averaged over the last axis. Logits go through a sigmoid first; probabilities are
    clipped to [1e-7, 1 - 1e-7] in the cross-entropy (not in ``p_t``).
    ``apply_class_balancing=True`` also weights each entry by ``alpha`` (positives) or
    ``1 - alpha`` (negatives)."""
    _last_axis_only("binary_focal_crossentropy", axis)
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    p = ops.clip_by_value(y_pred, EPSILON, 1 - EPSILON)
    bce = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = ops.pow(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        focal = (y_true * float(alpha) + (1.0 - y_true) * (1.0 - float(alpha))) * focal
    return ops.reduce_mean(focal, -1)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """``sum(alpha * (1 - p)^gamma * -y_true * log p)`` over the class axis, with ``p`` the
    predictions (softmax of logits) divided by their sum and clipped to [1e-7, 1 - 1e-7]."""
    _last_axis_only("categorical_focal_crossentropy", axis)
    y_true, y_pred = _pair(y_true, y_pred)
    _same_shape("categorical_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        y_pred = ops.softmax(y_pred, -1)
    p = ops.clip_by_value(y_pred / ops.reduce_sum(y_pred, -1, keepdims=True), EPSILON,
                          1 - EPSILON)
    cce = -y_true * ops.log(p)
    return ops.reduce_sum(ops.pow(1.0 - p, float(gamma)) * float(alpha) * cce, -1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


def _last_axis_only(fn_name, axis):
    if axis not in (-1, None):
        raise NotImplementedError(f"{fn_name}: only axis=-1 (classes last) is supported")


# -- the classes (reduce over the batch) -----------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


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
    """Per-sample losses reduced to what ``reduction`` asks for: ``"sum"``, their mean
    (``"sum_over_batch_size"`` or ``"mean"``, weighted values over their count), or
    ``"mean_with_sample_weight"`` (weighted values over the sum of the weights; 0 when
    that is 0)."""
    if sample_weight is not None:
        sample_weight = _float_targets(sample_weight, values)
        values = values * sample_weight
    if reduction in ("none", None):
        return values
    total = ops.reduce_sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = ops.reduce_sum(ops.broadcast_to(sample_weight, values.shape))
        zero = ops.equal(divisor, 0.0)
        return ops.where(zero, ops.zeros((), total.dtype),
                         total / ops.where(zero, ops.ones((), total.dtype), divisor))
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


def _wrapper_class(class_name, fn, arguments, doc, default_name=None):
    def __init__(self, *args, name=None, reduction="sum_over_batch_size", **kwargs):
        values = dict(arguments)
        unknown = set(kwargs) - set(values)
        if unknown or len(args) > len(values):
            raise TypeError(f"{class_name}: unexpected argument(s) "
                            f"{', '.join(sorted(unknown)) or args[len(values):]}")
        values.update(zip(values, args))
        values.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, name or default_name or fn.__name__, reduction,
                                     **values)

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

MeanSquaredLogarithmicError = _wrapper_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, {},
    "Mean over the batch of :func:`mean_squared_logarithmic_error`.")
Huber = _wrapper_class("Huber", huber, {"delta": 1.0}, "Mean over the batch of :func:`huber`.",
                       default_name="huber_loss")
LogCosh = _wrapper_class("LogCosh", log_cosh, {}, "Mean over the batch of :func:`log_cosh`.")
KLDivergence = _wrapper_class("KLDivergence", kl_divergence, {},
                              "Mean over the batch of :func:`kl_divergence`.")
Poisson = _wrapper_class("Poisson", poisson, {}, "Mean over the batch of :func:`poisson`.")
Hinge = _wrapper_class("Hinge", hinge, {}, "Mean over the batch of :func:`hinge`.")
SquaredHinge = _wrapper_class("SquaredHinge", squared_hinge, {},
                              "Mean over the batch of :func:`squared_hinge`.")
CategoricalHinge = _wrapper_class("CategoricalHinge", categorical_hinge, {},
                                  "Mean over the batch of :func:`categorical_hinge`.")
CosineSimilarity = _wrapper_class("CosineSimilarity", cosine_similarity, {"axis": -1},
                                  "Mean over the batch of :func:`cosine_similarity`.")
BinaryFocalCrossentropy = _wrapper_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy,
    {"apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, "from_logits": False,
     "label_smoothing": 0.0, "axis": -1},
    "Mean over the batch of :func:`binary_focal_crossentropy`.")
CategoricalFocalCrossentropy = _wrapper_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy,
    {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "Mean over the batch of :func:`categorical_focal_crossentropy`.")

_NEW_CLASSES = (MeanSquaredLogarithmicError, Huber, LogCosh, KLDivergence, Poisson, Hinge,
                SquaredHinge, CategoricalHinge, CosineSimilarity, BinaryFocalCrossentropy,
                CategoricalFocalCrossentropy)


REGISTRY = Registry("loss")
for _fn, *_names in ((sparse_categorical_crossentropy, "sparse_categorical_crossentropy"),
                     (categorical_crossentropy, "categorical_crossentropy"),
                     (binary_crossentropy, "binary_crossentropy"),
                     (mean_squared_error, "mean_squared_error", "mse"),
                     (mean_absolute_error, "mean_absolute_error", "mae"),
                     (mean_absolute_percentage_error, "mean_absolute_percentage_error",
                      "mape"),
                     (mean_squared_logarithmic_error, "mean_squared_logarithmic_error", "msle"),
                     (huber, "huber"), (log_cosh, "log_cosh", "logcosh"),
                     (kl_divergence, "kl_divergence", "kld"), (poisson, "poisson"),
                     (hinge, "hinge"), (squared_hinge, "squared_hinge"),
                     (categorical_hinge, "categorical_hinge"),
                     (cosine_similarity, "cosine_similarity"),
                     (binary_focal_crossentropy, "binary_focal_crossentropy"),
                     (categorical_focal_crossentropy, "categorical_focal_crossentropy")):
    REGISTRY.register(_fn, *_names)
for _cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
             MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError) + _NEW_CLASSES:
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


def serialize(loss):
    """A Loss as ``{"class_name": ..., "config": ...}``; a loss function as its name."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss) and REGISTRY.names.get(getattr(loss, "__name__", None)) is loss:
        return loss.__name__
    raise ValueError(f"losses.serialize: {loss!r} is not a Loss or a loss function of "
                     f"keras.losses; register your own with custom_objects when loading")


def deserialize(name, custom_objects=None):
    """The loss a :func:`serialize` result describes: a name (a function, or a class made
    with its default arguments) or a config dict (the class made from its config)."""
    if isinstance(name, str):
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        return REGISTRY.from_name(name)
    if isinstance(name, dict):
        return REGISTRY.deserialize(name, custom_objects)
    raise TypeError(f"losses.deserialize takes a name or a config dict; received {name!r}")
