"""Random image augmentation: RandomFlip, RandomRotation, RandomZoom, RandomTranslation and
RandomContrast, as the guides put them at the front of a convnet.

Each draws its randomness with the ``random`` op (from a ``keras.random.SeedGenerator`` of its
own when given a ``seed``, else from the global generator that
``keras.utils.set_random_seed`` seeds), so a compiled training step draws anew at every
batch. They act only in training: ``fit`` runs them, ``predict`` and ``evaluate`` pass the
images through unchanged. A direct call without ``training`` augments, as in Keras 3.

The geometric ones resample through the table's ``image_transform`` (bilinear or nearest
interpolation; points outside the image filled by ``fill_mode``), which carries no gradient:
put them before the layers that have weights, as the guides do.
"""

import math
import numbers

from ... import ops
from .. import random as keras_random
from .convolutional import data_format_of
from .layer import Layer

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")


def _range_of(factor, what, layer, symmetric=True, low=None):
    """A float ``f`` as ``(-f, f)`` (or ``(f, f)`` when not ``symmetric``), a pair as itself;
    checked to be ordered and at least ``low``."""
    if isinstance(factor, numbers.Real):
        pair = (-abs(float(factor)), abs(float(factor))) if symmetric else (float(factor),) * 2
    else:
        values = tuple(factor)
        if len(values) != 2 or not all(isinstance(v, numbers.Real) for v in values):
            raise ValueError(f"{layer}: {what} must be a float or a tuple of two floats "
                             f"(lower, upper); received {what}={factor!r}")
        pair = (float(values[0]), float(values[1]))
    if pair[0] > pair[1] or (low is not None and pair[0] < low):
        raise ValueError(f"{layer}: {what} must give lower <= upper"
                         + (f", both at least {low}" if low is not None else "")
                         + f"; received {what}={factor!r}")
    return pair


class BaseAugmentation(Layer):
    """What the augmentation layers share: the seed, the image layout (a batch or one image,
    channels last or first), and identity outside training."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._generator = None if seed is None else keras_random.SeedGenerator(seed)

    def _check_input(self, shape):
        if len(shape) not in (3, 4):
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                f"the layer: expected images of ndim=4 (batch, height, width, channels) or one "
                f"image of ndim=3, found ndim={len(shape)}. Full shape received: "
                f"{tuple(shape)}")
        super()._check_input(shape)

    def _uniform(self, shape, low, high):
        return keras_random.uniform(shape, low, high, seed=self._generator)

    def call(self, inputs, training=True):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        if training is not None and not training:  # None: augment, as Keras 3's default
            return inputs
        x = inputs
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1) if x.ndim == 4 else (1, 2, 0))
        one = x.ndim == 3
        if one:
            x = ops.expand_dims(x, 0)
        x = self._augment(x)
        if one:
            x = ops.squeeze(x, 0)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 3, 1, 2) if x.ndim == 4 else (2, 0, 1))
        return x

    def _augment(self, images):
        """A batch of channels-last images, augmented."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(BaseAugmentation):
    """Flips each image left to right (``mode="horizontal"``), top to bottom
    (``"vertical"``) or each way independently (``"horizontal_and_vertical"``, the default),
    each with probability 1/2."""

    _MODES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        if mode not in self._MODES:
            raise ValueError(f"RandomFlip: mode must be one of {', '.join(self._MODES)}; "
                             f"received mode={mode!r}")
        self.mode = mode

    def _augment(self, images):
        for axis in self._MODES[self.mode]:
            flip = self._uniform((images.shape[0], 1, 1, 1), 0.0, 1.0) < 0.5
            mirrored = ops.getitem(images, (slice(None),) * axis + (slice(None, None, -1),))
            images = ops.where(flip, mirrored, images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class BaseTransform(BaseAugmentation):
    """A random geometric transform per image, resampled with ``interpolation`` and
    ``fill_mode`` (``fill_value`` for "constant")."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        cls = type(self).__name__
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"{cls}: fill_mode must be one of {', '.join(_FILL_MODES)}; "
                             f"received fill_mode={fill_mode!r}")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"{cls}: interpolation must be one of "
                             f"{', '.join(_INTERPOLATIONS)}; received "
                             f"interpolation={interpolation!r}")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    def _augment(self, images):
        batch, height, width = images.shape[:3]
        rows = self._transforms(batch, height, width)  # 8 tensors of shape (batch,)
        return ops.image_transform(images, ops.stack(rows, axis=1), self.interpolation,
                                   self.fill_mode, self.fill_value, type(self).__name__)

    def _transforms(self, batch, height, width):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


def _scaled_about_centre(zx, zy, height, width, batch):
    """The transform rows of ``x' = cx + zx (x - cx)``, ``y' = cy + zy (y - cy)``."""
    zero = ops.zeros((batch,))
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return [zx, zero, (1 - zx) * cx, zero, zy, (1 - zy) * cy, zero, zero]


class RandomRotation(BaseTransform):
    """Rotates each image about its centre by a random angle, ``factor`` being a fraction of
    a full turn: ``factor=0.1`` draws from [-36, 36] degrees, ``factor=(-0.1, 0.2)`` from
    [-36, 72]; positive angles turn counter-clockwise."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._range = _range_of(factor, "factor", "RandomRotation")

    def _transforms(self, batch, height, width):
        lo, hi = self._range
        angle = self._uniform((batch,), lo * 2 * math.pi, hi * 2 * math.pi)
        cos, sin = ops.cos(angle), ops.sin(angle)
        cx, cy = (width - 1) / 2, (height - 1) / 2
        zero = ops.zeros((batch,))
        # the output pixel (x, y) reads the input at its rotation about the centre
        return [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                zero, zero]

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(BaseTransform):
    """Zooms each image by a random amount: ``height_factor`` is a fraction of the height,
    positive to zoom out, negative to zoom in (``0.2`` draws from [-20%, +20%]);
    ``width_factor`` likewise, or ``None`` to keep the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _range_of(height_factor, "height_factor", "RandomZoom", low=-1.0)
        self._width = None if width_factor is None else _range_of(
            width_factor, "width_factor", "RandomZoom", low=-1.0)

    def _transforms(self, batch, height, width):
        zy = 1 + self._uniform((batch,), *self._height)
        zx = zy if self._width is None else 1 + self._uniform((batch,), *self._width)
        return _scaled_about_centre(zx, zy, height, width, batch)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(BaseTransform):
    """Shifts each image by a random fraction of its height (``height_factor``, positive
    down) and of its width (``width_factor``, positive right): ``0.1`` draws from
    [-10%, +10%]."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _range_of(height_factor, "height_factor", "RandomTranslation")
        self._width = _range_of(width_factor, "width_factor", "RandomTranslation")

    def _transforms(self, batch, height, width):
        dy = self._uniform((batch,), *self._height) * height
        dx = self._uniform((batch,), *self._width) * width
        one, zero = ops.ones((batch,)), ops.zeros((batch,))
        return [one, zero, -dx, zero, one, -dy, zero, zero]

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomContrast(BaseAugmentation):
    """Scales each image's distance from its mean (per channel) by a random factor drawn
    from [1 - lower, 1 + upper] (``factor=0.2``: [0.8, 1.2]), then clips to
    ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed, None, **kwargs)
        self.factor = factor
        lower, upper = _range_of(factor, "factor", "RandomContrast", symmetric=False)
        if lower < 0 or upper < 0 or lower > 1:
            raise ValueError(f"RandomContrast: factor must lie in [0, 1] (lower at most 1, "
                             f"both non-negative); received factor={factor!r}")
        self._range = (1 - lower, 1 + upper)
        self.value_range = tuple(value_range)

    def _augment(self, images):
        contrast = self._uniform((images.shape[0], 1, 1, 1), *self._range)
        mean = ops.reduce_mean(images, (1, 2), keepdims=True)
        out = (images - mean) * contrast + mean
        return ops.clip_by_value(out, float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return {**config, "factor": self.factor, "value_range": self.value_range}
