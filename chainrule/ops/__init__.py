"""chainrule's functional namespace: every op as a function of tensors.

The primitives (``chainrule.primitives.table``) run through here after their arguments
are converted; everything else in this package is a composition of primitives and needs no
derivative of its own. By what the ops are:

* :mod:`.array`: creating tensors, shapes, indexing, joining, padding, selecting;
* :mod:`.indexing`: indexing by coordinates (``slice``, ``gather_nd``, ``scatter_nd``);
* :mod:`.math`: element-wise arithmetic, comparisons, logic and functions, casts;
* :mod:`.special`: trigonometric, hyperbolic and error functions (series of table ops);
* :mod:`.reduction`: reductions, scans, moments, norms and clipping by norm;
* :mod:`.linalg`: products (matmul, dense, tensordot, einsum), solves, inverses, determinants;
* :mod:`.nn`: activations, softmax, losses, dropout, convolution and pooling;
* :mod:`.custom_gradient`: a function with a derivative written by hand.

Importing this package gives :class:`~chainrule.tensor.Tensor` its operators
(:func:`.operators.install_operators`).
"""

from ._convert import convert_to_tensor
from .array import (
    broadcast_to, concat, constant, expand_dims, eye, fill, flatten, gather, getitem,
    identity, linspace, matrix_transpose, one_hot, ones, ones_like, pad, range, rank,
    reshape, shape, size, squeeze, stack, stop_gradient, transpose, unstack, where, zeros,
    zeros_like,
)
from .math import (
    abs, add, add_n, cast, ceil, clip_by_value, divide, divide_no_nan, equal, exp, floor,
    floordiv, floormod, greater, greater_equal, is_finite, is_inf, is_nan, less, less_equal,
    log, logical_and, logical_not, logical_or, maximum, minimum, mod, multiply, negative,
    not_equal, pow, power, reciprocal, round, rsqrt, sigmoid, sign, softplus, sqrt, square,
    squared_difference, subtract, tanh, truediv, xlogy,
)
from .special import (
    acos, acosh, asin, asinh, atan, atan2, atanh, cos, cosh, erf, erfc, expm1, log1p, sin,
    sinh, tan,
)
from .reduction import (
    argmax, argmin, clip_by_global_norm, clip_by_norm, count_nonzero, cumprod, cumsum,
    global_norm, l2_normalize, moments, norm, reduce_all, reduce_any, reduce_euclidean_norm,
    reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_std,
    reduce_sum, reduce_variance,
)
from .indexing import (
    gather_nd, scatter_nd, slice, tensor_scatter_nd_add, tensor_scatter_nd_sub,
    tensor_scatter_nd_update,
)
from .linalg import dense, det, diag_part, dot, einsum, inv, matmul, solve, tensordot, trace
from .nn import (
    bias_add, celu, dropout, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu,
    hard_swish, hard_tanh, l2_loss, leaky_relu, log_sigmoid, log_softmax, mish, relu, relu6,
    selu, sigmoid_cross_entropy_with_logits, silu, soft_shrink, softmax,
    softmax_cross_entropy_with_logits, softsign, sparse_plus, sparse_sigmoid,
    sparse_softmax_cross_entropy_with_logits, squareplus, swish, tanh_shrink, threshold,
)
from .nn import (
    avg_pool, avg_pool1d, avg_pool2d, conv1d, conv1d_transpose, conv2d, conv2d_transpose,
    conv3d, conv_transpose, convolution, max_pool, max_pool1d, max_pool2d,
)
from .nn import (
    batch_normalization, depthwise_conv2d, embedding_lookup, image_transform, separable_conv2d,
)
from .operators import install_operators
from ._convert import symbolic_aware as _symbolic_aware

install_operators()

__all__ = [name for name in dir() if not name.startswith("_") and name != "install_operators"]


def _wrap_for_symbolic_values():
    """Every public op, here and in the module that defines it, as :func:`._convert.
    symbolic_aware` makes it: the fixed table of ops a symbolic call may record (and a
    saved model may name)."""
    import sys
    import types
    from . import array, indexing, linalg, math, nn, reduction, special
    table = {}
    for name in __all__:
        fn = globals()[name]
        if not isinstance(fn, types.FunctionType):
            continue
        table[name] = globals()[name] = _symbolic_aware(name, fn)
    wrapped = {id(fn.__wrapped__): fn for fn in table.values()}
    for module in (array, indexing, linalg, math, nn, reduction, special,
                   sys.modules[__name__]):
        for key, value in list(vars(module).items()):
            if id(value) in wrapped and not key.startswith("_"):
                setattr(module, key, wrapped[id(value)])
    return table


SYMBOLIC_OPS = _wrap_for_symbolic_values()
