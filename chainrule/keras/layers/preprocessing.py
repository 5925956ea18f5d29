"""Preprocessing layers: Rescaling."""

from ... import ops
from .layer import Layer

__all__ = ["Rescaling"]


class Rescaling(Layer):
    """``inputs * scale + offset``: ``Rescaling(1 / 255)`` maps pixels to [0, 1]. Integer
    inputs (uint8 images) are cast to the layer's dtype first."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        scale = ops.cast(self.scale, self.dtype)
        offset = ops.cast(self.offset, self.dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
