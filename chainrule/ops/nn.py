"""Neural-network functions: activations, softmax, losses, dropout, convolution and pooling."""

import math as _math

from ..backend import xp
from ..primitives import table as P
from ..primitives.primitive import bind
from ..tensor import Tensor
from ._convert import binary_args, normalize_axis, tensor_arg
from .array import where
from .math import (abs, cast, clip_by_value, divide, exp, greater, greater_equal, less,
                   less_equal, maximum, minimum, multiply, sigmoid, softplus, sqrt, tanh)
from .reduction import reduce_sum
from .special import erf, expm1


# -- activations ---------------------------------------------------------------------------

def relu(x):
    """``max(x, 0)``; the derivative at 0 is taken as 0."""
    return bind(P.relu, (tensor_arg(x),))


def relu6(features):
    """``min(max(x, 0), 6)``."""
    return minimum(relu(features), 6)


def leaky_relu(features, alpha=0.2):
    """``x`` where positive, ``alpha * x`` elsewhere (TensorFlow's default alpha is 0.2).

    For ``alpha <= 1`` it is ``maximum(alpha * x, x)``: the same numbers, with the kink at 0
    known to the table (at the tie the first operand takes the gradient: ``alpha``, as
    TensorFlow's rule gives at 0)."""
    x = tensor_arg(features)
    if alpha <= 1:
        return maximum(alpha * x, x)
    return where(greater(x, 0), x, alpha * x)


def elu(features, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    x = tensor_arg(features)
    return where(greater(x, 0), x, alpha * expm1(minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features):
    """The self-normalising ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s
    constants."""
    return _SELU_SCALE * elu(features, _SELU_ALPHA)


def gelu(features, approximate=False):
    """``x * P(X <= x)`` for a standard normal X: with the error function, or with
    ``approximate=True`` the tanh approximation."""
    x = tensor_arg(features)
    if approximate:
        return 0.5 * x * (1 + tanh(_math.sqrt(2 / _math.pi) * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1 + erf(x * (1 / _math.sqrt(2))))


def silu(features, beta=1.0):
    """``x * sigmoid(beta * x)`` (also called swish)."""
    x = tensor_arg(features)
    return x * sigmoid(beta * x if beta != 1.0 else x)


swish = silu


def softsign(features):
    """``x / (1 + |x|)``."""
    x = tensor_arg(features)
    return x / (1 + abs(x))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, a line between (Keras's form)."""
    return relu6(tensor_arg(x) + 3) / 6


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    x = tensor_arg(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))``."""
    x = tensor_arg(x)
    return x * tanh(softplus(x))


def exponential(x):
    """``exp(x)``, as an activation."""
    return exp(x)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``: an ELU whose derivative is
    continuous for every ``alpha``."""
    x = tensor_arg(x)
    return maximum(x, 0.0) + alpha * expm1(minimum(x, 0.0) / alpha)


def hard_tanh(x):
    """``x`` limited to [-1, 1]."""
    return clip_by_value(tensor_arg(x), -1.0, 1.0)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    x = tensor_arg(x)
    return x - tanh(x)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu (``b`` sets how smooth)."""
    x = tensor_arg(x)
    return (x + sqrt(x * x + b)) / 2


def soft_shrink(x, threshold=0.5):
    """``x`` moved toward 0 by ``threshold``, and 0 within ``threshold`` of it."""
    x = tensor_arg(x)
    return where(greater(x, threshold), x - threshold,
                 where(less(x, -threshold), x + threshold, 0.0))


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    x = tensor_arg(x)
    return where(greater(abs(x), threshold), x, 0.0)


def sparse_plus(x):
    """0 up to -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` from 1."""
    x = tensor_arg(x)
    return where(less_equal(x, -1.0), 0.0, where(less(x, 1.0), 0.25 * ((x + 1) * (x + 1)), x))


def sparse_sigmoid(x):
    """0 up to -1, ``(x + 1) / 2`` on (-1, 1), 1 from 1."""
    x = tensor_arg(x)
    return where(less_equal(x, -1.0), 0.0, where(greater_equal(x, 1.0), 1.0, 0.5 * (x + 1)))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = tensor_arg(x)
    return where(greater(x, threshold), x, default_value)


def glu(x, axis=-1):
    """``a * sigmoid(b)``, where ``a`` and ``b`` are the two halves of ``x`` along ``axis``."""
    x = tensor_arg(x)
    axis = normalize_axis(axis, x.ndim, "glu")
    half, odd = divmod(x.shape[axis], 2)
    if odd:
        raise ValueError(f"glu: the size of axis {axis} must be even to split it in two; "
                         f"received shape {x.shape}")
    lead = (slice(None),) * axis
    return x[lead + (slice(None, half),)] * sigmoid(x[lead + (slice(half, None),)])


def log_sigmoid(x):
    """``log(sigmoid(x))``, stably: ``-softplus(-x)``."""
    return -softplus(-tensor_arg(x))


def softmax(logits, axis=-1, _result_type=Tensor):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed without overflow."""
    x = tensor_arg(logits)
    axis = normalize_axis(-1 if axis is None else axis, x.ndim, "softmax")
    return bind(P.softmax, (x,), {"axis": axis}, _result_type)


def log_softmax(logits, axis=-1):
    """``log(softmax(x))`` along ``axis``, exactly (no log of a rounded zero)."""
    x = tensor_arg(logits)
    return bind(P.log_softmax, (x,), {"axis": normalize_axis(-1 if axis is None else axis, x.ndim, "log_softmax")})


def bias_add(value, bias):
    """``value + bias`` along the last axis."""
    return tensor_arg(value) + bias


# -- losses --------------------------------------------------------------------------------

def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """Per-example cross-entropy between integer ``labels`` and unnormalised ``logits``.

    ``labels`` has the shape of ``logits`` without its last (class) axis; the result has
    that shape too. The gradient with respect to ``logits`` is ``softmax - one_hot``.
    """
    logits = tensor_arg(logits)
    labels = tensor_arg(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        f"not {labels.dtype}")
    if logits.dtype.kind != "f":
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: logits must be floating, "
                        f"not {logits.dtype}")
    classes = logits.shape[-1] if logits.ndim else 0
    if labels.size:
        lo, hi = int(xp.min(labels._value)), int(xp.max(labels._value))
        if lo < 0 or hi >= classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"sparse_softmax_cross_entropy_with_logits: label {bad} is out of "
                             f"range for {classes} classes (valid labels are 0..{classes - 1})")
    return bind(P.sparse_softmax_cross_entropy, (labels, logits))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """Per-example cross-entropy between probability ``labels`` and ``logits``."""
    return -reduce_sum(multiply(labels, log_softmax(logits, axis)), axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """Per-entry cross-entropy of 0/1 (or probability) ``labels`` and ``logits``:
    ``max(x, 0) - x * z + log(1 + exp(-|x|))``, which never overflows."""
    x, z = binary_args("sigmoid_cross_entropy_with_logits", logits, labels)
    return relu(x) - x * z + softplus(-abs(x))


def l2_loss(t):
    """``sum(t ** 2) / 2``."""
    t = tensor_arg(t)
    return reduce_sum(t * t) * 0.5


# -- dropout -------------------------------------------------------------------------------

def dropout(x, rate, noise_shape=None, seed=None):
    """``x`` with a random fraction ``rate`` of its entries zeroed and the rest scaled by
    ``1 / (1 - rate)``; ``noise_shape`` (broadcast against ``x``) shares one draw along
    axes of size 1. ``seed`` as in :func:`chainrule.random.generator`."""
    x = tensor_arg(x)
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    noise = bind(P.random, (), {"shape": shape, "dtype": xp.dtype("float32"), "seed": seed,
                                "distribution": "uniform", "a": 0, "b": 1})
    keep = cast(greater_equal(noise, rate), x.dtype)
    return multiply(x, divide(keep, xp.float32(1 - rate)))


# -- convolution and pooling ---------------------------------------------------------------
# TensorFlow's tf.nn signatures over the table's conv, conv_transpose, max_pool and avg_pool
# primitives, which take channels-last arrays and explicit (low, high) padding: here the
# arguments are checked, "SAME"/"VALID" resolved and channels-first data transposed.

def _per_axis(value, rank, what, op):
    """An int or a sequence for each spatial axis (or TensorFlow's full form with the batch
    and channel entries, which must be 1) as a tuple of ``rank`` positive ints."""
    values = (value,) * rank if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) == 1:
        values *= rank
    elif len(values) == rank + 2:
        values = values[1:-1]
    if len(values) != rank or min(values) < 1:
        raise ValueError(f"{op}: {what} must be a positive int or {rank} of them, one per "
                         f"spatial axis; received {value!r}")
    return values


def _channels_first(data_format, rank, op):
    if data_format is None:
        return False
    form = str(data_format).upper()
    if form in ("CHANNELS_LAST", "CHANNELS_FIRST"):
        return form == "CHANNELS_FIRST"
    if len(form) != rank + 2 or form[0] != "N" or "C" not in (form[1], form[-1]):
        raise ValueError(f"{op}: data_format must be channels-last ('N...C') or channels-first "
                         f"('NC...') for a rank-{rank} window; received {data_format!r}")
    return form[1] == "C"


def _explicit_padding(padding, spatial, window, strides, dilation, op):
    """(low, high) per spatial axis: "VALID" pads nothing; "SAME" pads so that the output
    has ``ceil(size / stride)`` entries, the odd entry after (as TensorFlow)."""
    rank = len(spatial)
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        if padding.upper() == "VALID":
            return ((0, 0),) * rank
        pads = []
        for n, k, s, d in zip(spatial, window, strides, dilation):
            total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'SAME', 'VALID' or (low, high) pairs; "
                         f"received {padding!r}")
    pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    if len(pairs) == rank + 2:
        pairs = pairs[1:-1]
    if len(pairs) != rank or min(min(p) for p in pairs) < 0:
        raise ValueError(f"{op}: explicit padding needs a (low, high) pair of non-negative "
                         f"ints per spatial axis; received {padding!r}")
    return pairs


def _check_window_fits(spatial, window, dilation, padding, op):
    for n, k, d, (lo, hi) in zip(spatial, window, dilation, padding):
        if d * (k - 1) + 1 > n + lo + hi:
            raise ValueError(
                f"{op}: a window of {tuple(window)} (dilation {tuple(dilation)}) does not fit an "
                f"input of spatial shape {tuple(spatial)}"
                + (f" padded by {tuple(padding)}" if any(lo or hi for lo, hi in padding) else
                   " without padding") + "; use padding='SAME', a smaller kernel or a "
                "larger input")


def _window_input(x, rank, data_format, op):
    """``x`` as a channels-last Tensor of rank ``rank + 2``, and whether it was transposed."""
    x = tensor_arg(x)
    if x.ndim != rank + 2:
        raise ValueError(f"{op}: the input must have rank {rank + 2} (batch, {rank} spatial "
                         f"axes, channels); received shape {tuple(x.shape)}")
    first = _channels_first(data_format, rank, op)
    if first:
        x = P.transpose(x, perm=(0,) + tuple(range(2, rank + 2)) + (1,))
    return x, first


def _window_output(y, first):
    return P.transpose(y, perm=(0, y.ndim - 1) + tuple(range(1, y.ndim - 1))) if first else y


def _conv_filters(x, filters, rank, op):
    w = tensor_arg(filters)
    if w.ndim != rank + 2:
        raise ValueError(f"{op}: filters must have rank {rank + 2} ({rank} window axes, input "
                         f"channels, output channels); received shape {tuple(w.shape)}")
    if w.dtype != x.dtype:
        raise TypeError(f"{op}: input ({x.dtype}) and filters ({w.dtype}) must have one dtype")
    return w


def _groups(channels, w, op):
    per_group, out = w.shape[-2], w.shape[-1]
    if channels % per_group or out % (channels // per_group):
        raise ValueError(f"{op}: the input has {channels} channels and the filters take "
                         f"{per_group} each: the input channels must be a multiple of the "
                         f"filters' (groups), and the output channels {out} of the groups")
    return channels // per_group


def convolution(input, filters, strides=None, padding="VALID", data_format=None,  # noqa: A002
                dilations=None, name=None):
    """The N-d convolution (cross-correlation) of ``input`` ``(batch, *spatial, in)`` with
    ``filters`` ``(*window, in / groups, out)``; ``groups`` is ``in`` over the filters'
    input channels. ``padding``: "VALID", "SAME" or (low, high) pairs.

    >>> import chainrule as cr
    >>> cr.nn.convolution(cr.ones((1, 4, 4, 1)), cr.ones((3, 3, 1, 2)), padding="SAME").shape
    TensorShape([1, 4, 4, 2])
    """
    op = name or "convolution"
    rank = tensor_arg(filters).ndim - 2
    x, first = _window_input(input, rank, data_format, op)
    w = _conv_filters(x, filters, rank, op)
    strides = _per_axis(1 if strides is None else strides, rank, "strides", op)
    dilation = _per_axis(1 if dilations is None else dilations, rank, "dilations", op)
    spatial, window = tuple(x.shape[1:-1]), tuple(w.shape[:-2])
    pads = _explicit_padding(padding, spatial, window, strides, dilation, op)
    _check_window_fits(spatial, window, dilation, pads, op)
    params = dict(strides=strides, padding=pads, dilation=dilation,
                  groups=_groups(x.shape[-1], w, op))
    return _window_output(bind(P.conv, (x, w), params), first)


def depthwise_conv2d(input, filter, strides=1, padding="VALID", data_format=None,  # noqa: A002
                     dilations=None, name=None):
    """Each input channel convolved with its own ``channel_multiplier`` filters: ``filter``
    ``(height, width, in, channel_multiplier)`` gives ``in * channel_multiplier`` output
    channels, those of input channel ``c`` at ``c * channel_multiplier + m``. A grouped
    :func:`convolution` with one group per input channel."""
    op = name or "depthwise_conv2d"
    w = tensor_arg(filter)
    if w.ndim != 4:
        raise ValueError(f"{op}: filter must have rank 4 (height, width, in_channels, "
                         f"channel_multiplier); received shape {tuple(w.shape)}")
    channels = tensor_arg(input).shape[1 if _channels_first(data_format, 2, op) else -1]
    if w.shape[2] != channels:
        raise ValueError(f"{op}: the input has {channels} channels but the filter's third axis "
                         f"(one filter set per input channel) is {w.shape[2]}")
    grouped = P.reshape(w, shape=tuple(w.shape[:2]) + (1, w.shape[2] * w.shape[3]))
    return convolution(input, grouped, strides, padding, data_format, dilations, op)


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides=1,  # noqa: A002
                     padding="VALID", data_format=None, dilations=None, name=None):
    """:func:`depthwise_conv2d`, then a 1x1 convolution with ``pointwise_filter``
    ``(1, 1, in * channel_multiplier, out)`` that mixes the channels."""
    op = name or "separable_conv2d"
    y = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations, op)
    return convolution(y, pointwise_filter, 1, "VALID", data_format, None, op)


def conv1d(input, filters, stride=1, padding="VALID", data_format="NWC",  # noqa: A002
           dilations=None, name=None):
    """:func:`convolution` over one spatial axis: ``input`` ``(batch, width, in)``."""
    _rank_of(filters, 1, name or "conv1d")
    return convolution(input, filters, stride, padding, data_format, dilations, name or "conv1d")


def conv2d(input, filters, strides=1, padding="VALID", data_format="NHWC",  # noqa: A002
           dilations=None, name=None):
    """:func:`convolution` over two spatial axes: ``input`` ``(batch, height, width, in)``,
    ``filters`` ``(height, width, in, out)``."""
    _rank_of(filters, 2, name or "conv2d")
    return convolution(input, filters, strides, padding, data_format, dilations, name or "conv2d")


def conv3d(input, filters, strides=1, padding="VALID", data_format="NDHWC",  # noqa: A002
           dilations=None, name=None):
    """:func:`convolution` over three spatial axes."""
    _rank_of(filters, 3, name or "conv3d")
    return convolution(input, filters, strides, padding, data_format, dilations, name or "conv3d")


def _rank_of(filters, rank, op):
    w = tensor_arg(filters)
    if w.ndim != rank + 2:
        raise ValueError(f"{op}: filters must have rank {rank + 2} ({rank} window axes, input "
                         f"channels, output channels); received shape {tuple(w.shape)}")


def conv_transpose(input, filters, output_shape, strides=1, padding="SAME",  # noqa: A002
                   data_format=None, dilations=None, name=None):
    """The transpose (adjoint) of :func:`convolution`, also called deconvolution: ``input``
    ``(batch, *spatial, out)`` goes back to ``output_shape`` ``(batch, *spatial, in)``.
    ``filters`` are those of the convolution it transposes, ``(*window, in, out)``."""
    op = name or "conv_transpose"
    rank = tensor_arg(filters).ndim - 2
    y, first = _window_input(input, rank, data_format, op)
    w = _conv_filters(y, filters, rank, op)
    shape = [int(d) for d in (output_shape.numpy() if isinstance(output_shape, Tensor)
                              else output_shape)]
    if len(shape) == rank + 2:
        shape = shape[2:] if first else shape[1:-1]
    if len(shape) != rank:
        raise ValueError(f"{op}: output_shape must give the {rank} spatial sizes (or the whole "
                         f"shape); received {output_shape!r}")
    strides = _per_axis(strides, rank, "strides", op)
    dilation = _per_axis(1 if dilations is None else dilations, rank, "dilations", op)
    window = tuple(w.shape[:-2])
    pads = _explicit_padding(padding, tuple(shape), window, strides, dilation, op)
    _check_window_fits(shape, window, dilation, pads, op)
    expected = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                     for n, k, s, d, (lo, hi) in zip(shape, window, strides, dilation, pads))
    if expected != tuple(y.shape[1:-1]):
        raise ValueError(f"{op}: a convolution of an input of spatial shape {tuple(shape)} gives "
                         f"{expected}, but the input here has {tuple(y.shape[1:-1])}: give the "
                         f"output_shape whose convolution has the input's shape")
    if y.shape[-1] != w.shape[-1]:
        raise ValueError(f"{op}: the input has {y.shape[-1]} channels but the filters' last "
                         f"axis (the channels they transpose from) is {w.shape[-1]}")
    params = dict(strides=strides, padding=pads, dilation=dilation, groups=1,
                  spatial=tuple(shape))
    return _window_output(bind(P.conv_transpose, (y, w), params), first)


def conv1d_transpose(input, filters, output_shape, strides=1, padding="SAME",  # noqa: A002
                     data_format="NWC", dilations=None, name=None):
    """:func:`conv_transpose` over one spatial axis."""
    _rank_of(filters, 1, name or "conv1d_transpose")
    return conv_transpose(input, filters, output_shape, strides, padding, data_format,
                          dilations, name or "conv1d_transpose")


def conv2d_transpose(input, filters, output_shape, strides=1, padding="SAME",  # noqa: A002
                     data_format="NHWC", dilations=None, name=None):
    """:func:`conv_transpose` over two spatial axes: ``filters`` ``(height, width,
    output channels, input channels)``."""
    _rank_of(filters, 2, name or "conv2d_transpose")
    return conv_transpose(input, filters, output_shape, strides, padding, data_format,
                          dilations, name or "conv2d_transpose")


def _pool(prim, input, ksize, strides, padding, data_format, rank, op):  # noqa: A002
    x = tensor_arg(input)
    if rank is None:
        rank = x.ndim - 2
    x, first = _window_input(x, rank, data_format, op)
    window = _per_axis(ksize, rank, "ksize", op)
    strides = _per_axis(strides, rank, "strides", op)
    spatial = tuple(x.shape[1:-1])
    pads = _explicit_padding(padding, spatial, window, strides, (1,) * rank, op)
    if any(lo >= k or hi >= k for (lo, hi), k in zip(pads, window)):
        raise ValueError(f"{op}: padding {pads} would make windows of padding alone")
    _check_window_fits(spatial, window, (1,) * rank, pads, op)
    params = dict(window=window, strides=strides, padding=pads)
    return _window_output(bind(prim, (x,), params), first)


def _pooling(prim, rank, name, data_format, doc):
    """A TensorFlow pooling function: ``name(input, ksize, strides, padding, data_format)``."""
    def pool(input, ksize, strides, padding="VALID", data_format=data_format,  # noqa: A002
             name=name):
        return _pool(prim, input, ksize, strides, padding, data_format, rank, name)
    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = doc
    return pool


max_pool = _pooling(P.max_pool, None, "max_pool", None,
                    "The maximum of each ``ksize`` window, every ``strides`` positions (N-d).")
max_pool1d = _pooling(P.max_pool, 1, "max_pool1d", "NWC", ":func:`max_pool` over one spatial axis.")
max_pool2d = _pooling(P.max_pool, 2, "max_pool2d", "NHWC",
                      ":func:`max_pool` over two spatial axes.")
avg_pool = _pooling(P.avg_pool, None, "avg_pool", None,
                    "The mean of each ``ksize`` window (under \"SAME\", of its entries inside "
                    "the input).")
avg_pool1d = _pooling(P.avg_pool, 1, "avg_pool1d", "NWC", ":func:`avg_pool` over one spatial axis.")
avg_pool2d = _pooling(P.avg_pool, 2, "avg_pool2d", "NHWC",
                      ":func:`avg_pool` over two spatial axes.")


# -- normalization and lookups ---------------------------------------------------------------

def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``(x - mean) / sqrt(variance + variance_epsilon) * scale + offset``, the statistics
    broadcast against ``x`` (``offset`` and ``scale`` may be None). Computed as
    ``x * a + (offset - mean * a)`` with ``a = scale / sqrt(variance + epsilon)``: one
    multiply and one add over ``x``."""
    x = tensor_arg(x)
    factor = 1 / sqrt(tensor_arg(variance) + variance_epsilon)
    if scale is not None:
        factor = factor * scale
    shift = -tensor_arg(mean) * factor
    if offset is not None:
        shift = shift + offset
    return x * factor + shift


def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` at the integer ``ids`` (any shape): ``(*ids.shape,
    *params.shape[1:])``. The ids are an input of the op, so a traced function looks up
    each call's own; the gradient adds each row's gradient back at its id."""
    if max_norm is not None:
        raise NotImplementedError("embedding_lookup: max_norm is not supported")
    table = tensor_arg(params)
    indices = tensor_arg(ids)
    if table.ndim < 1:
        raise ValueError(f"{name or 'embedding_lookup'}: params must have at least one axis; "
                         f"received a scalar")
    return bind(P.take_rows, (table, indices))


_INTERPOLATIONS = ("nearest", "bilinear")
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def image_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                    fill_value=0.0, name=None):
    """Channels-last ``images`` ``(batch, height, width, channels)`` resampled, each through
    its row of ``transforms`` ``(batch, 8)``: the output pixel at column x, row y reads the
    input at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``, ``k = c0 x + c1 y + 1``
    (Keras's ``ops.image.affine_transform``). Not differentiable: augmentation data."""
    op = name or "image_transform"
    x, t = tensor_arg(images), tensor_arg(transforms)
    if x.ndim != 4:
        raise ValueError(f"{op}: images must have rank 4 (batch, height, width, channels); "
                         f"received shape {tuple(x.shape)}")
    if t.shape != (x.shape[0], 8):
        raise ValueError(f"{op}: transforms must have shape (batch, 8) = ({x.shape[0]}, 8); "
                         f"received {tuple(t.shape)}")
    if interpolation not in _INTERPOLATIONS or fill_mode not in _FILL_MODES:
        raise ValueError(f"{op}: interpolation must be one of {_INTERPOLATIONS} and fill_mode "
                         f"one of {_FILL_MODES}; received {interpolation!r}, {fill_mode!r}")
    return bind(P.image_transform, (x, t), {"interpolation": interpolation,
                                           "fill_mode": fill_mode,
                                           "fill_value": float(fill_value)})
