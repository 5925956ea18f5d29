"""Layers that move entries without arithmetic: Reshape, Permute, RepeatVector,
UpSampling1D/2D/3D (nearest neighbour), ZeroPadding1D/2D/3D and Cropping1D/2D/3D."""

import math
import numbers

from ... import ops
from .convolutional import data_format_of
from .layer import Layer

__all__ = ["Reshape", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D", "UpSampling3D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
           "Cropping3D"]


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


class ZeroPadding3D(BaseZeroPadding):
    """Zeros around volumes: ``ZeroPadding3D(((1, 1), (2, 2), (0, 1)))`` pads depth, height
    and width."""
    rank = 3


class UpSampling3D(BaseUpSampling):
    """Repeats entries along depth, height and width: ``UpSampling3D(2)`` doubles each."""
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)


class BaseCropping(Layer):
    rank = None

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank, type(self).__name__)
        if any(c < 0 for pair in self.cropping for c in pair):
            raise ValueError(f"{type(self).__name__}: cropping must not be negative; received "
                             f"{cropping!r}")
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._min_ndim = self.rank + 2

    def _first(self):
        return 2 if self.data_format == "channels_first" else 1

    def _cropped(self, input_shape):
        out = list(input_shape)
        for i, (lo, hi) in enumerate(self.cropping):
            d = out[self._first() + i]
            if d is not None:
                if lo + hi >= d:
                    raise ValueError(
                        f"Input 0 of layer '{self.name}' ({type(self).__name__}): cropping "
                        f"{self.cropping} leaves nothing of input shape {tuple(input_shape)} "
                        f"(axis {self._first() + i} has {d} entries)")
                out[self._first() + i] = d - lo - hi
        return tuple(out)

    def call(self, inputs):
        self._cropped(inputs.shape)
        index = [slice(None)] * inputs.ndim
        for i, (lo, hi) in enumerate(self.cropping):
            index[self._first() + i] = slice(lo, inputs.shape[self._first() + i] - hi)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape):
        return self._cropped(input_shape)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class Cropping1D(BaseCropping):
    """Removes ``cropping = (before, after)`` steps of ``(batch, steps, channels)``."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        config["cropping"] = self.cropping[0]
        return config


class Cropping2D(BaseCropping):
    """Removes rows and columns at the edges of images: ``((top, bottom), (left, right))``."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(BaseCropping):
    """Removes entries at the edges of volumes along depth, height and width."""
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Permute(Layer):
    """Permutes the axes after the batch axis, numbered from 1: ``Permute((2, 1))`` swaps
    the two axes of ``(batch, steps, features)``."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)} (the "
                             f"batch axis, 0, stays first); received dims={dims!r}")
        self._min_ndim = len(self.dims) + 1

    def call(self, inputs):
        if inputs.ndim != len(self.dims) + 1:
            raise ValueError(f"Input 0 of layer '{self.name}' (Permute): dims={self.dims} "
                             f"permutes {len(self.dims)} axes after the batch axis, but the "
                             f"input has shape {tuple(inputs.shape)}")
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats each example ``n`` times: ``(batch, features)`` to ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"RepeatVector: n must be a positive int; received n={n!r}")
        self.n = int(n)
        self._min_ndim = 2

    def call(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(f"Input 0 of layer '{self.name}' (RepeatVector) must have shape "
                             f"(batch, features); received shape {tuple(inputs.shape)}")
        x = ops.expand_dims(inputs, 1)
        return ops.broadcast_to(x, (inputs.shape[0], self.n, inputs.shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
