"""The activation layers Keras has: ReLU, LeakyReLU, ELU, Softmax and PReLU (whose negative
slope is a weight). Each calls the function of :mod:`chainrule.keras.activations`, with
Keras's arguments and defaults."""

from ... import ops
from .. import activations, initializers, regularizers
from .layer import Layer

__all__ = ["ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU"]


class _Elementwise(Layer):
    """An activation layer: the output has the input's shape (and the input's mask)."""

    supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def _not_negative(layer, **values):
    for name, value in values.items():
        if value is None or value < 0:
            raise ValueError(f"{layer}: {name} cannot be None or negative; received "
                             f"{name}={value!r}")


class ReLU(_Elementwise):
    """``activations.relu`` with Keras's options: ``max_value`` caps the output, inputs
    below ``threshold`` give 0, and ``negative_slope`` is the slope below the threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None:
            _not_negative("ReLU", max_value=max_value)
        _not_negative("ReLU", negative_slope=negative_slope, threshold=threshold)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """``x`` where positive, ``negative_slope * x`` elsewhere (Keras's layer default is 0.3;
    the older name ``alpha`` is accepted)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        _not_negative("LeakyReLU", negative_slope=negative_slope)
        self.negative_slope = negative_slope

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_Elementwise):
    """The softmax along ``axis``; where ``mask`` is False the input counts as -1e9 (so
    those entries get a probability of about 0)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            if mask.ndim > inputs.ndim or any(
                    m != 1 and m != i for m, i in zip(mask.shape[::-1], inputs.shape[::-1])):
                raise ValueError(
                    f"layer '{self.name}' (Softmax): the mask must broadcast to the inputs "
                    f"(each of its trailing sizes 1 or the input's); received inputs of shape "
                    f"{tuple(inputs.shape)} and a mask of shape {tuple(mask.shape)}. A "
                    f"(batch, steps) mask of an Embedding fits (batch, steps, steps) scores, "
                    f"or pass mask= yourself")
            if mask.dtype != bool:
                mask = ops.greater(ops.cast(mask, inputs.dtype), 0.5)
            inputs = ops.where(mask, inputs, -1e9)
        if isinstance(self.axis, (tuple, list)) and len(self.axis) > 1:
            return ops.exp(inputs - ops.reduce_logsumexp(inputs, axis=self.axis, keepdims=True))
        axis = self.axis[0] if isinstance(self.axis, (tuple, list)) else self.axis
        return activations.softmax(inputs, axis=axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(_Elementwise):
    """``relu(x) - alpha * relu(-x)`` with a learned slope ``alpha`` per input entry
    (``shared_axes`` share one slope along those axes, as for the pixels of a feature map)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ValueError("PReLU: chainrule has no weight constraints yet; pass "
                             "alpha_constraint=None")
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) \
                else [shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            shape[axis - 1] = 1
        self.alpha = self.add_weight(shape, self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer)
        self._input_axes = {i: d for i, d in enumerate(input_shape) if i and d is not None
                            and i not in (self.shared_axes or ())}
        self._min_ndim = len(input_shape)
        self.built = True

    def call(self, inputs):
        return ops.relu(inputs) + (-self.alpha) * ops.relu(-inputs)

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": None, "shared_axes": self.shared_axes}
