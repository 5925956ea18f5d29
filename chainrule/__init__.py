"""chainrule: tensors, a gradient tape, computation graphs and a Keras-style API.

``import chainrule as tf`` gives the TensorFlow names that chapter 2 of *Deep Learning with
Python* uses; ``chainrule.keras`` the Keras ones.
"""

from . import dtypes
from .version import __version__
from .dtypes import (
    bool_, float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32,
    uint64, as_dtype, string,
)
from .tensor import Tensor
from .variable import Variable
from .module import Module
from .ops import (
    abs, add, argmax, argmin, broadcast_to, cast, clip_by_value, concat, constant,
    convert_to_tensor, divide, dot, equal, exp, expand_dims, eye, fill, flatten, gather,
    greater, greater_equal, identity, less, less_equal, linspace, log, logical_and,
    logical_not, logical_or, matmul, maximum, minimum, multiply, negative, not_equal,
    one_hot, ones, ones_like, pow, range, rank, reduce_logsumexp, reduce_max, reduce_mean,
    reduce_min, reduce_sum, reshape, round, shape, sigmoid, sign, size, sqrt, square,
    squeeze, stack, stop_gradient, subtract, tanh, tensordot, transpose, unstack, where,
    zeros, zeros_like,
)
from .ops import (
    acos, add_n, asin, atan, clip_by_global_norm, clip_by_norm, cos, cosh, cumsum, einsum,
    norm, pad, reduce_all, reduce_any, reduce_prod, sin, sinh, tan,
)
from .ops import (
    gather_nd, scatter_nd, slice, tensor_scatter_nd_add, tensor_scatter_nd_sub,
    tensor_scatter_nd_update,
)
from .tensor import TensorShape, TensorSpec
from .autodiff.tape import GradientTape, UnconnectedGradients
from .ops.custom_gradient import custom_gradient
from . import config, debug, errors, linalg, math, nn, ops, random, train
from .config import device
from .debug import print_ as print  # noqa: A004  (tf.print)
from .control_flow import TensorArray, cond, init_scope, while_loop
from .py_function import numpy_function, py_function
from .graph import Graph
from .compiler.jit import function
from . import autograph
from . import distribute, types

bool = bool_  # noqa: A001  (TensorFlow spells it tf.bool)
newaxis = None  # x[:, tf.newaxis], as NumPy's


def is_tensor(x):
    """Whether ``x`` is a chainrule Tensor (or Variable)."""
    return isinstance(x, Tensor)


# TensorFlow's top-level names, so that one chainrule lacks says so (see __getattr__).
_TENSORFLOW_NAMES = frozenset("""
AggregationMethod CriticalSection DType DeviceSpec GradientTape Graph IndexedSlices
IndexedSlicesSpec Module Operation OptionalSpec RaggedTensor RaggedTensorSpec
RegisterGradient SparseTensor SparseTensorSpec Tensor TensorArray TensorArraySpec TensorShape
TensorSpec TypeSpec UnconnectedGradients Variable VariableAggregation
VariableSynchronization abs acos acosh add add_n argmax argmin argsort as_dtype as_string
asin asinh assert_equal assert_greater assert_less assert_rank atan atan2 atanh audio
autodiff autograph batch_to_space bfloat16 bitcast bitwise bool boolean_mask
broadcast_dynamic_shape broadcast_static_shape broadcast_to case cast clip_by_global_norm
clip_by_norm clip_by_value compat complex complex128 complex64 concat cond config constant
constant_initializer control_dependencies convert_to_tensor cos cosh cumsum custom_gradient
data debugging device distribute divide double dtypes dynamic_partition dynamic_stitch
edit_distance eig eigvals einsum ensure_shape equal errors estimator executing_eagerly exp
expand_dims experimental extract_volume_patches eye feature_column fill fingerprint float16
float32 float64 floor foldl foldr function gather gather_nd get_current_name_scope
get_logger get_static_value grad_pass_through gradients graph_util greater greater_equal
group guarantee_const half hessians histogram_fixed_width histogram_fixed_width_bins
identity identity_n image init_scope inside_function int16 int32 int64 int8 io
is_symbolic_tensor is_tensor keras less less_equal linalg linspace lite load_library
load_op_library logical_and logical_not logical_or lookup make_ndarray make_tensor_proto
map_fn math matmul matrix_square_root maximum meshgrid minimum mlir multiply name_scope
negative nest newaxis nn no_gradient no_op nondifferentiable_batch_function norm not_equal
numpy_function one_hot ones ones_initializer ones_like pad parallel_stack pow print profiler
py_function qint16 qint32 qint8 quantization queue quint16 quint8 ragged random
random_index_shuffle random_normal_initializer random_uniform_initializer range rank raw_ops
realdiv recompute_grad reduce_all reduce_any reduce_logsumexp reduce_max reduce_mean
reduce_min reduce_prod reduce_sum register_tensor_conversion_function repeat
required_space_to_batch_paddings reshape resource reverse reverse_sequence roll round
saturate_cast saved_model scalar_mul scan scatter_nd searchsorted sequence_mask sets shape
shape_n sigmoid sign signal sin sinh size slice sort space_to_batch space_to_batch_nd sparse
split sqrt square squeeze stack stop_gradient strided_slice string strings subtract summary
switch_case sysconfig tan tanh tensor_scatter_nd_add tensor_scatter_nd_max
tensor_scatter_nd_min tensor_scatter_nd_sub tensor_scatter_nd_update tensordot test tile
timestamp tpu train transpose truediv truncatediv truncatemod tuple type_spec_from_value types
uint16 uint32 uint64 uint8 unique unique_with_counts unravel_index unstack
variable_creator_scope variant vectorized_map version where while_loop xla zeros
zeros_initializer zeros_like
""".split())


# TensorFlow's top-level initializer names, for Keras's initializers of the same defaults.
_INITIALIZERS = {"zeros_initializer": "Zeros", "ones_initializer": "Ones",
                 "constant_initializer": "Constant",
                 "random_normal_initializer": "RandomNormal",
                 "random_uniform_initializer": "RandomUniform"}


def __getattr__(name):
    # The Keras API (and ONNX export) is imported on first use, so the core stays light to import.
    if name in ("keras", "data", "onnx"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name in _INITIALIZERS:
        from .keras import initializers
        return getattr(initializers, _INITIALIZERS[name])
    kind = "TensorFlow name" if name in _TENSORFLOW_NAMES else None
    raise errors.MissingNameError(__name__, name, kind, [*globals(), "keras", "data"],
                                  note=_NOTES.get(name))


_NOTES = {"strings": "There are string tensors (tf.string: tf.constant('text') makes one; "
                     "they compare, reshape, index and print) but none of the tf.strings ops."}
