"""``chainrule.nn``: activations and losses under TensorFlow's ``tf.nn`` names."""

from .ops import (  # noqa: F401
    dropout, log_softmax, relu, sigmoid, softmax, softmax_cross_entropy_with_logits,
    softplus, sparse_softmax_cross_entropy_with_logits, tanh,
)
from .ops import (  # noqa: F401
    bias_add, elu, gelu, l2_loss, l2_normalize, leaky_relu, log_sigmoid, moments, relu6,
    selu, sigmoid_cross_entropy_with_logits, silu, softsign, swish,
)
