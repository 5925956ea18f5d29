"""Layers that act only while training: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D (whole channels dropped), and ActivityRegularization (a penalty on
the activations added to the loss). Outside training each is the identity."""

import math

from ... import ops, random
from .convolutional import data_format_of
from .layer import Layer

__all__ = ["GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D", "ActivityRegularization"]


def _rate(rate, layer):
    if not 0 <= rate <= 1:
        raise ValueError(f"{layer}: rate must be a number in [0, 1]; received rate={rate}")
    return float(rate)


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` while training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev:
            raise ValueError(f"GaussianNoise: stddev must be >= 0; received stddev={stddev}")
        self.stddev, self.seed = float(stddev), seed
        self.supports_masking = True

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return inputs + random.normal(inputs.shape, 0.0, self.stddev, inputs.dtype,
                                          seed=self.seed)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies by Gaussian noise of mean 1 and standard deviation
    ``sqrt(rate / (1 - rate))`` while training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = _rate(rate, "GaussianDropout"), seed
        self.supports_masking = True

    def call(self, inputs, training=False):
        if training and 0 < self.rate < 1:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return inputs * random.normal(inputs.shape, 1.0, stddev, inputs.dtype,
                                          seed=self.seed)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout for self-normalising (SELU) networks: dropped entries are set to SELU's
    negative saturation value, then everything is scaled and shifted so that the mean and
    variance stay those of the inputs (Klambauer et al., 2017), while training."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = _rate(rate, "AlphaDropout"), seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = inputs.shape if self.noise_shape is None else tuple(
            s if d is None else d for d, s in zip(self.noise_shape, inputs.shape))
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        kept = ops.cast(ops.greater_equal(random.uniform(shape, seed=self.seed), self.rate),
                        inputs.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class _SpatialDropout(Layer):
    rank = None

    def __init__(self, rate, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = _rate(rate, type(self).__name__), seed
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._min_ndim = self.rank + 2

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        if self.rate >= 1:
            return ops.zeros_like(inputs)
        shape = tuple(inputs.shape)
        if self.data_format == "channels_first":
            noise = shape[:2] + (1,) * self.rank
        else:
            noise = (shape[0],) + (1,) * self.rank + (shape[-1],)
        return ops.dropout(inputs, self.rate, noise, self.seed)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        # Keras's spatial dropouts take no `trainable` argument, so their configs lack it
        config = {k: v for k, v in super().get_config().items() if k != "trainable"}
        return {**config, "rate": self.rate, "seed": self.seed,
                "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of ``(batch, steps, channels)`` while training (one draw per
    example and channel), scaling the rest by ``1 / (1 - rate)``."""
    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images while training."""
    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of volumes while training."""
    rank = 3


class ActivityRegularization(Layer):
    """The identity, adding ``(l1 * sum(|x|) + l2 * sum(x ** 2)) / batch_size`` of its
    inputs to the training loss (as Keras 3 scales activity penalties)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        self.supports_masking = True

    def call(self, inputs):
        penalty = 0.0
        if self.l1:
            penalty = penalty + self.l1 * ops.reduce_sum(ops.abs(inputs))
        if self.l2:
            penalty = penalty + self.l2 * ops.reduce_sum(ops.square(inputs))
        if self.l1 or self.l2:
            if inputs.ndim:
                penalty = penalty / float(inputs.shape[0])
            self.add_loss(penalty)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
