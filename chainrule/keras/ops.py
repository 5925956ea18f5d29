"""``keras.ops``: Keras 3's op namespace (``from keras import ops``) over chainrule's own ops.

Nothing is implemented twice: a name whose arguments match Keras's is chainrule's op itself;
the others are thin adapters that rename Keras's arguments (``ops.sum(x, axis, keepdims)``
is ``reduce_sum``; ``ops.concatenate`` is ``concat``; ``ops.shape`` gives a tuple of ints, as
Keras's does). A Keras op chainrule does not have yet raises an AttributeError that says so.
"""

import builtins

import numpy as np

from .. import dtypes
from .. import ops as _ops
from ..control_flow import cond
from ..errors import MissingNameError
from ..ops import (  # the ones whose names and arguments are Keras's
    abs, add, argmax as _argmax, argmin as _argmin, broadcast_to, cast, ceil, celu, cos,
    cosh, count_nonzero, det, divide, divide_no_nan, einsum, elu, equal, erf, erfc, exp,
    expand_dims, expm1, floor, glu, greater, greater_equal, hard_shrink, hard_sigmoid,
    hard_silu, hard_swish, hard_tanh, inv, less, less_equal, log, log1p, log_sigmoid,
    logical_and, logical_not, logical_or, matmul, maximum, minimum, mod, multiply, negative,
    not_equal, power, reciprocal, relu, relu6, round, rsqrt, selu, sigmoid, sign, silu, sin,
    sinh, soft_shrink, softplus, softsign, solve, sparse_plus, sparse_sigmoid, sqrt, square,
    squareplus, squeeze, stack, stop_gradient, subtract, swish, tan, tanh, tanh_shrink,
    threshold, where,
)
from ..tensor import Tensor

__all__ = [  # noqa: F822  (some are re-exported above)
    "abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "arccos", "arccosh",
    "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "average",
    "broadcast_to", "cast", "ceil", "celu", "clip", "concatenate", "cond", "convert_to_numpy",
    "convert_to_tensor", "cos", "cosh", "count_nonzero", "cumprod", "cumsum", "det", "divide",
    "divide_no_nan", "dot", "dtype", "einsum", "elu", "equal", "erf", "erfc", "exp",
    "expand_dims", "expm1", "eye", "floor", "floor_divide", "full", "full_like", "gelu",
    "get_item", "glu", "greater", "greater_equal", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "identity", "inv", "is_tensor", "isfinite", "isinf", "isnan",
    "leaky_relu", "less", "less_equal", "linspace", "log", "log1p", "log_sigmoid",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mod", "moments", "moveaxis",
    "multiply", "ndim", "negative", "norm", "normalize", "not_equal", "one_hot", "ones",
    "ones_like", "outer", "pad", "power", "prod", "ravel", "reciprocal", "relu", "relu6",
    "reshape", "round", "rsqrt", "selu", "shape", "sigmoid", "sign", "silu", "sin", "sinh",
    "size", "slice", "soft_shrink", "softmax", "softplus", "softsign", "solve", "sparse_plus",
    "sparse_sigmoid", "sqrt", "square", "squareplus", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "swapaxes", "swish", "take", "tan", "tanh",
    "tanh_shrink", "tensordot", "threshold", "transpose", "true_divide", "unstack", "var",
    "where", "zeros", "zeros_like",
]

absolute = abs
true_divide = divide
floor_divide = _ops.floordiv
arcsin, arccos, arctan, arctan2 = _ops.asin, _ops.acos, _ops.atan, _ops.atan2
arcsinh, arccosh, arctanh = _ops.asinh, _ops.acosh, _ops.atanh
isnan, isinf, isfinite = _ops.is_nan, _ops.is_inf, _ops.is_finite


def is_tensor(x):
    """Whether ``x`` is a chainrule tensor."""
    return isinstance(x, Tensor)


def _floatx(dtype):
    return dtypes.as_dtype(dtype or "float32")


# -- creating and converting -----------------------------------------------------------------

def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as a tensor; with ``dtype``, cast to it (as Keras does, a tensor too)."""
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if dtype is not None and not isinstance(x, np.ndarray):
        return _ops.convert_to_tensor(x, dtype=dtypes.as_dtype(dtype))
    t = _ops.convert_to_tensor(x)
    return t if dtype is None else cast(t, dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array."""
    return np.asarray(x)


def ones(shape, dtype=None):
    return _ops.ones(shape, _floatx(dtype))


def zeros(shape, dtype=None):
    return _ops.zeros(shape, _floatx(dtype))


def full(shape, fill_value, dtype=None):
    return _ops.fill(shape, convert_to_tensor(fill_value, _floatx(dtype)))


def ones_like(x, dtype=None):
    return _ops.ones_like(x, dtype)


def zeros_like(x, dtype=None):
    return _ops.zeros_like(x, dtype)


def full_like(x, fill_value, dtype=None):
    x = convert_to_tensor(x)
    return full(x.shape, fill_value, dtype or x.dtype)


def arange(start, stop=None, step=1, dtype=None):
    return _ops.range(start, stop, step, dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if not endpoint or retstep or axis != 0:
        raise NotImplementedError("keras.ops.linspace: chainrule supports endpoint=True, "
                                  "retstep=False and axis=0 only")
    return _ops.linspace(start, stop, num, _floatx(dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803  (Keras's argument names)
    if k != 0:
        raise NotImplementedError("keras.ops.eye: chainrule supports k=0 only")
    return _ops.eye(N, M, _floatx(dtype))


def identity(x, dtype=None):
    """The ``x`` by ``x`` identity matrix (NumPy's ``identity``, as Keras's)."""
    return eye(x, dtype=dtype)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise NotImplementedError("keras.ops.one_hot: chainrule has no sparse tensors")
    return _ops.one_hot(x, num_classes, axis=axis, dtype=_floatx(dtype))


# -- shapes ------------------------------------------------------------------------------------

def shape(x):
    """The shape as a tuple of ints (Keras's ``ops.shape``; ``tf.shape`` gives a tensor)."""
    return tuple(convert_to_tensor(x).shape)


def ndim(x):
    return convert_to_tensor(x).ndim


def size(x):
    return _ops.size(x)


def dtype(x):
    """The dtype's name, as Keras standardises it (``"float32"``)."""
    return convert_to_tensor(x).dtype.name


def reshape(x, newshape):
    return _ops.reshape(x, newshape)


def ravel(x):
    return _ops.reshape(x, (-1,))


def transpose(x, axes=None):
    return _ops.transpose(x, axes)


def swapaxes(x, axis1, axis2):
    x = convert_to_tensor(x)
    perm = list(builtins.range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return _ops.transpose(x, perm)


def moveaxis(x, source, destination):
    x = convert_to_tensor(x)
    # NumPy's own axis logic, on a zero-strided array whose sizes name the axes.
    moved = np.moveaxis(np.broadcast_to(0, tuple(builtins.range(1, x.ndim + 1))), source,
                        destination)
    return _ops.transpose(x, [d - 1 for d in moved.shape])


def concatenate(xs, axis=0):
    return _ops.concat(xs, axis)


def unstack(x, num=None, axis=0):
    return _ops.unstack(x, axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    return _ops.pad(x, pad_width, mode.upper(), 0 if constant_values is None else constant_values)


def get_item(x, key):
    return convert_to_tensor(x)[key]


def slice(inputs, start_indices, shape):  # noqa: A001
    """The block of ``shape`` starting at ``start_indices``."""
    index = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return convert_to_tensor(inputs)[index]


def take(x, indices, axis=None):
    if axis is None:
        return _ops.gather(ravel(x), indices)
    return _ops.gather(x, indices, axis=axis)


# -- arithmetic --------------------------------------------------------------------------------

def clip(x, x_min, x_max):
    return _ops.clip_by_value(x, x_min, x_max)


def logical_xor(x1, x2):
    return not_equal(cast(x1, "bool"), cast(x2, "bool"))


def dot(x1, x2):
    return _ops.dot(x1, x2)


def tensordot(x1, x2, axes=2):
    return _ops.tensordot(x1, x2, axes)


def outer(x1, x2):
    return _ops.reshape(x1, (-1, 1)) * _ops.reshape(x2, (1, -1))


# -- reductions --------------------------------------------------------------------------------

def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.reduce_sum(x, _axis(axis), keepdims)


def mean(x, axis=None, keepdims=False):
    return _ops.reduce_mean(x, _axis(axis), keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    out = _ops.reduce_max(x, _axis(axis), keepdims)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    out = _ops.reduce_min(x, _axis(axis), keepdims)
    return out if initial is None else minimum(out, initial)


amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    return _ops.reduce_prod(x if dtype is None else cast(x, dtype), _axis(axis), keepdims)


def var(x, axis=None, keepdims=False):
    return _ops.reduce_variance(x, _axis(axis), keepdims)


def std(x, axis=None, keepdims=False):
    return _ops.reduce_std(x, _axis(axis), keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.reduce_all(cast(x, "bool"), _axis(axis), keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.reduce_any(cast(x, "bool"), _axis(axis), keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return _ops.reduce_logsumexp(x, _axis(axis), keepdims)


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis)
    x = convert_to_tensor(x)
    weights = convert_to_tensor(weights, x.dtype)
    if weights.ndim == 1 and x.ndim > 1 and axis is not None:  # one weight per entry of axis
        along = [1] * x.ndim
        along[axis] = -1
        weights = _ops.reshape(weights, along)
    return sum(x * weights, axis) / sum(weights * ones_like(x), axis)


def argmax(x, axis=None, keepdims=False):
    out = _argmax(ravel(x) if axis is None else x, 0 if axis is None else axis)
    return _ops.expand_dims(out, axis) if keepdims and axis is not None else out


def argmin(x, axis=None, keepdims=False):
    out = _argmin(ravel(x) if axis is None else x, 0 if axis is None else axis)
    return _ops.expand_dims(out, axis) if keepdims and axis is not None else out


def cumsum(x, axis=None, dtype=None):
    x = x if dtype is None else cast(x, dtype)
    return _ops.cumsum(ravel(x), 0) if axis is None else _ops.cumsum(x, axis)


def cumprod(x, axis=None, dtype=None):
    x = x if dtype is None else cast(x, dtype)
    return _ops.cumprod(ravel(x), 0) if axis is None else _ops.cumprod(x, axis)


def moments(x, axes, keepdims=False, synchronized=False):
    return _ops.moments(x, axes, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return _ops.norm(x, "euclidean" if ord is None else ord, axis, keepdims)


def normalize(x, axis=-1, order=2, epsilon=None):
    if order != 2:
        raise NotImplementedError("keras.ops.normalize: chainrule supports order=2 only")
    return _ops.l2_normalize(x, axis, 1e-12 if epsilon is None else epsilon)


# -- neural-network ops ----------------------------------------------------------------------

def softmax(x, axis=-1):
    return _ops.softmax(x, axis)


def log_softmax(x, axis=-1):
    return _ops.log_softmax(x, axis)


def leaky_relu(x, negative_slope=0.2):
    return _ops.leaky_relu(x, negative_slope)


def gelu(x, approximate=True):
    """Keras's ``ops.gelu`` defaults to the tanh approximation (its activation does not)."""
    return _ops.gelu(x, approximate)


# -- what Keras has and chainrule does not yet ---------------------------------------------

KERAS_OPS = frozenset("""
abs absolute adaptive_average_pool adaptive_max_pool add all allclose amax amin angle any
append arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin argpartition
argsort array array_split associative_scan average average_pool bartlett batch_normalization
binary_crossentropy bincount bitwise_and bitwise_invert bitwise_left_shift bitwise_not
bitwise_or bitwise_right_shift bitwise_xor blackman broadcast_to cast categorical_crossentropy
cbrt cdist ceil celu cholesky cholesky_inverse clip column_stack concatenate cond conj
conjugate conv conv_transpose convert_to_numpy convert_to_tensor copy corrcoef correlate cos
cosh count_nonzero cross ctc_decode ctc_loss cumprod cumsum custom_gradient deg2rad
depth_to_space depthwise_conv det diag diagflat diagonal diff digitize divide divide_no_nan
dot dot_product_attention dsplit dstack dtype eig eigh einsum elu empty empty_like equal erf
erfc erfinv exp exp2 expand_dims expm1 extract_sequences eye fabs fft fft2 flip fliplr flipud
floor floor_divide fmax fmin fmod fold fori_loop full full_like gammainc gcd gelu geomspace
get_item glu greater greater_equal hamming hanning hard_shrink hard_sigmoid hard_silu
hard_swish hard_tanh heaviside histogram hsplit hstack hypot i0 identity ifft2 imag image
in_top_k inner inv irfft is_tensor isclose isfinite isin isinf isnan isneginf isposinf isreal
istft jvp kaiser kron layer_normalization lcm ldexp leaky_relu left_shift less less_equal
linalg linspace log log10 log1p log2 log_sigmoid log_softmax logaddexp logaddexp2 logdet
logical_and logical_not logical_or logical_xor logspace logsumexp lstsq lu_factor map matmul
matrix_power matrix_rank max max_pool maximum mean median meshgrid min minimum mod moments
moveaxis multi_hot multiply nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean
nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar ndim negative nextafter
nn nonzero norm normalize not_equal numpy one_hot ones ones_like outer pad percentile pinv
polar power prod psnr ptp qr quantile rad2deg ravel real rearrange reciprocal relu relu6
repeat reshape rfft right_shift rms_normalization roll rot90 round rsqrt saturate_cast scan
scatter scatter_update searchsorted segment_max segment_min segment_prod segment_sum select
selu separable_conv shape sigmoid sign signbit silu sin sinc sinh size slice slice_update
slogdet soft_shrink softmax softplus softsign solve solve_triangular sort space_to_depth
sparse_categorical_crossentropy sparse_plus sparse_sigmoid sparsemax split sqrt square
squareplus squeeze stack std stft stop_gradient subtract sum svd swapaxes swish switch take
take_along_axis tan tanh tanh_shrink tensordot threshold tile top_k trace transpose trapezoid
tri tril triu true_divide trunc unfold unique unravel_index unstack vander var vdot vectorize
vectorized_map view view_as_complex view_as_real vsplit vstack where while_loop zeros
zeros_like
""".split())


def __getattr__(name):
    raise MissingNameError(__name__, name, "Keras op" if name in KERAS_OPS else None, __all__)
