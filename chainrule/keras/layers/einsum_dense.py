"""EinsumDense: a dense layer written as an einsum equation between the inputs and a kernel
of any rank (what MultiHeadAttention's projections are)."""

import re

from ... import ops
from .. import activations, initializers, regularizers
from .layer import Layer

__all__ = ["EinsumDense"]


def analyze(equation, bias_axes, input_shape, output_shape, layer="EinsumDense"):
    """``(kernel_shape, bias_shape, full_output_shape)`` for inputs of ``input_shape``, as
    Keras derives them: each kernel letter sized by the input or the output where it appears
    there, the bias over ``bias_axes`` shaped to broadcast from its first axis of the output
    on, and the output shape the given one with the batch (and any elided axes) added."""
    replaced = equation.replace("...", "0")
    for pattern, left in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", False),
                          ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", True),
                          ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", False)):
        match = re.match(pattern, replaced)
        if match:
            break
    else:
        raise ValueError(f"{layer}: invalid equation {equation!r}; equations take the forms "
                         f"'ab,bc->ac', '...b,bc->...c' or 'ab...,bc->ac...'")
    input_spec, weight_spec, output_spec = match.groups()
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(input_spec)
    if elided < 0 or (elided and "0" not in replaced):
        raise ValueError(f"{layer}: equation {equation!r} names {len(input_spec)} input axes, "
                         f"but the input has shape {input_shape}")
    output = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output.insert(0, input_shape[0])
    if elided and left:
        for i in range(1, elided):
            output.insert(1, input_shape[i])
    elif elided:
        output.extend(input_shape[len(input_shape) - elided:])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(input_spec)}
        out_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        in_map = {d: i for i, d in enumerate(input_spec)}
        out_map = {d: i for i, d in enumerate(output_spec)}
    if len(output) != len(output_spec) + elided:
        raise ValueError(f"{layer}: output_shape {tuple(output_shape) if not isinstance(output_shape, int) else output_shape} "
                         f"does not fit the output {output_spec!r} of equation {equation!r} "
                         f"(give the {len(output_spec) - 1} sizes after the batch axis)")
    for d in input_spec:
        if d in out_map:
            given = output[out_map[d]]
            if given is not None and given != input_shape[in_map[d]]:
                raise ValueError(f"{layer}: input and output_shape disagree on axis {d!r} of "
                                 f"{equation!r}: {input_shape[in_map[d]]} and {given}")
            output[out_map[d]] = input_shape[in_map[d]]
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ValueError(f"{layer}: output axis {d!r} of {equation!r} is in neither the "
                             f"input nor the kernel")
    kernel = []
    for d in weight_spec:
        if d in out_map:
            kernel.append(output[out_map[d]])
        elif d in in_map:
            kernel.append(input_shape[in_map[d]])
        else:
            raise ValueError(f"{layer}: kernel axis {d!r} of {equation!r} is in neither the "
                             f"input nor the output, so its size is unknown")
        if kernel[-1] is None:
            raise ValueError(f"{layer}: kernel axis {d!r} of {equation!r} has no known size "
                             f"(input shape {input_shape}, output_shape {output_shape})")
    bias = None
    if bias_axes is not None:
        for d in bias_axes:
            if d not in output_spec:
                raise ValueError(f"{layer}: bias axis {d!r} is not in the output "
                                 f"{output_spec!r} of {equation!r}")
        offset = elided if left else 0
        sizes = {d: output[i + offset] for i, d in enumerate(output_spec)}
        first = min(output_spec.find(d) for d in bias_axes)
        bias = [sizes[d] if d in bias_axes else 1 for d in output_spec[first:]]
        if not left:
            bias += [1] * elided
    return tuple(kernel), None if bias is None else tuple(bias), tuple(output)


class EinsumDense(Layer):
    """``activation(einsum(equation, inputs, kernel) + bias)``: ``equation`` names the
    input's, the kernel's and the output's axes (``"abc,cde->abde"`` projects the last axis
    to two), ``output_shape`` gives the output's sizes after the batch axis (``None`` where
    the input fixes it), ``bias_axes`` the output letters the bias spans (``None``: no bias).

    >>> from chainrule.keras import layers
    >>> import numpy as np
    >>> layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de")
    >>> layer(np.ones((1, 3, 5), np.float32)).shape, layer.kernel.shape, layer.bias.shape
    (TensorShape([1, 3, 2, 4]), TensorShape([5, 2, 4]), TensorShape([2, 4]))
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, gptq_unpacked_column_size=None, quantization_config=None,
                 **kwargs):
        super().__init__(**kwargs)
        if kernel_constraint is not None or bias_constraint is not None:
            raise ValueError("EinsumDense: chainrule has no weight constraints yet; pass "
                             "kernel_constraint=None and bias_constraint=None")
        if activity_regularizer is not None:
            raise ValueError("EinsumDense: activity_regularizer is not supported; add an "
                             "ActivityRegularization layer after it")
        if lora_rank or quantization_config is not None or gptq_unpacked_column_size:
            raise ValueError("EinsumDense: LoRA and quantization are not supported; pass "
                             "lora_rank=None and quantization_config=None")
        self.equation = str(equation)
        self.partial_output_shape = (output_shape,) if isinstance(output_shape, int) \
            else tuple(output_shape)
        self.activation = activations.get(activation)
        self.bias_axes = bias_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.bias = None

    def build(self, input_shape):
        kernel, bias, full = analyze(self.equation, self.bias_axes, input_shape,
                                     self.partial_output_shape,
                                     f"EinsumDense '{self.name}'")
        self.full_output_shape = full
        self.kernel = self.add_weight(kernel, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer)
        if bias is not None:
            self.bias = self.add_weight(bias, self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer)
        self._min_ndim = len(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        if inputs.dtype != self.kernel.dtype:
            inputs = ops.cast(inputs, self.kernel.dtype)
        x = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return analyze(self.equation, self.bias_axes, input_shape, self.partial_output_shape,
                       f"EinsumDense '{self.name}'")[2]

    def get_config(self):
        return {**super().get_config(), "output_shape": self.partial_output_shape,
                "equation": self.equation,
                "activation": activations.serialize(self.activation),
                "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None}
