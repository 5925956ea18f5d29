"""BatchNormalization: each feature normalised by the batch's statistics while training and
by the moving statistics it keeps otherwise."""

import numbers

from ... import ops
from .. import initializers, regularizers
from .layer import Layer

__all__ = ["BatchNormalization"]


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
