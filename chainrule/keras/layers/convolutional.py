"""Convolution layers: Conv1D, Conv2D, Conv3D and the transposed Conv1DTranspose and
Conv2DTranspose, one base class whose subclasses only set the rank (as Keras's base_conv);
DepthwiseConv1D/2D and SeparableConv1D/2D (grouped convolutions, one group per channel);
and the checks of windowed inputs that the pooling layers share."""

import numbers

from ... import ops
from .. import activations, constraints, initializers, regularizers
from .layer import Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
           "DepthwiseConv1D",
           "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]

_AXES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
         3: "(batch, depth, height, width, channels)"}


def per_axis(value, rank, what, layer):
    """An int or ``rank`` ints as a tuple of positive ints (Keras's ``standardize_tuple``)."""
    values = (value,) * rank if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != rank or not all(isinstance(v, numbers.Integral) and v > 0 for v in values):
        raise ValueError(f"{layer}: {what} must be a positive int or a tuple of {rank}; "
                         f"received {what}={value!r}")
    return tuple(int(v) for v in values)


def data_format_of(value, layer):
    value = "channels_last" if value is None else str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first'; "
                         f"received {value!r}")
    return value


def padding_of(value, layer, allowed=("valid", "same")):
    value = str(value).lower()
    if value not in allowed:
        raise ValueError(f"{layer}: padding must be one of {', '.join(map(repr, allowed))}; "
                         f"received {value!r}")
    return value


class WindowLayer(Layer):
    """What a layer that slides a window over the spatial axes checks of its input: the rank,
    and (under "valid") that the window fits; both errors name the layer and the fix."""

    rank = None

    def _window_setup(self, data_format):
        self.data_format = data_format_of(data_format, type(self).__name__)
        self._min_ndim = self.rank + 2

    def _spatial(self, shape):
        return tuple(shape[2:] if self.data_format == "channels_first" else shape[1:-1])

    def _describe(self):
        return f"Input 0 of layer '{self.name}' ({type(self).__name__})"

    def _check_input(self, shape):
        rank = self.rank
        if len(shape) != rank + 2:
            hint = ""
            if len(shape) == rank + 1 and self.data_format == "channels_last":
                hint = (f" For one channel, add a channels axis: x[..., None], or "
                        f"layers.Reshape({tuple(shape[1:]) + (1,)}) first.")
            raise ValueError(
                f"{self._describe()} is incompatible with the layer: expected ndim={rank + 2} "
                f"{_AXES[rank] if self.data_format == 'channels_last' else '(batch, channels, ...)'}"
                f", found ndim={len(shape)}. Full shape received: {tuple(shape)}.{hint}")
        if self.built and self.data_format == "channels_last" and self._input_axes and \
                shape[-1] != self._input_axes[-1] and shape[1] == self._input_axes[-1]:
            raise ValueError(self._channels_first_text(shape))
        super()._check_input(shape)
        window, dilation = self._window_and_dilation()
        if self.padding == "valid":
            spatial = self._spatial(shape)
            for n, k, d in zip(spatial, window, dilation):
                if n is not None and d * (k - 1) + 1 > n:
                    if self.data_format == "channels_last" and _looks_channels_first(shape):
                        raise ValueError(self._channels_first_text(shape))
                    raise ValueError(
                        f"{self._describe()}: its window {window}"
                        + (f" (dilation_rate {dilation})" if max(dilation) > 1 else "")
                        + f" is larger than the input's spatial shape {spatial} under "
                        f"padding='valid'. Use padding='same', a smaller window, or a larger "
                        f"input. Full shape received: {tuple(shape)}")

    def _channels_first_text(self, shape):
        perm = (0,) + tuple(range(2, self.rank + 2)) + (1,)
        return (f"{self._describe()}: the input of shape {tuple(shape)} looks channels-first "
                f"(channels on axis 1), but the layer is channels-last (data_format="
                f"'channels_last', Keras's default). Transpose the data with "
                f"tf.transpose(x, {perm}), or give the layer data_format='channels_first'.")

    def _window_and_dilation(self):
        raise NotImplementedError

    def _tf_format(self):
        return None if self.data_format == "channels_last" else "NC" + "DHW"[3 - self.rank:]

    def _output_spatial(self, spatial, window, strides, dilation):
        sizes = []
        for n, k, s, d in zip(spatial, window, strides, dilation):
            if n is None:
                sizes.append(None)
            elif self.padding == "valid":
                sizes.append((n - d * (k - 1) - 1) // s + 1)
            else:  # "same" and "causal": ceil(n / s)
                sizes.append(-(-n // s))
        return tuple(sizes)

    def _with_spatial(self, input_shape, spatial, channels):
        if self.data_format == "channels_first":
            return (input_shape[0], channels) + tuple(spatial)
        return (input_shape[0],) + tuple(spatial) + (channels,)


def _looks_channels_first(shape):
    """Axis 1 small (1, 3 or 4: gray, RGB, RGBA) and the last axis larger, as an image
    batch ``(batch, channels, height, width)`` is."""
    return shape[1] in (1, 3, 4) and shape[-1] is not None and shape[-1] > 4


class BaseConv(WindowLayer):
    """``activation(conv(inputs, kernel) + bias)``; the subclasses set the rank.

    The kernel has shape ``(*kernel_size, input_channels / groups, filters)`` and is made on
    the first call. ``padding``: "valid" (no padding), "same" (the output has
    ``ceil(size / strides)`` positions) or, for Conv1D, "causal" (pads on the left only).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if not isinstance(filters, numbers.Integral) or filters < 1:
            raise ValueError(f"{cls}: filters must be a positive integer; received "
                             f"filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = per_axis(kernel_size, self.rank, "kernel_size", cls)
        self.strides = per_axis(strides, self.rank, "strides", cls)
        self.padding = padding_of(padding, cls, ("valid", "same", "causal") if self.rank == 1
                                  else ("valid", "same"))
        self.dilation_rate = per_axis(dilation_rate, self.rank, "dilation_rate", cls)
        self.groups = int(groups)
        if self.groups < 1 or self.filters % self.groups:
            raise ValueError(f"{cls}: filters ({filters}) must be a multiple of groups "
                             f"({groups})")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._window_setup(data_format)

    def _window_and_dilation(self):
        return self.kernel_size, self.dilation_rate

    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels % self.groups:
            raise ValueError(f"{self._describe()}: its {channels} channels must be a multiple "
                             f"of groups={self.groups}")
        self.kernel = self.add_weight(self._kernel_shape(channels), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self._input_axes = {self._channel_axis(): channels}
        self.built = True

    def _kernel_shape(self, channels):
        return self.kernel_size + (channels // self.groups, self.filters)

    def _padding_arg(self):
        if self.padding != "causal":
            return self.padding.upper()
        # causal: all the padding before, so no output sees a later step
        return [(0, 0), (self.dilation_rate[0] * (self.kernel_size[0] - 1), 0), (0, 0)]

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:  # integer inputs, e.g. uint8 pixels
            inputs = ops.cast(inputs, self.kernel.dtype)
        y = ops.convolution(inputs, self.kernel, self.strides, self._padding_arg(),
                            self._tf_format(), self.dilation_rate, type(self).__name__)
        if self.bias is not None:
            # A separate add: the compiler fuses it with the activation into one loop.
            y = y + (ops.reshape(self.bias, (-1,) + (1,) * self.rank)
                     if self.data_format == "channels_first" else self.bias)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(self._spatial(input_shape), self.kernel_size,
                                       self.strides, self.dilation_rate)
        return self._with_spatial(input_shape, spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
            padding=self.padding, data_format=self.data_format,
            dilation_rate=self.dilation_rate, groups=self.groups,
            activation=activations.serialize(self.activation), use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint))
        return config


class Conv1D(BaseConv):
    """1-D convolution over ``(batch, steps, channels)``: ``Conv1D(32, 3, activation="relu")``."""

    rank = 1


class Conv2D(BaseConv):
    """2-D convolution over ``(batch, height, width, channels)``.

    >>> import chainrule as cr
    >>> from chainrule.keras import layers
    >>> conv = layers.Conv2D(8, 3, activation="relu")
    >>> conv(cr.ones((2, 28, 28, 1))).shape, conv.kernel.shape
    (TensorShape([2, 26, 26, 8]), TensorShape([3, 3, 1, 8]))
    """

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3


class BaseConvTranspose(BaseConv):
    """The transpose of a convolution (sometimes called deconvolution): it maps a
    convolution's output shape back to its input shape, upsampling by ``strides``. The kernel
    has shape ``(*kernel_size, filters, input_channels)``; ``output_padding`` adds to one
    side of the output (at most strides - 1)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, **kwargs)
        if self.padding == "causal":
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same'")
        self.output_padding = None
        if output_padding is not None:
            extra = (output_padding,) * self.rank if isinstance(
                output_padding, numbers.Integral) else tuple(output_padding)
            if len(extra) != self.rank or not all(0 <= e < s for e, s in zip(extra, self.strides)):
                raise ValueError(f"{type(self).__name__}: output_padding must be {self.rank} "
                                 f"int(s), each below its stride {self.strides}; received "
                                 f"output_padding={output_padding!r}")
            self.output_padding = tuple(int(e) for e in extra)

    def _kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)

    def _check_input(self, shape):
        if len(shape) != self.rank + 2:
            super()._check_input(shape)  # the rank error
        Layer._check_input(self, shape)  # a transpose grows its input: any size fits

    def _output_spatial(self, spatial, window, strides, dilation):
        sizes = []
        extra = self.output_padding or (None,) * self.rank
        for n, k, s, d, more in zip(spatial, window, strides, dilation, extra):
            k = d * (k - 1) + 1
            if n is None:
                sizes.append(None)
            elif more is None:
                sizes.append(n * s + max(k - s, 0) if self.padding == "valid" else n * s)
            else:
                pad = k // 2 if self.padding == "same" else 0
                sizes.append((n - 1) * s + k - 2 * pad + more)
        return tuple(sizes)

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:
            inputs = ops.cast(inputs, self.kernel.dtype)
        spatial = self._output_spatial(self._spatial(inputs.shape), self.kernel_size,
                                       self.strides, self.dilation_rate)
        y = ops.conv_transpose(inputs, self.kernel, spatial, self.strides,
                               self.padding.upper(), self._tf_format(), self.dilation_rate,
                               type(self).__name__)
        if self.bias is not None:
            y = y + (ops.reshape(self.bias, (-1,) + (1,) * self.rank)
                     if self.data_format == "channels_first" else self.bias)
        return self.activation(y)

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(BaseConvTranspose):
    """The transpose of a Conv1D."""

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """The transpose of a Conv2D: ``Conv2DTranspose(32, 3, strides=2, padding="same")``
    doubles the height and width."""

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """The transpose of a Conv3D, over ``(batch, depth, height, width, channels)``."""

    rank = 3


def _depthwise(layer, inputs, kernel):
    """``inputs`` convolved channel by channel with ``kernel`` ``(*window, channels,
    depth_multiplier)``: a convolution with one group per channel, whose kernel is the same
    numbers laid out ``(*window, 1, channels * depth_multiplier)``."""
    window = tuple(kernel.shape[:-2])
    grouped = ops.reshape(kernel, window + (1, kernel.shape[-2] * kernel.shape[-1]))
    return ops.convolution(inputs, grouped, layer.strides, layer.padding.upper(),
                           layer._tf_format(), layer.dilation_rate, type(layer).__name__)


class BaseDepthwiseConv(BaseConv):
    """Each input channel convolved with its own ``depth_multiplier`` filters (no mixing of
    channels): ``channels * depth_multiplier`` outputs, those of channel ``c`` at
    ``c * depth_multiplier + m``. The weight ``kernel`` is ``(*kernel_size, channels,
    depth_multiplier)``."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        cls = type(self).__name__
        if not isinstance(depth_multiplier, numbers.Integral) or depth_multiplier < 1:
            raise ValueError(f"{cls}: depth_multiplier must be a positive integer; received "
                             f"depth_multiplier={depth_multiplier!r}")
        _no_constraints(cls, depthwise_constraint=depthwise_constraint,
                        bias_constraint=bias_constraint)
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, **kwargs)
        if self.padding == "causal":
            raise ValueError(f"{cls}: padding must be 'valid' or 'same'")
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        self.filters = channels * self.depth_multiplier
        self.kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                      self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self._input_axes = {self._channel_axis(): channels}
        self.built = True

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:
            inputs = ops.cast(inputs, self.kernel.dtype)
        return self._finish(_depthwise(self, inputs, self.kernel))

    def _finish(self, y):
        if self.bias is not None:
            y = y + (ops.reshape(self.bias, (-1,) + (1,) * self.rank)
                     if self.data_format == "channels_first" else self.bias)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        spatial = self._output_spatial(self._spatial(input_shape), self.kernel_size,
                                       self.strides, self.dilation_rate)
        channels = input_shape[self._channel_axis()]
        return self._with_spatial(input_shape, spatial, channels * self.depth_multiplier)

    def get_config(self):
        config = _depthwise_config(super().get_config(), self.depth_multiplier)
        del config["filters"]
        return config


class DepthwiseConv1D(BaseDepthwiseConv):
    """A depthwise convolution over ``(batch, steps, channels)``."""

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """A depthwise convolution over ``(batch, height, width, channels)``.

    >>> import chainrule as cr
    >>> from chainrule.keras import layers
    >>> conv = layers.DepthwiseConv2D(3, depth_multiplier=2)
    >>> conv(cr.ones((1, 8, 8, 3))).shape, conv.kernel.shape
    (TensorShape([1, 6, 6, 6]), TensorShape([3, 3, 3, 2]))
    """

    rank = 2


class BaseSeparableConv(BaseConv):
    """A depthwise convolution (``depthwise_kernel`` ``(*kernel_size, channels,
    depth_multiplier)``), then a pointwise one that mixes the channels
    (``pointwise_kernel`` ``(1, ..., channels * depth_multiplier, filters)``), then the bias
    and the activation: far fewer weights than one convolution with the same window."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        cls = type(self).__name__
        if not isinstance(depth_multiplier, numbers.Integral) or depth_multiplier < 1:
            raise ValueError(f"{cls}: depth_multiplier must be a positive integer; received "
                             f"depth_multiplier={depth_multiplier!r}")
        _no_constraints(cls, depthwise_constraint=depthwise_constraint,
                        pointwise_constraint=pointwise_constraint,
                        bias_constraint=bias_constraint)
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, **kwargs)
        if self.padding == "causal":
            raise ValueError(f"{cls}: padding must be 'valid' or 'same'")
        self.depth_multiplier = int(depth_multiplier)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        self.depthwise_kernel = self.add_weight(
            self.kernel_size + (channels, self.depth_multiplier), self.kernel_initializer,
            name="depthwise_kernel", regularizer=self.kernel_regularizer)
        self.pointwise_kernel = self.add_weight(
            (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer, name="pointwise_kernel",
            regularizer=self.pointwise_regularizer)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer) if self.use_bias else None
        self._input_axes = {self._channel_axis(): channels}
        self.built = True

    def call(self, inputs):
        if inputs.dtype != self.depthwise_kernel.dtype:
            inputs = ops.cast(inputs, self.depthwise_kernel.dtype)
        y = _depthwise(self, inputs, self.depthwise_kernel)
        y = ops.convolution(y, self.pointwise_kernel, 1, "VALID", self._tf_format(), 1,
                            type(self).__name__)
        return BaseDepthwiseConv._finish(self, y)

    def get_config(self):
        config = _depthwise_config(super().get_config(), self.depth_multiplier)
        config.update(
                      pointwise_initializer=initializers.serialize(self.pointwise_initializer),
                      pointwise_regularizer=regularizers.serialize(self.pointwise_regularizer),
                      pointwise_constraint=None)
        return config


class SeparableConv1D(BaseSeparableConv):
    """A separable convolution over ``(batch, steps, channels)``."""

    rank = 1


class SeparableConv2D(BaseSeparableConv):
    """A separable convolution over ``(batch, height, width, channels)``, as Keras's
    Xception-style guides use it: ``SeparableConv2D(64, 3, padding="same", use_bias=False)``.

    >>> import chainrule as cr
    >>> from chainrule.keras import layers
    >>> conv = layers.SeparableConv2D(16, 3)
    >>> conv(cr.ones((1, 8, 8, 3))).shape, conv.depthwise_kernel.shape, conv.pointwise_kernel.shape
    (TensorShape([1, 6, 6, 16]), TensorShape([3, 3, 3, 1]), TensorShape([1, 1, 3, 16]))
    """

    rank = 2


def _no_constraints(layer, **constraints):
    for name, value in constraints.items():
        if value is not None:
            raise ValueError(f"{layer}: chainrule has no weight constraints yet; pass "
                             f"{name}=None")


def _depthwise_config(config, depth_multiplier):
    """A BaseConv config under the names of Keras's depthwise and separable layers."""
    del config["groups"]
    for old, new in (("kernel_initializer", "depthwise_initializer"),
                     ("kernel_regularizer", "depthwise_regularizer")):
        config[new] = config.pop(old)
    config.update(depth_multiplier=depth_multiplier, depthwise_constraint=None,
                  bias_constraint=None)
    return config
