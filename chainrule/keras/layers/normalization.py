"""BatchNormalization: each feature normalised by the batch's statistics while training and
by the moving statistics it keeps otherwise; LayerNormalization, GroupNormalization,
RMSNormalization and UnitNormalization, which normalise each example by its own statistics."""

import numbers
import warnings

from ... import ops
from .. import initializers, regularizers
from .layer import Layer

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization",
           "UnitNormalization"]


class BatchNormalization(Layer):
    """Normalises each feature (the entries along ``axis``, channels by default) to mean 0
    and variance 1, then scales by ``gamma`` and shifts by ``beta``.

    With ``training=True`` (as ``fit`` calls a model) it uses the mean and the variance of
    the batch over every other axis, and moves ``moving_mean`` and ``moving_variance``
    towards them: ``moving = moving * momentum + batch * (1 - momentum)``. Otherwise
    (``predict``, ``evaluate``, a plain call) it uses the moving statistics. A layer with
    ``trainable=False`` always runs the second way and keeps its statistics, as in Keras 3
    (fine-tuning a pretrained model leaves its BatchNormalization layers as they were).

    Weights, in Keras's order: ``gamma`` (if ``scale``), ``beta`` (if ``center``), then the
    non-trainable ``moving_mean`` and ``moving_variance``.

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> bn = layers.BatchNormalization()
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], np.float32)
    >>> np.round(bn(x, training=True).numpy(), 3).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [round(float(m), 2) for m in bn.moving_mean.numpy()]  # 1% of the way to the batch mean
    [0.02, 0.2]
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, numbers.Integral):
            raise TypeError(f"BatchNormalization: axis must be one int (the features' axis); "
                            f"received axis={axis!r}")
        if beta_constraint is not None or gamma_constraint is not None:
            raise ValueError("BatchNormalization: chainrule has no weight constraints yet; "
                             "pass beta_constraint=None and gamma_constraint=None")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True (statistics over every "
                             "replica) is not supported; each process normalises by its own "
                             "share of the batch")
        if renorm or renorm_clipping is not None:
            raise ValueError("BatchNormalization: batch renormalization (renorm=True, "
                             "renorm_clipping) is not supported; pass renorm=False")
        self.renorm_momentum = float(renorm_momentum)  # (used by renorm only)
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    supports_masking = True  # the mask passes through; training's moments skip masked steps

    def _check_input(self, shape):
        if self._build_shape is not None and len(shape) != len(self._build_shape):
            raise ValueError(
                f"Input 0 of layer '{self.name}' (BatchNormalization) is incompatible with the "
                f"layer: expected ndim={len(self._build_shape)} (it was built for input shape "
                f"{self._build_shape}), found ndim={len(shape)}. Full shape received: "
                f"{tuple(shape)}")
        super()._check_input(shape)

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization '{self.name}': axis={self.axis} is out of "
                             f"range for inputs of shape {tuple(input_shape)}")
        axis = self.axis % ndim
        features = input_shape[axis]
        if features is None:
            raise ValueError(f"BatchNormalization '{self.name}': the features' axis {self.axis} "
                             f"of input shape {tuple(input_shape)} must have a known size")
        shape = (features,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer,
                                           name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        self._reduction_axes = tuple(a for a in range(ndim) if a != axis)
        # the statistics as (1, ..., features, ..., 1), unless features are the last axis
        self._stat_shape = None if axis == ndim - 1 else tuple(
            features if a == axis else 1 for a in range(ndim))
        self._input_axes = {self.axis: features}
        self._min_ndim = ndim
        self.built = True

    def _broadcastable(self, stat):
        return stat if self._stat_shape is None else ops.reshape(stat, self._stat_shape)

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            if mask.ndim != inputs.ndim - 1:
                raise ValueError(
                    f"BatchNormalization '{self.name}': the mask must have one axis fewer "
                    f"than the inputs (a mask of the steps); received a mask of shape "
                    f"{tuple(mask.shape)} for inputs of shape {tuple(inputs.shape)}")
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        if training and self.trainable:
            if mask is None:
                mean = ops.reduce_mean(inputs, self._reduction_axes)
                centred = inputs - self._broadcastable(mean)
                variance = ops.reduce_mean(centred * centred, self._reduction_axes)
            else:
                mean, variance = self._masked_moments(inputs, mask)
            rest = 1.0 - self.momentum
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * rest)
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * rest)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return ops.batch_normalization(
            inputs, self._broadcastable(mean), self._broadcastable(variance),
            None if self.beta is None else self._broadcastable(self.beta),
            None if self.gamma is None else self._broadcastable(self.gamma), self.epsilon)

    def _masked_moments(self, inputs, mask):
        """The mean and variance over the kept steps only (Keras's weighted moments: the
        sums over the kept entries divided by their count plus 1e-7)."""
        kept = ops.broadcast_to(ops.expand_dims(ops.cast(mask, bool), -1), inputs.shape)
        zero = ops.zeros((), inputs.dtype)
        count = ops.reduce_sum(ops.cast(kept, inputs.dtype), self._reduction_axes,
                               keepdims=True) + 1e-7
        mean = ops.reduce_sum(ops.where(kept, inputs, zero), self._reduction_axes,
                              keepdims=True) / count
        difference = ops.where(kept, inputs - mean, zero)
        variance = ops.reduce_sum(difference * difference, self._reduction_axes,
                                  keepdims=True) / count
        features = (inputs.shape[self.axis],)
        return ops.reshape(mean, features), ops.reshape(variance, features)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None, "synchronized": False,
                "renorm": False, "renorm_clipping": None, "renorm_momentum": self.renorm_momentum}


def _axes_of(axis, layer):
    """Keras's ``axis`` argument: an int, or a list/tuple of ints (kept as a list)."""
    if isinstance(axis, (list, tuple)) and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    raise TypeError(f"{layer}: axis must be an int or a list/tuple of ints; "
                    f"received axis={axis!r}")


def _no_constraints(layer, **constraints):
    given = [k for k, v in constraints.items() if v is not None]
    if given:
        raise ValueError(f"{layer}: chainrule has no weight constraints yet; pass "
                         f"{'=None, '.join(given)}=None")


def _resolved_axes(axis, input_shape, layer):
    """``axis`` (an int or a list) as sorted, non-negative axes of ``input_shape``, each of a
    known size."""
    ndim = len(input_shape)
    axes = axis if isinstance(axis, list) else [axis]
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{layer}: axis {a} is out of bounds for input shape "
                             f"{tuple(input_shape)} (rank {ndim}); received axis={axis}")
    resolved = sorted(a % ndim for a in axes)
    for a in resolved:
        if input_shape[a] is None:
            raise ValueError(f"{layer}: the normalised axis {a} of input shape "
                             f"{tuple(input_shape)} must have a known size")
    return resolved


def _check_axes_in(axis, input_shape, layer):
    for a in axis if isinstance(axis, list) else [axis]:
        if not -len(input_shape) <= a < len(input_shape):
            raise ValueError(f"{layer}: axis {a} is out of bounds for input shape "
                             f"{tuple(input_shape)}; received axis={axis}")
    return tuple(input_shape)


class LayerNormalization(Layer):
    """Normalises each example over ``axis`` (the last by default) to mean 0 and variance 1,
    then scales by ``gamma`` and shifts by ``beta`` (one per entry of the normalised axes):
    ``(x - mean) / sqrt(variance + epsilon) * gamma + beta``, the statistics of each example
    alone, the same in training and inference.

    Weights, as Keras names and orders them: ``gamma`` (if ``scale``), ``beta`` (if
    ``center``). Once built, ``axis`` is kept as a sorted list (``[-1]``), as in Keras.

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> x = np.array([[1.0, 2.0, 3.0]], np.float32)
    >>> [round(float(v), 4) for v in layers.LayerNormalization(epsilon=0.0)(x).numpy()[0]]
    [-1.2247, 0.0, 1.2247]
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        if rms_scaling:
            warnings.warn("LayerNormalization: rms_scaling=True is deprecated in Keras (it "
                          "scales by the variance, not the root mean square); use "
                          "keras.layers.RMSNormalization", UserWarning, stacklevel=2)
        _no_constraints("LayerNormalization", beta_constraint=beta_constraint,
                        gamma_constraint=gamma_constraint)
        self.axis = _axes_of(axis, "LayerNormalization")
        self.epsilon = float(epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape):
        name = f"LayerNormalization '{self.name}'"
        axes = _resolved_axes(self.axis, input_shape, name)
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        self.axis = sorted(given)  # Keras's form once built: a sorted list
        ndim = len(input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer)
        self._axes = tuple(axes)
        self._param_shape = None if axes == [ndim - 1] else tuple(
            input_shape[a] if a in axes else 1 for a in range(ndim))
        self._input_axes = {a: input_shape[a] for a in axes}
        self._min_ndim = ndim
        self.built = True

    def _broadcast(self, weight):
        return weight if self._param_shape is None else ops.reshape(weight, self._param_shape)

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        mean, variance = ops.moments(inputs, self._axes, keepdims=True)
        inv = ops.rsqrt(variance + self.epsilon)
        if self.rms_scaling:
            out = inputs * inv
            return out if self.gamma is None else out * self._broadcast(self.gamma)
        if self.gamma is not None:
            inv = inv * self._broadcast(self.gamma)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + self._broadcast(self.beta)
        return inputs * inv + shift

    def compute_output_shape(self, input_shape):
        return _check_axes_in(self.axis, input_shape, f"LayerNormalization '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None}


class GroupNormalization(Layer):
    """Splits the channels (``axis``, the last by default) into ``groups`` groups and
    normalises each example's group over its channels and every other non-batch axis, then
    scales and shifts each channel by ``gamma`` and ``beta``. ``groups=1`` is layer
    normalisation over all non-batch axes; ``groups`` equal to the channels is instance
    normalisation. The channels must divide evenly into the groups.

    Weights, as Keras's: ``gamma`` (if ``scale``), ``beta`` (if ``center``), one per channel.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        _no_constraints("GroupNormalization", beta_constraint=beta_constraint,
                        gamma_constraint=gamma_constraint)
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"GroupNormalization: groups must be a positive int; received "
                             f"groups={groups!r}")
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise TypeError(f"GroupNormalization: axis must be one int (the channels' axis); "
                            f"received axis={axis!r}")
        self.groups, self.axis, self.epsilon = int(groups), int(axis), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape):
        name = f"GroupNormalization '{self.name}'"
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"{name}: axis={self.axis} is not a non-batch axis of input "
                             f"shape {tuple(input_shape)}")
        axis = self.axis % ndim
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"{name}: the channels' axis {self.axis} of input shape "
                             f"{tuple(input_shape)} must have a known size")
        if channels < self.groups or channels % self.groups:
            raise ValueError(f"{name}: the {channels} channels (axis {self.axis} of input "
                             f"shape {tuple(input_shape)}) do not split into groups="
                             f"{self.groups} equal groups; choose groups dividing {channels}")
        if self.scale:
            self.gamma = self.add_weight((channels,), self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight((channels,), self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer)
        self._channel_axis = axis
        # the grouped array has one more axis, the groups, just before the channels
        self._param_shape = tuple(
            [1] * axis + [self.groups, channels // self.groups] + [1] * (ndim - axis - 1))
        self._reduce = tuple(a for a in range(1, ndim + 1) if a != axis)
        self._input_axes = {self.axis: channels}
        self._min_ndim = ndim
        self.built = True

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        shape = tuple(inputs.shape)
        axis = self._channel_axis
        grouped = ops.reshape(inputs, shape[:axis] + (self.groups, shape[axis] // self.groups)
                              + shape[axis + 1:])
        mean, variance = ops.moments(grouped, self._reduce, keepdims=True)
        inv = ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, self._param_shape)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + ops.reshape(self.beta, self._param_shape)
        return ops.reshape(grouped * inv + shift, shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None}


class RMSNormalization(Layer):
    """Divides each example by its root mean square over ``axis`` (the last by default) and
    multiplies by a learned ``scale``: ``x / sqrt(mean(x ** 2) + epsilon) * scale``, with no
    centring (as in Keras 3, where ``epsilon`` defaults to 1e-6).

    One weight, ``scale`` (ones at first), shaped like the normalised axes.
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_of(axis, "RMSNormalization")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        axes = _resolved_axes(self.axis, input_shape, f"RMSNormalization '{self.name}'")
        self.axis = sorted(self.axis if isinstance(self.axis, list) else [self.axis])
        ndim = len(input_shape)
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")
        self._axes = tuple(axes)
        self._param_shape = None if axes == [ndim - 1] else tuple(
            input_shape[a] if a in axes else 1 for a in range(ndim))
        self._input_axes = {a: input_shape[a] for a in axes}
        self._min_ndim = ndim
        self.built = True

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        inv = ops.rsqrt(ops.reduce_mean(ops.square(inputs), self._axes, keepdims=True)
                        + self.epsilon)
        scale = self.scale if self._param_shape is None else ops.reshape(self.scale,
                                                                           self._param_shape)
        return inputs * inv * scale

    def compute_output_shape(self, input_shape):
        return _check_axes_in(self.axis, input_shape, f"RMSNormalization '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class UnitNormalization(Layer):
    """Scales each example to unit Euclidean (L2) norm over ``axis`` (the last by default):
    ``x * min(1 / sqrt(sum(x ** 2)), 1e12)``, so that zeros stay zeros. No weights."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_of(axis, "UnitNormalization")
        self.supports_masking = True

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        axes = _resolved_axes(self.axis, inputs.shape, f"UnitNormalization '{self.name}'")
        # min(1 / sqrt(s), 1e12) as Keras, written so that s = 0 divides by nothing
        squares = ops.reduce_sum(ops.square(inputs), tuple(axes), keepdims=True)
        return inputs * ops.rsqrt(ops.maximum(squares, 1e-24))

    def compute_output_shape(self, input_shape):
        return _check_axes_in(self.axis, input_shape, f"UnitNormalization '{self.name}'")

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
