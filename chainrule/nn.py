"""``chainrule.nn``: activations and losses under TensorFlow's ``tf.nn`` names."""

from .ops import (  # noqa: F401
    dropout, log_softmax, relu, sigmoid, softmax, softmax_cross_entropy_with_logits,
    softplus, sparse_softmax_cross_entropy_with_logits, tanh,
)
