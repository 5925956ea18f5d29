"""Layers that move entries without arithmetic: Reshape, UpSampling1D/2D (nearest
neighbour) and ZeroPadding1D/2D."""

import math
import numbers

from ... import ops
from .convolutional import data_format_of
from .layer import Layer

__all__ = ["Reshape", "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D"]


class Reshape(Layer):
    """Reshapes each example to ``target_shape`` (without the batch axis; one entry may be
    -1): ``Reshape((28, 28, 1))`` turns 784 pixels into an image."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or \
                any(d < 1 and d != -1 for d in self.target_shape):
            raise ValueError(f"Reshape: target_shape takes positive sizes and at most one -1; "
                             f"received {target_shape!r}")

    def _resolved(self, input_shape):
        size = None if any(d is None for d in input_shape[1:]) else math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if size is not None and (size % known if -1 in self.target_shape else size != known):
            raise ValueError(f"Input 0 of layer '{self.name}' (Reshape): an example of shape "
                             f"{tuple(input_shape[1:])} ({size} entries) cannot be reshaped to "
                             f"{self.target_shape}")
        if -1 not in self.target_shape:
            return self.target_shape
        missing = None if size is None else size // known
        return tuple(missing if d == -1 else d for d in self.target_shape)

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0],) + self._resolved(inputs.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(input_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


def _pairs(padding, rank, layer):
    """Keras's padding forms: an int (all sides), one int per axis (both sides), or a
    (before, after) pair per axis."""
    if isinstance(padding, numbers.Integral):
        return ((int(padding),) * 2,) * rank
    padding = tuple(padding)
    if rank == 1 and len(padding) == 2 and all(isinstance(p, numbers.Integral) for p in padding):
        return ((int(padding[0]), int(padding[1])),)
    if len(padding) == rank and all(isinstance(p, numbers.Integral) for p in padding):
        return tuple((int(p), int(p)) for p in padding)
    if len(padding) == rank and all(len(p) == 2 for p in padding):
        return tuple((int(a), int(b)) for a, b in padding)
    raise ValueError(f"{layer}: padding must be an int, {rank} ints or {rank} (before, after) "
                     f"pairs; received {padding!r}")


class BaseZeroPadding(Layer):
    rank = None

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, self.rank, type(self).__name__)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._min_ndim = self.rank + 2

    def _all_axes(self):
        if self.data_format == "channels_first":
            return ((0, 0), (0, 0)) + self.padding
        return ((0, 0),) + self.padding + ((0, 0),)

    def call(self, inputs):
        return ops.pad(inputs, self._all_axes())

    def compute_output_shape(self, input_shape):
        return tuple(None if d is None else d + lo + hi
                     for d, (lo, hi) in zip(input_shape, self._all_axes()))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding1D(BaseZeroPadding):
    """Zeros before and after the steps of ``(batch, steps, channels)``."""
    rank = 1

    def __init__(self, padding=1, **kwargs):
        super().__init__(padding, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        config["padding"] = self.padding[0]  # Keras's form: one (before, after) pair
        return config


class ZeroPadding2D(BaseZeroPadding):
    """Rows and columns of zeros around images: ``ZeroPadding2D(((1, 2), (3, 4)))`` adds 1
    row above, 2 below, 3 columns left and 4 right."""
    rank = 2


class BaseUpSampling(Layer):
    rank = None

    def __init__(self, size=2, data_format=None, **kwargs):
        super().__init__(**kwargs)
        size = (size,) * self.rank if isinstance(size, numbers.Integral) else tuple(size)
        if len(size) != self.rank or min(size) < 1:
            raise ValueError(f"{type(self).__name__}: size must be a positive int or "
                             f"{self.rank} of them; received {size!r}")
        self.size = tuple(int(s) for s in size)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._min_ndim = self.rank + 2

    def _first(self):
        return 2 if self.data_format == "channels_first" else 1

    def call(self, inputs):
        # Each entry repeated size times along its axis: a new axis of size 1 after it,
        # broadcast, and merged back (its gradient sums each block, through the tape).
        shape = tuple(inputs.shape)
        spread, wide, merged = [], [], []
        for axis, d in enumerate(shape):
            repeat = self.size[axis - self._first()] \
                if 0 <= axis - self._first() < self.rank else 1
            spread += [d, 1] if repeat > 1 else [d]
            wide += [d, repeat] if repeat > 1 else [d]
            merged.append(d * repeat)
        x = ops.broadcast_to(ops.reshape(inputs, spread), wide)
        return ops.reshape(x, merged)

    def compute_output_shape(self, input_shape):
        first = self._first()
        return tuple(None if d is None else
                     d * self.size[i - first] if 0 <= i - first < self.rank else d
                     for i, d in enumerate(input_shape))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class UpSampling1D(BaseUpSampling):
    """Repeats each step ``size`` times: ``(batch, steps, channels)`` to ``(batch, steps *
    size, channels)``."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size[0]
        del config["data_format"]
        return config


class UpSampling2D(BaseUpSampling):
    """Repeats rows and columns (nearest neighbour): ``UpSampling2D(2)`` doubles height and
    width."""
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is available; "
                             f"received {interpolation!r}")
        super().__init__(size, data_format, **kwargs)
        self.interpolation = interpolation

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}
