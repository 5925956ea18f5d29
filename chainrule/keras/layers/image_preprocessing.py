"""Image resizing and cropping layers: Resizing, CenterCrop, RandomCrop, and
RandomBrightness.

Resizing samples as Keras 3 does (``keras.ops.image.resize``, half-pixel centres, no
antialiasing): ``"bilinear"`` weighs the two nearest rows and columns, ``"nearest"`` takes
one. Both are gathers and weighted sums of the inputs, so gradients flow through them."""

import numpy as np

from ... import ops
from .. import random as keras_random
from .augmentation import BaseAugmentation, _range_of
from .convolutional import data_format_of
from .layer import Layer

__all__ = ["Resizing", "CenterCrop", "RandomCrop", "RandomBrightness"]

_INTERPOLATIONS = ("bilinear", "nearest")


def _sampling(size, new_size, interpolation):
    """The two input indices each output index reads along one axis, and the second's
    weight (half-pixel centres)."""
    centre = (np.arange(new_size) + 0.5) * (size / new_size)
    if interpolation == "nearest":
        index = np.minimum(np.floor(centre).astype(np.int64), size - 1)
        return index, None, None
    source = np.clip(centre - 0.5, 0, size - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    return low, high, (source - low).astype(np.float32)


def resize_images(images, height, width, interpolation="bilinear"):
    """A batch of channels-last images ``(batch, h, w, channels)`` at ``(height, width)``."""
    for axis, new in ((1, height), (2, width)):
        size = images.shape[axis]
        if size == new:
            continue
        low, high, weight = _sampling(size, new, interpolation)
        first = ops.gather(images, ops.constant(low), axis=axis)
        if high is None:
            images = first
            continue
        shape = [1] * images.ndim
        shape[axis] = new
        weight = ops.constant(weight.astype(images.dtype.name).reshape(shape))
        images = first + (ops.gather(images, ops.constant(high), axis=axis) - first) * weight
    return images


def crop_window(height, width, target_height, target_width):
    """The centred window of the target's aspect ratio: (top, left, height, width), sizes
    rounded down and at least 1, as Keras's ``crop_to_aspect_ratio``."""
    crop_h = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_w = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def _positive_size(value, what, layer):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive int; received {what}={value!r}")
    return int(value)


class _ImageLayer(Layer):
    """Images as a batch ``(batch, h, w, c)`` or one ``(h, w, c)``, channels last or first:
    ``call`` hands ``_images`` a channels-last batch and restores the layout."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.height = _positive_size(height, "height", name)
        self.width = _positive_size(width, "width", name)
        self.data_format = data_format_of(data_format, name)

    def _check_input(self, shape):
        if len(shape) not in (3, 4):
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                f"the layer: expected images of ndim=4 (batch, height, width, channels) or one "
                f"image of ndim=3, found ndim={len(shape)}. Full shape received: "
                f"{tuple(shape)}")
        super()._check_input(shape)

    def call(self, inputs, training=None):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        x = inputs
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1) if x.ndim == 4 else (1, 2, 0))
        one = x.ndim == 3
        if one:
            x = ops.expand_dims(x, 0)
        x = self._images(x, training)
        if one:
            x = ops.squeeze(x, 0)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 3, 1, 2) if x.ndim == 4 else (2, 0, 1))
        return x

    def _fitted(self, images, interpolation="bilinear"):
        """The largest centred window of the target's aspect ratio, resized to it."""
        top, left, h, w = crop_window(images.shape[1], images.shape[2], self.height,
                                      self.width)
        images = images[:, top:top + h, left:left + w]
        return resize_images(images, self.height, self.width, interpolation)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = len(shape) - (2 if self.data_format == "channels_first" else 3)
        shape[first], shape[first + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}


class Resizing(_ImageLayer):
    """Resizes images to ``(height, width)`` (``"bilinear"`` or ``"nearest"``);
    ``crop_to_aspect_ratio=True`` first takes the largest centred window of the target's
    aspect ratio, so that nothing is stretched."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(height, width, data_format, **kwargs)
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"Resizing: interpolation must be one of {_INTERPOLATIONS} in "
                             f"chainrule; received interpolation={interpolation!r}")
        if pad_to_aspect_ratio:
            raise ValueError("Resizing: pad_to_aspect_ratio=True is not supported; use "
                             "crop_to_aspect_ratio=True, or pad the images first")
        if antialias:
            raise ValueError("Resizing: antialias=True is not supported; pass "
                             "antialias=False (Keras's default)")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: give crop_to_aspect_ratio or pad_to_aspect_ratio, "
                             "not both")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = False
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), False

    def _images(self, images, training):
        if self.crop_to_aspect_ratio:
            return self._fitted(images, self.interpolation)
        return resize_images(images, self.height, self.width, self.interpolation)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(_ImageLayer):
    """The centred ``(height, width)`` window of each image (the extra row or column, when
    the margin is odd, taken from the bottom/right); an image smaller than that is resized
    to it after cropping to its aspect ratio, as Keras does."""

    def _images(self, images, training):
        h, w = images.shape[1], images.shape[2]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return images[:, top:top + self.height, left:left + self.width]
        return self._fitted(images)


class RandomCrop(_ImageLayer):
    """In training, a ``(height, width)`` window at a random place (one place per batch, as
    Keras 3 draws it); otherwise, and for images not larger than the window, the largest
    centred window of its aspect ratio resized to it."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(height, width, data_format, **kwargs)
        self.seed = seed
        self._generator = None if seed is None else keras_random.SeedGenerator(seed)

    def _images(self, images, training):
        h, w = images.shape[1], images.shape[2]
        if not (training and h > self.height and w > self.width):
            return self._fitted(images)
        for axis, size, new in ((1, h, self.height), (2, w, self.width)):
            start = ops.floor(keras_random.uniform((), 0.0, float(size - new + 1),
                                                   seed=self._generator))
            start = ops.minimum(start, float(size - new))  # (an upper end drawn exactly)
            index = ops.cast(start, "int32") + ops.constant(np.arange(new, dtype=np.int32))
            images = ops.gather(images, index, axis=axis)
        return images

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomBrightness(BaseAugmentation):
    """In training, adds to each image one random amount, ``factor`` (a float ``f`` for
    [-f, f], or a pair, within [-1, 1]) times the width of ``value_range``, then clips to
    ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)  # (the same shift for any layout)
        lower, upper = _range_of(factor, "factor", "RandomBrightness")
        if lower < -1 or upper > 1:
            raise ValueError(f"RandomBrightness: factor must lie in [-1, 1]; received "
                             f"factor={factor!r}")
        self.factor = (lower, upper)
        value_range = tuple(value_range)
        if len(value_range) != 2 or value_range[0] > value_range[1]:
            raise ValueError(f"RandomBrightness: value_range must be (low, high); received "
                             f"value_range={value_range!r}")
        self.value_range = value_range

    def _augment(self, images):
        delta = self._uniform((images.shape[0], 1, 1, 1), *self.factor)
        delta = delta * float(self.value_range[1] - self.value_range[0])
        return ops.clip_by_value(images + delta, float(self.value_range[0]),
                                 float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
