"""Pooling layers: MaxPooling1D/2D/3D and AveragePooling1D/2D/3D slide a window (one base
class, the subclasses set the rank and the op), and the global poolings reduce every
spatial axis."""

from ... import ops
from .convolutional import WindowLayer, data_format_of, padding_of, per_axis
from .layer import Layer

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
           "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D"]


class BasePooling(WindowLayer):
    """The maximum or mean of each ``pool_size`` window, every ``strides`` positions
    (default: ``pool_size``, windows side by side). Under "same" padding the mean counts only
    the entries inside the input, as Keras's does."""

    pool = None  # ops.max_pool or ops.avg_pool

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = per_axis(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else \
            per_axis(strides, self.rank, "strides", cls)
        self.padding = padding_of(padding, cls)
        self._window_setup(data_format)

    def _window_and_dilation(self):
        return self.pool_size, (1,) * self.rank

    def call(self, inputs):
        return type(self).pool(inputs, self.pool_size, self.strides, self.padding.upper(),
                               self._tf_format(), type(self).__name__)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(self._spatial(input_shape), self.pool_size,
                                       self.strides, (1,) * self.rank)
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        return self._with_spatial(input_shape, spatial, channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(BasePooling):
    """Max pooling over ``(batch, steps, channels)``."""
    rank, pool = 1, staticmethod(ops.max_pool)


class MaxPooling2D(BasePooling):
    """Max pooling over ``(batch, height, width, channels)``: ``MaxPooling2D(2)`` halves
    both sizes."""
    rank, pool = 2, staticmethod(ops.max_pool)


class MaxPooling3D(BasePooling):
    """Max pooling over ``(batch, depth, height, width, channels)``."""
    rank, pool = 3, staticmethod(ops.max_pool)


class AveragePooling1D(BasePooling):
    """Average pooling over ``(batch, steps, channels)``."""
    rank, pool = 1, staticmethod(ops.avg_pool)


class AveragePooling2D(BasePooling):
    """Average pooling over ``(batch, height, width, channels)``."""
    rank, pool = 2, staticmethod(ops.avg_pool)


class AveragePooling3D(BasePooling):
    """Average pooling over ``(batch, depth, height, width, channels)``."""
    rank, pool = 3, staticmethod(ops.avg_pool)


class BaseGlobalPooling(Layer):
    """The maximum or mean over every spatial axis: ``(batch, *spatial, channels)`` to
    ``(batch, channels)`` (``keepdims=True`` keeps the spatial axes, of size 1)."""

    rank = None
    reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self._min_ndim = self.rank + 2

    def _axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return list(range(first, first + self.rank))

    def _check_input(self, shape):
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim={self.rank + 2}, found ndim={len(shape)}. Full shape "
                f"received: {tuple(shape)}")

    def call(self, inputs):
        return type(self).reduce(inputs, self._axes(), self.keepdims)

    def compute_output_shape(self, input_shape):
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """The mean over the steps of ``(batch, steps, channels)``; with a mask (from
    ``Embedding(mask_zero=True)`` or ``Masking``), the mean over the unmasked steps only
    (a sample with none gives NaN, as in Keras). The output carries no mask."""
    rank, reduce = 1, staticmethod(ops.reduce_mean)
    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        axis = self._axes()[0]
        mask = ops.convert_to_tensor(mask)
        if tuple(mask.shape) != (inputs.shape[0], inputs.shape[axis]):
            raise ValueError(
                f"layer '{self.name}' (GlobalAveragePooling1D): the mask must have shape "
                f"(batch, steps) = {(inputs.shape[0], inputs.shape[axis])} for inputs of "
                f"shape {tuple(inputs.shape)}; received a mask of shape {tuple(mask.shape)}")
        kept = ops.expand_dims(ops.cast(mask, bool), 2 if axis == 1 else 1)
        total = ops.reduce_sum(ops.where(kept, inputs, ops.zeros((), inputs.dtype)), axis,
                               self.keepdims)
        return total / ops.reduce_sum(ops.cast(kept, inputs.dtype), axis, self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """The mean over height and width of ``(batch, height, width, channels)``."""
    rank, reduce = 2, staticmethod(ops.reduce_mean)


class GlobalAveragePooling3D(BaseGlobalPooling):
    """The mean over the three spatial axes."""
    rank, reduce = 3, staticmethod(ops.reduce_mean)


class GlobalMaxPooling1D(BaseGlobalPooling):
    """The maximum over the steps of ``(batch, steps, channels)``."""
    rank, reduce = 1, staticmethod(ops.reduce_max)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """The maximum over height and width of ``(batch, height, width, channels)``."""
    rank, reduce = 2, staticmethod(ops.reduce_max)


class GlobalMaxPooling3D(BaseGlobalPooling):
    """The maximum over the three spatial axes."""
    rank, reduce = 3, staticmethod(ops.reduce_max)
