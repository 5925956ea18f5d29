"""``chainrule.nn``: activations, losses, convolution and pooling under TensorFlow's
``tf.nn`` names, re-exported
from :mod:`chainrule.ops.nn`, with the element-wise activations of
:mod:`chainrule.ops.math` and the moments and normalization of
:mod:`chainrule.ops.reduction`."""

from .ops.nn import (  # noqa: F401
    bias_add, dropout, elu, gelu, l2_loss, leaky_relu, log_sigmoid, log_softmax, relu, relu6,
    selu, sigmoid_cross_entropy_with_logits, silu, softmax, softmax_cross_entropy_with_logits,
    softsign, sparse_softmax_cross_entropy_with_logits, swish,
)
from .ops.nn import (  # noqa: F401
    avg_pool, avg_pool1d, avg_pool2d, conv1d, conv1d_transpose, conv2d, conv2d_transpose,
    conv3d, conv_transpose, convolution, max_pool, max_pool1d, max_pool2d,
)
from .ops.nn import (  # noqa: F401
    batch_normalization, depthwise_conv2d, embedding_lookup, separable_conv2d,
)
from .ops.math import sigmoid, softplus, tanh  # noqa: F401
from .ops.reduction import l2_normalize, moments  # noqa: F401
