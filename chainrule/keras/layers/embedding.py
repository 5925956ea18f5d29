"""Embedding: integer indices to rows of a trainable table."""

import numbers

from ... import ops
from .. import initializers, regularizers
from .layer import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Maps each integer in ``[0, input_dim)`` to a row of ``output_dim`` trainable numbers:
    inputs of any shape ``s`` give outputs of shape ``(*s, output_dim)``.

    The table (the weight ``embeddings``, ``(input_dim, output_dim)``) starts uniform in
    [-0.05, 0.05]. Its gradient is non-zero only in the rows a batch looked up, the
    gradients of an index seen twice added. Float inputs are cast to int32, as Keras does.

    With ``mask_zero=True`` index 0 is padding: the output carries the mask ``inputs != 0``
    (``output._keras_mask``), which the layers after it pass on or consume, and which
    weights the loss and metrics of ``fit`` and ``evaluate`` when it reaches the model's
    output (see :class:`~chainrule.keras.layers.Layer`).

    >>> import numpy as np
    >>> from chainrule.keras import layers
    >>> embed = layers.Embedding(input_dim=1000, output_dim=8)
    >>> embed(np.array([[4, 20, 4]])).shape
    TensorShape([1, 3, 8])
    """

    takes_indices = True  # integer inputs are what it expects (fit's input checks)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, **kwargs):
        input_length = kwargs.pop("input_length", None)  # Keras 2's; Keras 3 ignores it too
        del input_length
        super().__init__(**kwargs)
        for what, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Embedding: {what} must be a positive integer; received "
                                 f"{what}={value!r}")
        if isinstance(mask_zero, str) or not _is_flag(mask_zero):
            raise ValueError(f"Embedding: mask_zero must be True or False; received "
                             f"mask_zero={mask_zero!r}")
        if embeddings_constraint is not None:
            raise ValueError("Embedding: chainrule has no weight constraints yet; pass "
                             "embeddings_constraint=None")
        if lora_rank is not None:
            raise ValueError("Embedding: LoRA (lora_rank) is not supported; pass lora_rank=None")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer, name="embeddings",
                                          regularizer=self.embeddings_regularizer)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        if inputs.dtype.kind not in "iu":
            inputs = ops.cast(inputs, "int32")
        try:
            return ops.embedding_lookup(self.embeddings, inputs)
        except IndexError as error:
            raise IndexError(
                f"layer '{self.name}' (Embedding): {error}. Its input_dim={self.input_dim} "
                f"allows indices 0 to {self.input_dim - 1}: make input_dim larger than the "
                f"largest index (the vocabulary size)") from None

    def compute_mask(self, inputs, mask=None):
        """With ``mask_zero=True``, ``inputs != 0``: index 0 is padding, and the layers
        after this one that consume masks skip it; else None."""
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, ops.zeros((), inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": None,
                "mask_zero": self.mask_zero}


def _is_flag(value):
    """True for True/False (and 0/1, NumPy's bools)."""
    try:
        return value in (True, False)
    except (TypeError, ValueError):  # an array, say
        return False
