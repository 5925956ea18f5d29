"""Dense: ``activation(inputs @ kernel + bias)``, the chapter's one layer."""

import numbers

from ... import ops
from .. import activations, constraints, initializers, regularizers
from .layer import Layer

__all__ = ["Dense"]


class Dense(Layer):
    """A fully connected layer: ``output = activation(inputs @ kernel + bias)``.

    The kernel has shape ``(input_dim, units)`` and is created on the first call, from the
    last axis of the input (so ``Dense(512)`` needs no input size). Inputs of rank > 2 are
    contracted over their last axis.

    Args:
        units: the output size, a positive integer.
        activation: a name (``"relu"``, ``"softmax"``, ...), a callable, or None (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``, U(-L, L) with
            L = sqrt(6 / (input_dim + units)).
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer: a penalty on the weight added to the
            training loss (``keras.regularizers.l2(0.001)``, ``"l1"``...), or None.
        kernel_constraint, bias_constraint: a projection of the weight applied after each
            optimizer step (``keras.constraints.MaxNorm(3)``, ``"non_neg"``...), or None.

    >>> import chainrule as cr
    >>> from chainrule.keras import layers
    >>> dense = layers.Dense(4, activation="relu")
    >>> dense(cr.ones((2, 3))).shape, dense.kernel.shape
    (TensorShape([2, 4]), TensorShape([3, 4]))
    """

    supports_masking = True  # a (batch, steps, features) input's step mask passes through

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer; received units={units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._min_ndim = 2

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) \
            if self.use_bias else None
        self._input_axes = {-1: input_dim}
        self.built = True

    def __getattr__(self, name):
        # Only reached for missing attributes: explain why kernel/bias do not exist yet.
        if name in ("kernel", "bias"):
            raise AttributeError(
                f"Dense layer '{self.name}' has no {name} yet: its weights are created on the "
                f"first call (or by build(input_shape)), once the input size is known")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:  # integer inputs, e.g. uint8 pixels
            inputs = ops.cast(inputs, self.kernel.dtype)
        return self.activation(ops.dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint))
        return config
