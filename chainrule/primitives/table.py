"""THE TABLE: every primitive op with everything known about it, side by side: its NumPy
forward, its VJP, and what the compiled executor runs (a kernel writing into a given buffer,
an element-wise op's one-element form, a decomposition into other primitives).

Everything else in chainrule is a composition of these. Forward functions take and return
arrays; VJPs take and return Tensors and are written with the primitives of this table
(called with explicit parameters, as JAX's rules call ``lax``) and Tensor's operators, so
they are recorded like any op and can be differentiated again (see
:mod:`chainrule.primitives.primitive` for the signatures). The table imports nothing from
:mod:`chainrule.ops`, which is built on it.

Broadcasting is not handled here: a VJP may return a gradient of the broadcast output's
shape, and the tape sums it back to the input's shape in one place.

Why each fused op exists (the rest are the textbook set): ``relu``, ``sigmoid``,
``softmax``, ``log_softmax`` and ``sparse_softmax_cross_entropy`` each replace a chain of
several recorded ops in the training step with one, and have exact, stable forms;
``softplus`` gives binary cross-entropy from logits a stable value and an exact gradient;
``dense`` is a layer's ``x @ kernel + bias``; ``expm1`` gives ``elu`` an exact value near 0
and a gradient from its result.
"""

from ..backend import xp
from . import kernels, rng
from .primitive import Kink, Primitive

PRIMITIVES = {}


def defprimitive(name, forward, *, vjp=None, why=None, kernel=None, scalar=None, **fields):
    """Registers a primitive; ``vjp=None`` marks it non-differentiable (``why`` says so).
    Every field after the forward is given by keyword (see :class:`Primitive` for them all).

    A forward that is a NumPy ufunc is its own kernel; ``scalar`` may be a template string
    (``"({0} + {1})"``) for the element-wise form."""
    if vjp is None and why is None:
        raise ValueError(f"primitive {name}: a non-differentiable primitive must say why")
    if kernel is None and isinstance(forward, xp.ufunc):
        kernel = forward
    if isinstance(scalar, str):
        scalar = scalar.format
    prim = Primitive(name, forward, vjp=vjp, why=why, kernel=kernel, scalar=scalar, **fields)
    PRIMITIVES[name] = prim
    return prim


# One-element forms name their operands {0}, {1}, ... and the result dtype's {zero} and
# {one}; an operand may appear twice (the compiler passes plain local names).
_MAX = "({0} if ({0} > {1} or {0} != {0}) else {1})"  # np.maximum: NaN spreads; ties give {1}
_MIN = "({0} if ({0} < {1} or {0} != {0}) else {1})"

def _broadcast_error(*operands, **_):
    shapes = [x.shape for x in operands]
    try:
        xp.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(map(str, shapes[:-1])) + f" and {shapes[-1]}"
        return (f"shapes {listed} cannot be broadcast together (trailing dimensions must be "
                f"equal or 1); reshape or expand_dims the operand that differs")
    return None


# The rules call the primitives of this table with explicit parameters, and the operators
# of Tensor (``g * b``, ``-g``: installed by chainrule.ops, there whenever a rule runs). These
# few shape steps keep the shortcuts of chainrule.ops: no record when nothing changes.

def _reshaped(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else reshape(x, shape=shape)


def _broadcast(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else broadcast_to(x, shape=shape)


def _transposed(x, perm):
    return x if perm == tuple(range(x.ndim)) else transpose(x, perm=perm)


def _matrix_transpose(x):
    return transpose(x, perm=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _cast(x, dtype):
    return x if x.dtype == dtype else cast(x, dtype=dtype)


def _input_itself(x):
    return x


def _difference(a, b):
    return a - b


# Where the derivative of relu and abs, and of maximum and minimum, jumps.
_AT_ZERO = Kink(_input_itself, "its input is 0")
_AT_A_TIE = Kink(_difference, "its two inputs are equal")


# ONNX lowerings (``onnx=``): ``emit`` is chainrule.onnx's builder (see Primitive). Most ops
# are one ONNX operator; ONNX wants the operands of one op in one dtype, where NumPy promotes.

def _same_dtype(emit, xs, dtype=None):
    dtype = xp.result_type(*[x.dtype for x in xs]) if dtype is None else dtype
    return [x if x.dtype == dtype else emit("Cast", x, to=dtype) for x in xs]


def _onnx_op(op_type):
    """The lowering of an op that is the ONNX operator ``op_type`` on operands of one dtype."""
    def lower(emit, *xs, **attributes):
        return emit(op_type, *_same_dtype(emit, xs), **attributes)
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


def _int64s(emit, values):
    return emit.constant(list(values), xp.int64)


# -- element-wise arithmetic ---------------------------------------------------------------

def add_vjp(g, out, a, b):
    return g, g


def subtract_vjp(g, out, a, b):
    return g, -g


def multiply_vjp(g, out, a, b, needs):
    return (g * b if needs[0] else None), (g * a if needs[1] else None)


def divide_vjp(g, out, a, b, needs):
    ga = g / b
    return ga, (-ga * out if needs[1] else None)


def power_vjp(g, out, a, b, needs):
    ga = g * b * a ** (b - 1) if needs[0] else None
    gb = g * out * log(a) if needs[1] else None
    return ga, gb


def maximum_vjp(g, out, a, b):
    # At ties the first argument takes the gradient (TensorFlow's convention). Gradients
    # are routed by multiplying with a boolean mask: a select (np.where) on a data-dependent
    # mask is several times slower, being branchy.
    first = a >= b
    return g * first, g * logical_not(first)


def minimum_vjp(g, out, a, b):
    first = a <= b
    return g * first, g * logical_not(first)


def divide_onnx(emit, a, b):
    # NumPy's true division of integers gives float64; ONNX's Div of integers truncates.
    as_float = xp.result_type(a.dtype, b.dtype).kind in "biu"
    return emit("Div", *_same_dtype(emit, (a, b), xp.float64 if as_float else None))


add = defprimitive("add", xp.add, vjp=add_vjp, describe_error=_broadcast_error,
                   scalar="({0} + {1})", onnx=_onnx_op("Add"))
subtract = defprimitive("subtract", xp.subtract, vjp=subtract_vjp, describe_error=_broadcast_error,
                        scalar="({0} - {1})", onnx=_onnx_op("Sub"))
multiply = defprimitive("multiply", xp.multiply, vjp=multiply_vjp, describe_error=_broadcast_error,
                        scalar="({0} * {1})", onnx=_onnx_op("Mul"))
divide = defprimitive("divide", xp.true_divide, vjp=divide_vjp, describe_error=_broadcast_error,
                      scalar="({0} / {1})", onnx=divide_onnx)
power = defprimitive("power", xp.power, vjp=power_vjp, describe_error=_broadcast_error,
                     onnx=_onnx_op("Pow"))
maximum = defprimitive("maximum", xp.maximum, vjp=maximum_vjp, describe_error=_broadcast_error,
                       scalar=_MAX, kink=_AT_A_TIE, onnx=_onnx_op("Max"))
minimum = defprimitive("minimum", xp.minimum, vjp=minimum_vjp, describe_error=_broadcast_error,
                       scalar=_MIN, kink=_AT_A_TIE, onnx=_onnx_op("Min"))

# -- element-wise functions ----------------------------------------------------------------


def negative_vjp(g, out, x):
    return (-g,)


def exp_vjp(g, out, x):
    return (g * out,)


def expm1_forward(x):
    return kernels.expm1(x, xp.empty_like(x))


def expm1_kernel(x, out):
    return kernels.expm1(x, out)


def expm1_vjp(g, out, x):
    # d/dx (e^x - 1) = e^x = out + 1, from the result: no exp is computed again.
    return (g * (out + 1),)


def expm1_onnx(emit, x):
    # ONNX has no expm1; Exp then Sub loses the small inputs' digits in the exported model.
    return emit("Sub", emit("Exp", x), emit.constant(1, x.dtype))


def log_vjp(g, out, x):
    return (g / x,)


def sqrt_vjp(g, out, x):
    return (g / (2 * out),)


def abs_vjp(g, out, x):
    return (g * sign(x),)


def tanh_vjp(g, out, x):
    return (g * (1 - out * out),)


def sigmoid_forward(x):
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (xp.tanh(0.5 * x) + 1)


def sigmoid_vjp(g, out, x):
    return (g * out * (1 - out),)


def softplus_forward(x):
    # log(1 + exp(x)) without overflow for large x or underflow to 0 for very negative x.
    return xp.logaddexp(0, x)


def softplus_vjp(g, out, x):
    # Exactly sigmoid(x) everywhere, including x == 0; the composite
    # relu(x) + log(1 + exp(-|x|)) would give 0 there (the subgradients of relu and abs).
    return (g * sigmoid(x),)


def sigmoid_kernel(x, out):
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    xp.add(out, 1, out=out)
    return xp.multiply(out, 0.5, out=out)


def sigmoid_decompose(emit, x):
    # The forward's own steps, so the compiler can fuse the multiplications and the add
    # with their neighbours around the tanh.
    half = emit.constant(0.5, x.dtype)
    inner = emit(multiply, x, half)
    return emit(multiply, emit(add, emit(tanh, inner), emit.constant(1, x.dtype)), half)


def relu_forward(x):
    return xp.maximum(x, 0)


def relu_kernel(x, out):
    return xp.maximum(x, 0, out=out)


def relu_vjp(g, out, x):
    # The derivative at 0 is taken as 0, as TensorFlow and PyTorch do.
    return (relu_grad(g, out),)


def relu_grad_forward(g, y):
    """relu's VJP given its output ``y``: ``g`` where ``y > 0``, else 0 (times ``g``)."""
    return xp.multiply(g, y > 0)


def relu_grad_kernel(g, y, out):
    return xp.multiply(g, y > 0, out=out)


def relu_grad_vjp(gg, out, g, y):
    # Linear in g with the same mask; piecewise constant in y (its derivative is 0).
    return relu_grad(gg, y), None


def relu_grad_onnx(emit, g, y):
    positive = emit("Greater", y, emit.constant(0, y.dtype))
    return emit("Mul", g, emit("Cast", positive, to=g.dtype))


negative = defprimitive("negative", xp.negative, vjp=negative_vjp, scalar="(-{0})",
                        onnx=_onnx_op("Neg"))
exp = defprimitive("exp", xp.exp, vjp=exp_vjp, onnx=_onnx_op("Exp"))
expm1 = defprimitive("expm1", expm1_forward, vjp=expm1_vjp, kernel=expm1_kernel,
                     scalar="np.expm1({0})", onnx=expm1_onnx)
log = defprimitive("log", xp.log, vjp=log_vjp, onnx=_onnx_op("Log"))
sqrt = defprimitive("sqrt", xp.sqrt, vjp=sqrt_vjp, scalar="np.sqrt({0})", onnx=_onnx_op("Sqrt"))
abs = defprimitive("abs", xp.abs, vjp=abs_vjp, scalar="abs({0})", kink=_AT_ZERO,  # noqa: A001
                   onnx=_onnx_op("Abs"))
tanh = defprimitive("tanh", xp.tanh, vjp=tanh_vjp, onnx=_onnx_op("Tanh"))
sigmoid = defprimitive("sigmoid", sigmoid_forward, vjp=sigmoid_vjp, kernel=sigmoid_kernel,
                       decompose=sigmoid_decompose, logits_input=0, onnx=_onnx_op("Sigmoid"))
relu = defprimitive("relu", relu_forward, vjp=relu_vjp, kernel=relu_kernel,
                    scalar="({0} if ({0} > {zero} or {0} != {0}) else {zero})",
                    kink=_AT_ZERO, dead_when_zero=True, onnx=_onnx_op("Relu"))
relu_grad = defprimitive("relu_grad", relu_grad_forward, vjp=relu_grad_vjp,
                         kernel=relu_grad_kernel, scalar="({0} * ({one} if {1} > 0 else {zero}))",
                         operands=("result", "as_is"), onnx=relu_grad_onnx)
softplus = defprimitive("softplus", softplus_forward, vjp=softplus_vjp, onnx=_onnx_op("Softplus"))

# -- reductions (axis is None or a tuple of non-negative ints, fixed by the ops layer) -----


def _keepdims_shape(shape, axis):
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else d for i, d in enumerate(shape))


def reduce_sum_forward(x, axis, keepdims):
    return xp.sum(x, axis=axis, keepdims=keepdims)


def reduce_sum_vjp(g, out, x, axis, keepdims):
    if not keepdims and g.ndim:  # a scalar broadcasts as it is; no reshape needed
        g = _reshaped(g, _keepdims_shape(x.shape, axis))
    return (_broadcast(g, x.shape),)


def reduce_max_forward(x, axis, keepdims):
    return xp.max(x, axis=axis, keepdims=keepdims)


def reduce_min_forward(x, axis, keepdims):
    return xp.min(x, axis=axis, keepdims=keepdims)


def reduce_extreme_vjp(g, out, x, axis, keepdims):
    # The gradient is shared equally among the entries that reach the extreme value.
    kept = _keepdims_shape(x.shape, axis)
    if not keepdims:
        g, out = _reshaped(g, kept), _reshaped(out, kept)
    hit = _cast(equal(x, out), x.dtype)
    count = reduce_sum(hit, axis=axis, keepdims=True)
    return (g * hit / count,)


def _reduction_kernel(ufunc):
    # ufunc.reduce is what np.sum/np.max call, without their argument handling.
    def kernel(x, out, axis, keepdims):
        return ufunc.reduce(x, axis=axis, keepdims=keepdims, out=out)
    return kernel


def _reduction_onnx(op_type):
    def lower(emit, x, axis, keepdims):
        if x.ndim == 0:
            return emit("Identity", x)
        axes = range(x.ndim) if axis is None else axis
        return emit(op_type, x, _int64s(emit, axes), keepdims=int(keepdims))
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


reduce_sum = defprimitive("reduce_sum", reduce_sum_forward, vjp=reduce_sum_vjp,
                          kernel=_reduction_kernel(xp.add), onnx=_reduction_onnx("ReduceSum"),
                          sums=True)
reduce_max = defprimitive("reduce_max", reduce_max_forward, vjp=reduce_extreme_vjp,
                          kernel=_reduction_kernel(xp.maximum), onnx=_reduction_onnx("ReduceMax"))
reduce_min = defprimitive("reduce_min", reduce_min_forward, vjp=reduce_extreme_vjp,
                          kernel=_reduction_kernel(xp.minimum), onnx=_reduction_onnx("ReduceMin"))

# -- shapes and indexing ---------------------------------------------------------------------


def reshape_forward(x, shape):
    return xp.reshape(x, shape)


def reshape_vjp(g, out, x, shape):
    return (_reshaped(g, x.shape),)


def _reshape_error(x, shape):
    return f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape {shape}"


def transpose_forward(x, perm):
    return xp.transpose(x, perm)


def transpose_vjp(g, out, x, perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (_transposed(g, tuple(inverse)),)


def broadcast_to_forward(x, shape):
    return xp.broadcast_to(x, shape)


def broadcast_to_vjp(g, out, x, shape):
    return (g,)  # the tape sums g back to x's shape


def getitem_forward(x, index):
    return x[index]


def getitem_vjp(g, out, x, index):
    return (scatter_add(g, index=index, shape=x.shape),)


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


def scatter_add_forward(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices add up)."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g  # basic indexing never repeats an element
    else:
        xp.add.at(out, index, g)
    return out


def scatter_add_vjp(g, out, x, index, shape):
    return (getitem(g, index=index),)


def concat_forward(*xs, axis):
    return xp.concatenate(xs, axis=axis)


def concat_kernel(*xs, out, axis):
    return xp.concatenate(xs, axis=axis, out=out)


def concat_vjp(g, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        grads.append(getitem(g, index=(slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return tuple(grads)


def _concat_error(*xs, axis):
    return (f"tensors of shapes {[x.shape for x in xs]} cannot be joined along axis {axis}: "
            f"all other dimensions must match")


def reshape_onnx(emit, x, shape):
    # One dynamic dimension (None) is inferred (ONNX's -1); of several, those where x is
    # dynamic too are copied from x's same axis (ONNX's 0), as a batch is.
    target = [-1 if d is None else d for d in shape]
    if target.count(-1) > 1:
        target = [0 if d is None and i < x.ndim and x.shape[i] is None else t
                  for i, (d, t) in enumerate(zip(shape, target))]
        if target.count(-1) > 1:
            raise ValueError(f"reshape to {shape}: more than one dynamic dimension to infer")
    return emit("Reshape", x, _int64s(emit, target))


def transpose_onnx(emit, x, perm):
    return emit("Transpose", x, perm=list(perm))


def broadcast_to_onnx(emit, x, shape):
    # Expand broadcasts both ways, so a 1 keeps x's own (dynamic) dimension.
    lead = len(shape) - x.ndim
    for i, d in enumerate(shape):
        if d is None and (i < lead or x.shape[i - lead] is not None):
            raise ValueError(f"broadcast_to {shape} from {x.shape}: a dynamic dimension "
                             f"that the input does not have")
    return emit("Expand", x, _int64s(emit, [1 if d is None else d for d in shape]))


_INT64_MAX, _INT64_MIN = 2 ** 63 - 1, -2 ** 63


def getitem_onnx(emit, x, index):
    """Basic indexing (ints, slices, None, ...) as Slice, Squeeze and Unsqueeze; one integer
    array among full slices as Gather."""
    items = list(index) if isinstance(index, tuple) else [index]
    arrays = [i for i, item in enumerate(items) if isinstance(item, xp.ndarray)]
    if arrays:
        axis = arrays[0]
        if len(arrays) > 1 or items[axis].dtype.kind not in "iu" or any(
                item != slice(None) for i, item in enumerate(items) if i != axis):
            raise ValueError(f"getitem with the index {index!r}: only one integer array "
                             f"among full slices has an ONNX form")
        return emit("Gather", x, emit.constant(items[axis], xp.int64), axis=axis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        real = sum(item is not None for item in items) - 1
        items[at:at + 1] = [slice(None)] * (x.ndim - real)
    items += [slice(None)] * (x.ndim - sum(item is not None for item in items))
    starts, ends, axes, steps, squeeze, kept = [], [], [], [], [], []
    axis = 0
    for item in items:
        if item is None:
            kept.append(None)
            continue
        if isinstance(item, slice):
            if item != slice(None):
                step = 1 if item.step is None else item.step
                forward = step > 0
                starts.append(item.start if item.start is not None else 0 if forward else _INT64_MAX)
                ends.append(item.stop if item.stop is not None else _INT64_MAX if forward else _INT64_MIN)
                axes.append(axis)
                steps.append(step)
            kept.append(axis)
        else:  # an int: a slice of one, squeezed away
            i = int(item)
            starts.append(i)
            ends.append(i + 1 if i != -1 else _INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        axis += 1
    out = x
    if axes:
        out = emit("Slice", out, _int64s(emit, starts), _int64s(emit, ends), _int64s(emit, axes),
                   _int64s(emit, steps))
    if squeeze:
        out = emit("Squeeze", out, _int64s(emit, squeeze))
    new_axes = [i for i, item in enumerate(kept) if item is None]
    if new_axes:
        out = emit("Unsqueeze", out, _int64s(emit, new_axes))
    return out if out is not x else emit("Identity", x)


def scatter_add_onnx(emit, g, index, shape):
    # Every entry the index picks, as its position in the flattened result (repeats
    # included): ScatterElements adds each update there, the way add.at does.
    if any(d is None for d in shape):
        raise ValueError(f"scatter_add into the shape {shape}: a dynamic dimension has no "
                         f"ONNX form here; export with fixed sizes")
    positions = xp.arange(_size(shape), dtype=xp.int64).reshape(shape)[index]
    updates = emit("Expand", g, _int64s(emit, positions.shape))
    zeros = emit("Expand", emit.constant(0, g.dtype), _int64s(emit, [_size(shape)]))
    flat = emit("ScatterElements", zeros, emit.constant(positions.reshape(-1), xp.int64),
                emit("Reshape", updates, _int64s(emit, [-1])), axis=0, reduction="add")
    return emit("Reshape", flat, _int64s(emit, shape))


def concat_onnx(emit, *xs, axis):
    return emit("Concat", *_same_dtype(emit, xs), axis=axis)


reshape = defprimitive("reshape", reshape_forward, vjp=reshape_vjp, describe_error=_reshape_error,
                      onnx=reshape_onnx)
transpose = defprimitive("transpose", transpose_forward, vjp=transpose_vjp, onnx=transpose_onnx,
                        transposes=True)
broadcast_to = defprimitive("broadcast_to", broadcast_to_forward, vjp=broadcast_to_vjp,
                            onnx=broadcast_to_onnx)
getitem = defprimitive("getitem", getitem_forward, vjp=getitem_vjp, onnx=getitem_onnx)
scatter_add = defprimitive("scatter_add", scatter_add_forward, vjp=scatter_add_vjp,
                          onnx=scatter_add_onnx)


# pad: a constant border in one op (ZeroPadding, tf.pad's "CONSTANT" mode). Its border is
# no array of the graph, so a model padded this way keeps a dynamic batch when exported.

def pad_forward(x, paddings, value):
    return xp.pad(x, paddings, constant_values=value)


def pad_vjp(g, out, x, paddings, value):
    return (getitem(g, index=tuple(slice(lo, lo + n) for (lo, _), n in zip(paddings, x.shape))),)


def pad_onnx(emit, x, paddings, value):
    return emit("Pad", x, _int64s(emit, _pads_onnx(paddings)), emit.constant(value, x.dtype),
                mode="constant")


pad = defprimitive("pad", pad_forward, vjp=pad_vjp, onnx=pad_onnx)
concat = defprimitive("concat", concat_forward, vjp=concat_vjp, describe_error=_concat_error,
                      kernel=concat_kernel, onnx=concat_onnx)

# -- linear algebra --------------------------------------------------------------------------


def matmul_vjp(g, out, a, b, needs):
    ga = matmul(g, _matrix_transpose(b)) if needs[0] else None
    gb = matmul(_matrix_transpose(a), g) if needs[1] else None
    return ga, gb


def _matmul_error(a, b):
    if a.ndim < 2 or b.ndim < 2:
        return None
    if a.shape[-1] != b.shape[-2]:
        return (f"{a.shape} @ {b.shape}: inner dimensions {a.shape[-1]} and {b.shape[-2]} "
                f"differ (the last axis of the left operand must equal the second-to-last "
                f"of the right)")
    return f"{a.shape} @ {b.shape}: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast"


def matmul_kernel(a, b, out, scan=None, first=False):
    """The product into ``out``; ``scan``: a :class:`kernels.ColumnScan` shared by the
    products that read the same left operand (``first``: the one that starts it afresh)."""
    if first:
        scan.forget()
    return kernels.matmul(a, b, out=out, scan=scan)


def matmul_specialize(shapes, dtypes, scan=None, first=False):
    """A product that shares no column scan and is too small to search: ``np.matmul``."""
    if scan is not None:
        return None
    return kernels.matmul_for(shapes[0], shapes[1])


matmul = defprimitive("matmul", kernels.matmul, vjp=matmul_vjp, describe_error=_matmul_error,
                      kernel=matmul_kernel, specialize=matmul_specialize, onnx=_onnx_op("MatMul"),
                      product=True)


def dense_forward(x, kernel, bias):
    out = kernels.matmul(x, kernel)
    out += bias  # in place on the fresh product: one array instead of two
    return out


def dense_kernel(x, kernel, bias, out):
    kernels.matmul(x, kernel, out=out)
    return xp.add(out, bias, out=out)


def dense_decompose(emit, x, kernel, bias):
    return emit(add, emit(matmul, x, kernel), bias)


def dense_vjp(g, out, x, kernel, bias, needs):
    gx = matmul(g, _matrix_transpose(kernel)) if needs[0] else None
    gk = matmul(_matrix_transpose(x), g) if needs[1] else None
    gb = reduce_sum(g, axis=tuple(range(g.ndim - 1)), keepdims=False) if needs[2] else None
    return gx, gk, gb


def _dense_error(x, kernel, bias):
    return _matmul_error(x, kernel) if x.shape[-1] != kernel.shape[0] else None


def dense_onnx(emit, x, kernel, bias):
    x, kernel, bias = _same_dtype(emit, (x, kernel, bias))
    if x.ndim == 2:  # Gemm: the product and the bias in one operator
        return emit("Gemm", x, kernel, bias)
    return emit("Add", emit("MatMul", x, kernel), bias)


# A layer's `x @ kernel + bias` as one record: the bias gradient is one column sum instead
# of an add record plus the tape's unbroadcast, and the forward writes one array, not two.
dense = defprimitive("dense", dense_forward, vjp=dense_vjp, describe_error=_dense_error,
                     kernel=dense_kernel, decompose=dense_decompose, onnx=dense_onnx)

# -- selection, dtype, gradient control ------------------------------------------------------


def where_vjp(g, out, condition, x, y, needs):
    gx = g * condition if needs[1] else None
    gy = g * logical_not(condition) if needs[2] else None
    return None, gx, gy


def cast_forward(x, dtype):
    return x.astype(dtype, copy=False)


def cast_vjp(g, out, x, dtype):
    # Only a float-to-float cast carries a gradient; through an integer it is cut.
    if x.dtype.kind == "f" and out.dtype.kind == "f":
        return (_cast(g, x.dtype),)
    return (None,)


def cast_kernel(x, out, dtype):
    xp.copyto(out, x, casting="unsafe")  # what astype does
    return out


def where_kernel(condition, x, y, out):
    # Written so that out may be x or y (the compiler reuses a dying input's buffer).
    if out is x:
        xp.copyto(out, y, where=xp.logical_not(condition))
    else:
        if out is not y:
            xp.copyto(out, y)
        xp.copyto(out, x, where=condition)
    return out


def identity_forward(x):
    return x


def stop_gradient_vjp(g, out, x):
    return (None,)


def where_onnx(emit, condition, x, y):
    return emit("Where", *_same_dtype(emit, (condition,), xp.bool_), *_same_dtype(emit, (x, y)))


def cast_onnx(emit, x, dtype):
    return emit("Cast", x, to=dtype)


where = defprimitive("where", xp.where, vjp=where_vjp, describe_error=_broadcast_error,
                     kernel=where_kernel, scalar="({1} if {0} else {2})",
                     operands=("as_is", "result", "result"), onnx=where_onnx)
cast = defprimitive("cast", cast_forward, vjp=cast_vjp, kernel=cast_kernel, scalar="{0}",
                   cut_reason="`cast` to an integer dtype (integer values have no gradient)",
                   onnx=cast_onnx)
# stop_gradient has a VJP (returning None) so that the tape records where paths are cut.
stop_gradient = defprimitive("stop_gradient", identity_forward, vjp=stop_gradient_vjp,
                             cut_reason="`stop_gradient`, which cuts the gradient on purpose",
                             onnx=_onnx_op("Identity"))

# -- fused neural-network ops ----------------------------------------------------------------


def softmax_forward(x, axis):
    # Array methods rather than xp.max/xp.sum: on the small (batch, classes) arrays of a
    # training step the module functions' argument handling costs as much as the work.
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def softmax_vjp(g, out, x, axis):
    return (out * (g - reduce_sum(g * out, axis=(axis,), keepdims=True)),)


def log_softmax_forward(x, axis):
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def log_softmax_vjp(g, out, x, axis):
    return (g - exp(out) * reduce_sum(g, axis=(axis,), keepdims=True),)


def sparse_softmax_cross_entropy_forward(labels, logits):
    """Per-example ``-log softmax(logits)[label]`` over the last axis, computed stably."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_norm = xp.log(xp.exp(shifted).sum(axis=-1))
    if shifted.ndim == 2:  # (batch, classes): plain fancy indexing is several times faster
        picked = shifted[xp.arange(len(labels)), labels]
    else:
        picked = xp.take_along_axis(shifted, labels[..., None].astype(xp.intp), axis=-1)[..., 0]
    return log_norm - picked


def sparse_softmax_cross_entropy_vjp(g, out, labels, logits):
    # d loss / d logits = softmax(logits) - one_hot(label): exact, no clipping needed.
    probs = softmax(logits, axis=logits.ndim - 1)
    # The primitive itself: the labels were range-checked when the loss was computed.
    target = one_hot(labels, depth=logits.shape[-1], dtype=logits.dtype)
    return None, reshape(g, shape=tuple(g.shape) + (1,)) * (probs - target)


def _sparse_xent_error(labels, logits):
    if labels.shape != logits.shape[:-1]:
        return (f"labels of shape {labels.shape} must have the shape of logits {logits.shape} "
                f"without its last (class) axis, i.e. {logits.shape[:-1]}")
    return None


def softmax_kernel(x, out, axis):
    return kernels.softmax(x, out, axis)


def sparse_softmax_cross_entropy_kernel(labels, logits, out):
    if logits.ndim != 2:  # the loop is written for (batch, classes)
        out[...] = sparse_softmax_cross_entropy_forward(labels, logits)
        return out
    return kernels.softmax_cross_entropy(logits, labels, out)


def _softmax_onnx(op_type):
    def lower(emit, x, axis):
        return emit(op_type, x, axis=axis)
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


def sparse_softmax_cross_entropy_onnx(emit, labels, logits):
    log_probs = emit("LogSoftmax", logits, axis=-1)
    index = emit("Unsqueeze", emit("Cast", labels, to=xp.int64), _int64s(emit, [-1]))
    picked = emit("GatherElements", log_probs, index, axis=-1)
    return emit("Neg", emit("Squeeze", picked, _int64s(emit, [-1])))


softmax = defprimitive("softmax", softmax_forward, vjp=softmax_vjp, kernel=softmax_kernel,
                       logits_input=0, onnx=_softmax_onnx("Softmax"))
log_softmax = defprimitive("log_softmax", log_softmax_forward, vjp=log_softmax_vjp,
                           logits_input=0, onnx=_softmax_onnx("LogSoftmax"))
sparse_softmax_cross_entropy = defprimitive(
    "sparse_softmax_cross_entropy", sparse_softmax_cross_entropy_forward,
    vjp=sparse_softmax_cross_entropy_vjp, describe_error=_sparse_xent_error,
    kernel=sparse_softmax_cross_entropy_kernel, logits_input=1,
    onnx=sparse_softmax_cross_entropy_onnx)

# -- not differentiable: integer, boolean or piecewise-constant results -----------------------

_COMPARISON = "its result is boolean: a comparison is piecewise constant"


def _comparison(name, ufunc, symbol, onnx):
    return defprimitive(name, ufunc, why=_COMPARISON, describe_error=_broadcast_error,
                        scalar=f"({{0}} {symbol} {{1}})", operands="common", onnx=onnx)


def not_equal_onnx(emit, a, b):
    return emit("Not", emit("Equal", *_same_dtype(emit, (a, b))))


def _logical_onnx(op_type):
    def lower(emit, *xs):
        return emit(op_type, *_same_dtype(emit, xs, xp.bool_))
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


equal = _comparison("equal", xp.equal, "==", _onnx_op("Equal"))
not_equal = _comparison("not_equal", xp.not_equal, "!=", not_equal_onnx)
less = _comparison("less", xp.less, "<", _onnx_op("Less"))
less_equal = _comparison("less_equal", xp.less_equal, "<=", _onnx_op("LessOrEqual"))
greater = _comparison("greater", xp.greater, ">", _onnx_op("Greater"))
greater_equal = _comparison("greater_equal", xp.greater_equal, ">=", _onnx_op("GreaterOrEqual"))
_BOOLEAN = "its inputs and result are boolean"
logical_and = defprimitive("logical_and", xp.logical_and, why=_BOOLEAN, scalar="({0} and {1})",
                           onnx=_logical_onnx("And"))
logical_or = defprimitive("logical_or", xp.logical_or, why=_BOOLEAN, scalar="({0} or {1})",
                          onnx=_logical_onnx("Or"))
logical_not = defprimitive("logical_not", xp.logical_not, why=_BOOLEAN, scalar="(not {0})",
                           onnx=_logical_onnx("Not"))


def argmax_forward(x, axis):
    return xp.argmax(x, axis=axis).astype(xp.int64, copy=False)


def argmin_forward(x, axis):
    return xp.argmin(x, axis=axis).astype(xp.int64, copy=False)


def one_hot_forward(indices, depth, dtype):
    # One broadcast comparison; put_along_axis costs several times more on small batches.
    return (indices[..., None] == xp.arange(depth)).astype(dtype)


def one_hot_kernel(indices, out, depth, dtype):
    return xp.equal(indices[..., None], xp.arange(depth), out=out)  # 1 and 0 in out's dtype


def _arg_onnx(op_type):
    def lower(emit, x, axis):
        return emit(op_type, x, axis=axis, keepdims=0)  # the first of equal entries, as NumPy
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


def one_hot_onnx(emit, indices, depth, dtype):
    # The forward's own comparison (an index outside 0..depth-1 gives a row of zeros).
    column = emit("Unsqueeze", indices, _int64s(emit, [-1]))
    hit = emit("Equal", column, emit.constant(xp.arange(depth), indices.dtype))
    return emit("Cast", hit, to=dtype)


def floordiv_onnx(emit, a, b):
    # Division in float64 then floor: exact for the integers float64 holds (|n| < 2**53).
    dtype = xp.result_type(a.dtype, b.dtype)
    quotient = emit("Floor", emit("Div", *_same_dtype(emit, (a, b), xp.float64)))
    return emit("Cast", quotient, to=dtype)


def mod_onnx(emit, a, b):
    a, b = _same_dtype(emit, (a, b))
    if a.dtype.kind != "f":
        return emit("Mod", a, b)  # integers: the sign of the divisor, as NumPy
    # C's fmod has the sign of the dividend; NumPy moves a nonzero remainder of the other
    # sign by one divisor.
    rest = emit("Mod", a, b, fmod=1)
    zero = emit.constant(0, a.dtype)
    other_sign = emit("Not", emit("Equal", emit("Less", rest, zero), emit("Less", b, zero)))
    move = emit("And", emit("Not", emit("Equal", rest, zero)), other_sign)
    return emit("Where", move, emit("Add", rest, b), rest)


def random_forward(shape, dtype, seed, distribution, a, b):
    # A draw at every call, from the generator in use at that moment (so a replayed graph
    # draws afresh, exactly as eager code would, and set_seed applies).
    return rng.draw(shape, dtype, seed, distribution, a, b)


def _not_exported(why):
    """The ``onnx=`` of a primitive that has no faithful ONNX form: an export stops with
    ``why`` (the reason and what to do instead). ``refusal`` tells it from a lowering."""
    def refuse(emit, *inputs, **params):
        raise ValueError(why)
    refuse.refusal = why
    return refuse


# Noise as an op (random.uniform/normal, dropout's mask): a traced function then draws anew
# each time it runs, where noise made outside the ops would be frozen into the graph.
random = defprimitive("random", random_forward, stateful=True,
                      why="its result is random noise, not a function of any input",
                      onnx=_not_exported(
                          "random noise cannot be exported: it comes from chainrule's "
                          "generator, and ONNX's random operators would draw other numbers "
                          "than chainrule does. Export the inference pass (model.export does: "
                          "Dropout draws nothing there), or pass the noise in as an input"))

_INDEX = "its result is an integer index, which has no derivative"
argmax = defprimitive("argmax", argmax_forward, why=_INDEX, onnx=_arg_onnx("ArgMax"))
argmin = defprimitive("argmin", argmin_forward, why=_INDEX, onnx=_arg_onnx("ArgMin"))
one_hot = defprimitive("one_hot", one_hot_forward, why="its input is an integer index",
                       kernel=one_hot_kernel, onnx=one_hot_onnx)
sign = defprimitive("sign", xp.sign, why="it is piecewise constant (derivative 0 almost everywhere)",
                    onnx=_onnx_op("Sign"))
floor = defprimitive("floor", xp.floor, why="it is piecewise constant (derivative 0 almost everywhere)",
                     onnx=_onnx_op("Floor"))
round = defprimitive("round", xp.round, why="it is piecewise constant (derivative 0 almost everywhere)",  # noqa: A001
                     onnx=_onnx_op("Round"))  # both round half to even
floordiv = defprimitive("floordiv", xp.floor_divide, why="it is piecewise constant",
                        describe_error=_broadcast_error, onnx=floordiv_onnx)


def mod_vjp(g, out, a, b, needs):
    # a mod b = a - floor(a / b) * b, and floor is locally constant.
    return g, (-g * floor(a / b) if needs[1] else None)


mod = defprimitive("mod", xp.mod, vjp=mod_vjp, describe_error=_broadcast_error, onnx=mod_onnx)

# -- convolution and pooling -------------------------------------------------------------------
# Channels-last arrays: x is (batch, *spatial, channels), a kernel (*window, in/groups, out).
# An ungrouped convolution is one BLAS product over im2col rows (each window's entries copied
# once into a reused scratch array), and its input gradient one product followed by col2im;
# with numba, the copies, the col2im sums and pooling are loops of :mod:`.kernels` (two
# spatial axes, float32/64), otherwise NumPy reads the strided view of each window position
# and adds tap after tap, in the same order: the same numbers either way. Python loops run
# over the taps of a window (9 for a 3x3 kernel), never over pixels. Every forward takes
# ``out=`` and is its own ``kernel``, so the compiler plans the results' buffers.
# ``padding`` is explicit here, a (low, high) pair per spatial axis (the ops layer resolves
# "same" and "valid"). The three convolution primitives are bilinear and each one's rule is
# written with the other two (conv_transpose is conv's adjoint in its input, conv_filter_grad
# in its kernel), so derivatives of any order stay in these three; pooling's gradients are
# likewise pairs of adjoint primitives.


def _padded(x, padding, value=0):
    if not any(lo or hi for lo, hi in padding):
        return x
    return xp.pad(x, ((0, 0),) + tuple(padding) + ((0, 0),), constant_values=value)


def _window_count(size, window, stride, dilation):
    """How many window positions fit in ``size`` (padded) entries."""
    return (size - dilation * (window - 1) - 1) // stride + 1


def _windows(x, window, strides, dilation):
    """The read-only view ``(batch, *out, *window, channels)`` of padded ``x``: the entries
    each output position sees."""
    out = tuple(_window_count(n, k, s, d)
                for n, k, s, d in zip(x.shape[1:-1], window, strides, dilation))
    step = x.strides[1:-1]
    return xp.lib.stride_tricks.as_strided(
        x, (x.shape[0],) + out + tuple(window) + (x.shape[-1],),
        (x.strides[0],) + tuple(t * s for t, s in zip(step, strides))
        + tuple(t * d for t, d in zip(step, dilation)) + (x.strides[-1],),
        writeable=False)


def _fold(taps, spatial, strides, padding, dilation):
    """The adjoint of :func:`_windows` (col2im): ``taps`` is laid out as the windows,
    ``(batch, *out, *window, c)``; each value is added at the input position it was read
    from, and the padding cropped."""
    rank = len(spatial)
    batch, channels = taps.shape[0], taps.shape[-1]
    out, window = taps.shape[1:rank + 1], taps.shape[rank + 1:-1]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, padding))
    if tuple(strides) == tuple(window) and set(dilation) == {1}:
        # Windows side by side (pooling's default): the taps only need interleaving.
        order = (0,) + tuple(a for i in range(rank) for a in (1 + i, 1 + rank + i)) + (2 * rank + 1,)
        blocks = taps.transpose(order).reshape(
            (batch,) + tuple(o * k for o, k in zip(out, window)) + (channels,))
        if blocks.shape[1:-1] == padded:
            total = blocks
        else:
            total = xp.zeros((batch,) + padded + (channels,), taps.dtype)
            total[(slice(None),) + tuple(slice(0, n) for n in blocks.shape[1:-1])] = blocks
    else:
        total = xp.zeros((batch,) + padded + (channels,), taps.dtype)
        lead = (slice(None),) * (rank + 1)
        for tap in xp.ndindex(*window):
            reach = tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                          for k, d, s, o in zip(tap, dilation, strides, out))
            total[(slice(None),) + reach] += taps[lead + tap]
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, padding))
    return total[(slice(None),) + crop]


def _patches(x, window, strides, padding, dilation, groups):
    """im2col: ``(groups, batch * out, window * in_per_group)`` rows, one copy of ``x``'s
    windows, and the output's spatial shape."""
    view = _windows(_padded(x, padding), window, strides, dilation)
    rank = len(window)
    n, out = view.shape[0], view.shape[1:1 + rank]
    split = view.reshape(view.shape[:-1] + (groups, x.shape[-1] // groups))
    order = (2 * rank + 1, 0) + tuple(range(1, 2 * rank + 1)) + (2 * rank + 2,)
    rows = split.transpose(order).reshape(groups, n * _size(out), -1)
    return rows, out


def _size(shape):
    size = 1
    for d in shape:
        size *= int(d)
    return size


def _grouped_kernel(w, groups):
    """``(*window, in_per_group, out)`` as ``(groups, window * in_per_group, out_per_group)``."""
    return w.reshape(-1, groups, w.shape[-1] // groups).transpose(1, 0, 2)


def _grouped_rows(y, groups):
    """``(batch, *out, channels)`` as ``(groups, batch * out, channels_per_group)``."""
    return y.reshape(-1, groups, y.shape[-1] // groups).transpose(1, 0, 2)


def _products(a, b):
    """``a[i] @ b[i]`` for each group ``i``: 2-D products, which the BLAS runs several times
    faster than NumPy's stacked matmul on tall, thin operands such as im2col rows."""
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.stack([xp.matmul(x, y) for x, y in zip(a, b)])


def _ungrouped(products, lead):
    """``(groups, rows, per_group)`` back to ``(*lead, groups * per_group)``."""
    if products.shape[0] == 1:
        return products[0].reshape(lead + (products.shape[2],))
    return products.transpose(1, 0, 2).reshape(lead + (-1,))


def _out_spatial(x, window, strides, padding, dilation):
    return tuple(_window_count(n + lo + hi, k, s, d) for n, k, s, (lo, hi), d
                 in zip(x.shape[1:-1], window, strides, padding, dilation))


def _im2col(x, window, strides, padding, dilation):
    """``(batch * out, window * channels)`` rows, each window's entries copied once (by a
    numba loop, or from the strided view) into a scratch array that the next call reuses,
    and the output's spatial shape."""
    out = _out_spatial(x, window, strides, padding, dilation)
    buf = kernels.scratch("patches", (x.shape[0],) + out + tuple(window) + x.shape[-1:],
                          x.dtype)
    if kernels.patches(x, window, strides, padding, dilation, buf) is None:
        xp.copyto(buf, _windows(_padded(x, padding), window, strides, dilation))
    return buf.reshape(-1, _size(window) * x.shape[-1]), out


def _result(out, shape, dtype):
    return xp.empty(shape, dtype) if out is None else out


# The batch is taken a few images at a time, so that a product reads its im2col rows (or
# writes the taps that col2im adds up) while they are still in the cache: about this many
# bytes of rows per slice. Measured on the chapter-8 and a 3x3 "same" convnet's middle
# layers: 25-35% faster than one product over the whole batch's rows.
_CHUNK_BYTES = 1 << 20


def _slices(batch, image_bytes):
    step = max(1, min(batch, _CHUNK_BYTES // max(image_bytes, 1)))
    return [slice(s, min(s + step, batch)) for s in range(0, batch, step)]


def conv_forward(x, w, strides, padding, dilation, groups, out=None):
    """The N-d cross-correlation of ``x`` with ``w`` (TensorFlow's and Keras's ``conv``),
    into ``out`` when given (the compiled executor's planned buffer).

    Ungrouped, it is a product per slice of the batch: the slice's im2col rows ``(images *
    out, window * in)`` times the kernel seen as ``(window * in, filters)``, whose result is
    already channels-last."""
    if groups == 1:
        window, filters = w.shape[:-2], w.shape[-1]
        spatial = _out_spatial(x, window, strides, padding, dilation)
        out = _result(out, (x.shape[0],) + spatial + (filters,), xp.result_type(x, w))
        kernel = w.reshape(-1, filters)
        for part in _slices(x.shape[0], _size(spatial) * w[..., 0].size * x.itemsize):
            rows, _ = _im2col(x[part], window, strides, padding, dilation)
            kernels.product(rows, kernel, out[part].reshape(-1, filters))
        return out
    rows, spatial = _patches(x, w.shape[:-2], strides, padding, dilation, groups)
    y = _ungrouped(_products(rows, _grouped_kernel(w, groups)), (x.shape[0],) + spatial)
    if out is None:
        return y
    xp.copyto(out, y)
    return out


def conv_transpose_forward(y, w, strides, padding, dilation, groups, spatial, out=None):
    """The adjoint of ``conv`` in its input: ``y`` of conv's output shape back to an input
    of ``spatial`` shape (TensorFlow's ``conv2d_transpose``, a convolution's input gradient).

    Per slice of the batch, one product, ``y`` as rows times the kernel's transpose, gives
    every tap's contribution (the im2col layout); col2im (:func:`kernels.fold`) adds them up
    where they belong."""
    window = w.shape[:-2]
    per_group = w.shape[-2]
    shape = (y.shape[0],) + tuple(spatial) + (groups * per_group,)
    if groups == 1:
        out = _result(out, shape, xp.result_type(y, w))
        kernel_t = w.reshape(-1, w.shape[-1]).T
        image = _size(y.shape[1:-1])
        for part in _slices(y.shape[0], image * kernel_t.shape[1] * out.itemsize):
            piece = y[part]
            cols = kernels.scratch("taps", (piece.shape[0] * image, kernel_t.shape[1]),
                                   out.dtype)
            kernels.product(piece.reshape(-1, piece.shape[-1]), kernel_t, cols)
            _fold_into(cols.reshape(piece.shape[:-1] + tuple(window) + (per_group,)),
                       spatial, strides, padding, dilation, out[part])
        return out
    lead = y.shape[:-1]
    cols = _products(_grouped_rows(y, groups), _grouped_kernel(w, groups).transpose(0, 2, 1))
    # (groups, batch * out, window * in_g) -> (batch, *out, *window, groups * in_g), the
    # layout of the windows
    cols = cols.reshape(groups, -1, _size(window), per_group).transpose(1, 2, 0, 3)
    taps = cols.reshape(lead + tuple(window) + (groups * per_group,))
    out = _result(out, shape, taps.dtype)
    _fold_into(taps, spatial, strides, padding, dilation, out)
    return out


def _fold_into(taps, spatial, strides, padding, dilation, out):
    if kernels.fold(taps, strides, padding, dilation, out) is None:
        xp.copyto(out, _fold(taps, spatial, strides, padding, dilation))


def conv_filter_grad_forward(x, g, strides, padding, dilation, groups, window, out=None):
    """The adjoint of ``conv`` in its kernel: the kernel gradient for upstream ``g``.
    Ungrouped, a product per slice of the batch, the slice's im2col rows transposed times
    its ``g`` as rows, which is already the kernel's layout ``(*window, in, filters)``; the
    slices' products added up in order."""
    per_group = x.shape[-1] // groups
    if groups == 1:
        filters = g.shape[-1]
        out = _result(out, tuple(window) + (per_group, filters), xp.result_type(x, g))
        total = out.reshape(-1, filters)
        total[...] = 0  # an empty batch has no slice: its gradient is zero
        image = _size(g.shape[1:-1]) * total.shape[0] * out.itemsize
        for n, part in enumerate(_slices(x.shape[0], image)):
            rows, _ = _im2col(x[part], window, strides, padding, dilation)
            rows_g = g[part].reshape(-1, filters)
            if n == 0:
                kernels.product(rows.T, rows_g, total)
            else:
                partial = kernels.scratch("filter", total.shape, out.dtype)
                kernels.product(rows.T, rows_g, partial)
                xp.add(total, partial, out=total)
        return out
    rows, _ = _patches(x, window, strides, padding, dilation, groups)
    grad = _products(rows.transpose(0, 2, 1), _grouped_rows(g, groups))
    # (groups, window * in_g, out_g) -> (*window, in_g, groups * out_g)
    grad = grad.reshape(groups, -1, per_group, grad.shape[-1]).transpose(1, 2, 0, 3)
    grad = grad.reshape(tuple(window) + (per_group, -1))
    if out is None:
        return grad
    xp.copyto(out, grad)
    return out


def _conv_params(strides, padding, dilation, groups):
    return dict(strides=strides, padding=padding, dilation=dilation, groups=groups)


def _spatial(x):
    return tuple(int(d) for d in x.shape[1:-1])


def conv_vjp(g, out, x, w, needs, strides, padding, dilation, groups):
    p = _conv_params(strides, padding, dilation, groups)
    gx = conv_transpose(g, w, spatial=_spatial(x), **p) if needs[0] else None
    gw = conv_filter_grad(x, g, window=tuple(w.shape[:-2]), **p) if needs[1] else None
    return gx, gw


def conv_transpose_vjp(g, out, y, w, needs, strides, padding, dilation, groups, spatial):
    p = _conv_params(strides, padding, dilation, groups)
    gy = conv(g, w, **p) if needs[0] else None
    gw = conv_filter_grad(g, y, window=tuple(w.shape[:-2]), **p) if needs[1] else None
    return gy, gw


def conv_filter_grad_vjp(h, out, x, g, needs, strides, padding, dilation, groups, window):
    p = _conv_params(strides, padding, dilation, groups)
    gx = conv_transpose(g, h, spatial=_spatial(x), **p) if needs[0] else None
    gg = conv(x, h, **p) if needs[1] else None
    return gx, gg


# ONNX's Conv, ConvTranspose and pooling read channels-first data, (batch, channels,
# *spatial), and kernels as (out, in / groups, *window): a Transpose on each side (a kernel
# that is an initializer is folded by the runtime). Padding stays explicit ("pads": every
# axis's low side, then every high side), so "SAME" means here what it means to chainrule.

def _channels_first_onnx(emit, x):
    rank = x.ndim - 2
    return emit("Transpose", x, perm=[0, rank + 1] + list(range(1, rank + 1)))


def _channels_last_onnx(emit, y, rank):
    return emit("Transpose", y, perm=[0] + list(range(2, rank + 2)) + [1])


def _kernel_onnx(emit, w):
    rank = w.ndim - 2
    return emit("Transpose", w, perm=[rank + 1, rank] + list(range(rank)))


def _pads_onnx(padding):
    return [lo for lo, _ in padding] + [hi for _, hi in padding]


def conv_onnx(emit, x, w, strides, padding, dilation, groups):
    x, w = _same_dtype(emit, (x, w))
    y = emit("Conv", _channels_first_onnx(emit, x), _kernel_onnx(emit, w),
             strides=list(strides), pads=_pads_onnx(padding), dilations=list(dilation),
             group=groups)
    return _channels_last_onnx(emit, y, len(strides))


def conv_transpose_onnx(emit, y, w, strides, padding, dilation, groups, spatial):
    # ConvTranspose's kernel layout is (in, out / groups, *window) of its own direction,
    # which is conv's (out, in / groups, *window): the same Transpose as conv's. Rows a
    # stride left unread at conv's high end come back as output_padding.
    if any(d is None for d in y.shape[1:-1]) or any(d is None for d in w.shape[:-2]):
        raise ValueError("conv_transpose: a dynamic spatial dimension has no ONNX form "
                         "here; give the spatial sizes")
    extra = [n - (s * (m - 1) + d * (k - 1) + 1 - lo - hi) for n, m, k, s, d, (lo, hi)
             in zip(spatial, y.shape[1:-1], w.shape[:-2], strides, dilation, padding)]
    y, w = _same_dtype(emit, (y, w))
    x = emit("ConvTranspose", _channels_first_onnx(emit, y), _kernel_onnx(emit, w),
             strides=list(strides), pads=_pads_onnx(padding), dilations=list(dilation),
             group=groups, output_padding=extra)
    return _channels_last_onnx(emit, x, len(strides))


# Each forward is its own kernel (``out=``): the compiler plans their results' buffers and
# fuses the bias and activation that follow a convolution into one loop over its output.
conv = defprimitive("conv", conv_forward, vjp=conv_vjp, kernel=conv_forward, onnx=conv_onnx)
conv_transpose = defprimitive("conv_transpose", conv_transpose_forward, vjp=conv_transpose_vjp,
                              kernel=conv_transpose_forward, onnx=conv_transpose_onnx)
conv_filter_grad = defprimitive("conv_filter_grad", conv_filter_grad_forward,
                                vjp=conv_filter_grad_vjp, kernel=conv_filter_grad_forward)


def _lowest(dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _pooled_shape(x, window, strides, padding):
    return (x.shape[0],) + _out_spatial(x, window, strides, padding, (1,) * len(window)) \
        + x.shape[-1:]


def _running_max(taps, out=None):
    # Tap after tap: several times faster than .max over the window axes of the view.
    top = taps[0].copy() if out is None else out
    if out is not None:
        xp.copyto(top, taps[0])
    for tap in taps[1:]:
        xp.maximum(top, tap, out=top)
    return top


def max_pool_forward(x, window, strides, padding, out=None):
    out = _result(out, _pooled_shape(x, window, strides, padding), x.dtype)
    if kernels.max_pool(x, window, strides, padding, out) is None:
        _running_max(_pool_taps(x, window, strides, padding, _lowest(x.dtype)), out)
    return out


def _pool_taps(x, window, strides, padding, value):
    """One read-only view ``(batch, *out, channels)`` per window position (tap) of padded
    ``x``, in row-major order."""
    rank = len(window)
    view = _windows(_padded(x, padding, value), window, strides, (1,) * rank)
    lead = (slice(None),) * (rank + 1)
    return [view[lead + tap] for tap in xp.ndindex(*window)]


def _argmax_tap(x, window, strides, padding):
    """Which tap of each window holds its maximum (the first, at a tie, as TensorFlow)."""
    taps = _pool_taps(x, window, strides, padding, _lowest(x.dtype))
    top = _running_max(taps)
    # Last tap to first, each that reaches the maximum takes the index: the first one wins.
    # Arithmetic on whole arrays; a masked copy (copyto where=) is several times slower.
    hit = xp.full(top.shape, len(taps) - 1, xp.int32)
    for k in range(len(taps) - 2, -1, -1):
        hit -= (taps[k] == top) * (hit - k)
    return hit


def max_pool_scatter_forward(x, g, window, strides, padding, out=None):
    """``g`` (pooled shape) placed at the maximum of each window of ``x`` (shape of ``x``);
    a numba loop finds each maximum and places its value in one pass."""
    out = _result(out, x.shape, g.dtype)
    if kernels.max_pool_scatter(x, g, window, strides, padding, out) is not None:
        return out
    hit = _argmax_tap(x, window, strides, padding)
    rank = len(window)
    taps = xp.empty(g.shape[:-1] + tuple(window) + g.shape[-1:], g.dtype)
    for k, tap in enumerate(xp.ndindex(*window)):
        xp.multiply(g, hit == k, out=taps[(slice(None),) * (rank + 1) + tap])
    xp.copyto(out, _fold(taps, x.shape[1:-1], strides, padding, (1,) * rank))
    return out


def max_pool_gather_forward(x, h, window, strides, padding):
    """``h`` (shape of ``x``) read at the maximum of each window of ``x`` (pooled shape)."""
    hit = _argmax_tap(x, window, strides, padding)
    taps = _pool_taps(h, window, strides, padding, 0)
    picked = taps[0].copy()
    for k, tap in enumerate(taps[1:], 1):
        xp.copyto(picked, tap, where=hit == k)
    return picked


def _pool_params(window, strides, padding):
    return dict(window=window, strides=strides, padding=padding)


def max_pool_vjp(g, out, x, window, strides, padding):
    return (max_pool_scatter(x, g, **_pool_params(window, strides, padding)),)


def max_pool_scatter_vjp(h, out, x, g, window, strides, padding):
    # Linear in g; in x piecewise constant (which entry is the maximum), derivative 0.
    return None, max_pool_gather(x, h, **_pool_params(window, strides, padding))


def max_pool_gather_vjp(g, out, x, h, window, strides, padding):
    return None, max_pool_scatter(x, g, **_pool_params(window, strides, padding))


def _pool_onnx(op_type, **attributes):
    """A pooling op as ONNX's ``op_type`` on channels-first data. Padding never enters a
    window's maximum or average in either (count_include_pad=0 divides by the real entries,
    as avg_pool does)."""
    def lower(emit, x, window, strides, padding):
        y = emit(op_type, _channels_first_onnx(emit, x), kernel_shape=list(window),
                 strides=list(strides), pads=_pads_onnx(padding), **attributes)
        return _channels_last_onnx(emit, y, len(window))
    lower.__name__ = lower.__qualname__ = f"{op_type}_onnx"
    return lower


_WHICH_MAXIMUM = ("`max_pool`'s routing: which entry of a window is its maximum does not "
                  "change under a small step, so that input carries no gradient")
max_pool = defprimitive("max_pool", max_pool_forward, vjp=max_pool_vjp, kernel=max_pool_forward,
                      onnx=_pool_onnx("MaxPool"))
max_pool_scatter = defprimitive("max_pool_scatter", max_pool_scatter_forward,
                                vjp=max_pool_scatter_vjp, cut_reason=_WHICH_MAXIMUM,
                                kernel=max_pool_scatter_forward)
max_pool_gather = defprimitive("max_pool_gather", max_pool_gather_forward,
                               vjp=max_pool_gather_vjp, cut_reason=_WHICH_MAXIMUM)


def _window_sizes(spatial, window, strides, padding, dtype):
    """How many real (unpadded) entries each window covers, shaped ``(*out, 1)``: average
    pooling divides by it, as TensorFlow does under "same" padding."""
    counts = xp.ones((), dtype)
    for axis, (n, k, s, (lo, hi)) in enumerate(zip(spatial, window, strides, padding)):
        start = xp.arange(_window_count(n + lo + hi, k, s, 1)) * s - lo
        sizes = xp.minimum(start + k, n) - xp.maximum(start, 0)
        counts = counts * sizes.astype(dtype).reshape((-1,) + (1,) * (len(window) - axis))
    return counts


def avg_pool_forward(x, window, strides, padding, out=None):
    """Each window's sum, tap after tap (in the same order with or without numba), over the
    number of real entries it covers."""
    sizes = _window_sizes(x.shape[1:-1], window, strides, padding, x.dtype)
    dtype = x.dtype if x.dtype.kind == "f" else xp.dtype(xp.float64)  # NumPy's true division
    out = _result(out, _pooled_shape(x, window, strides, padding), dtype)
    if kernels.window_sums(x, window, strides, padding, sizes[..., 0], out) is None:
        out[...] = 0
        for tap in _pool_taps(x, window, strides, padding, 0):
            xp.add(out, tap, out=out)
        xp.divide(out, sizes, out=out)
    return out


def avg_pool_transpose_forward(g, window, strides, padding, spatial, out=None):
    """The adjoint of ``avg_pool``: each pooled value shared out over its window."""
    sizes = _window_sizes(spatial, window, strides, padding, g.dtype)
    out = _result(out, g.shape[:1] + tuple(spatial) + g.shape[-1:], g.dtype)
    if kernels.window_shares(g, window, strides, padding, sizes[..., 0], out) is not None:
        return out
    share = g / sizes
    rank = len(window)
    taps = xp.broadcast_to(share.reshape(share.shape[:-1] + (1,) * rank + share.shape[-1:]),
                           share.shape[:-1] + tuple(window) + share.shape[-1:])
    xp.copyto(out, _fold(taps, spatial, strides, padding, (1,) * rank))
    return out


def avg_pool_vjp(g, out, x, window, strides, padding):
    return (avg_pool_transpose(g, spatial=_spatial(x), **_pool_params(window, strides, padding)),)


def avg_pool_transpose_vjp(h, out, g, window, strides, padding, spatial):
    return (avg_pool(h, **_pool_params(window, strides, padding)),)


avg_pool = defprimitive("avg_pool", avg_pool_forward, vjp=avg_pool_vjp, kernel=avg_pool_forward,
                      onnx=_pool_onnx("AveragePool", count_include_pad=0))
avg_pool_transpose = defprimitive("avg_pool_transpose", avg_pool_transpose_forward,
                                  vjp=avg_pool_transpose_vjp, kernel=avg_pool_transpose_forward)


# -- row lookups (embeddings) ------------------------------------------------------------------
# ``take_rows`` reads rows of a table at integer indices that are an input (data), not a static
# parameter as in ``getitem``: a traced step then looks up each batch's own indices. Its rule
# adds the gradient rows back where they were read (``scatter_rows``); the pair are each
# other's adjoints in the table argument, so derivatives of any order stay in these two.

def _checked_rows(indices, rows):
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers; received dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"index {int(bad)} is out of range for a table of {rows} rows "
                         f"(valid indices are 0 to {rows - 1})")
    return indices


def take_rows_forward(table, indices):
    """``table[indices]``: one row of ``table`` per index, in the indices' shape."""
    return xp.take(table, _checked_rows(indices, table.shape[0]), axis=0)


def scatter_rows_forward(g, indices, rows):
    """Zeros of ``(rows, *g.shape[indices.ndim:])`` with each row of ``g`` added at its
    index (an index read twice gets both rows)."""
    _checked_rows(indices, rows)
    row_shape = g.shape[indices.ndim:]
    out = xp.zeros((rows,) + row_shape, g.dtype)
    xp.add.at(out, indices.reshape(-1), g.reshape((-1,) + row_shape))
    return out


def take_rows_vjp(g, out, table, indices):
    return scatter_rows(g, indices, rows=int(table.shape[0])), None


def scatter_rows_vjp(h, out, g, indices, rows):
    return take_rows(h, indices), None


def take_rows_onnx(emit, table, indices):
    return emit("Gather", table, indices, axis=0)


_INDICES = "the indices are integers, which have no derivative"
take_rows = defprimitive("take_rows", take_rows_forward, vjp=take_rows_vjp, cut_reason=_INDICES,
                         onnx=take_rows_onnx)
scatter_rows = defprimitive("scatter_rows", scatter_rows_forward, vjp=scatter_rows_vjp,
                            cut_reason=_INDICES)


# -- image resampling (augmentation) -----------------------------------------------------------
# ``image_transform`` resamples a batch of channels-last images, each through its own
# projective transform given as data (drawn at random by the augmentation layers, so a traced
# step draws new ones each run). A transform is 8 numbers (a0, a1, a2, b0, b1, b2, c0, c1): the
# output pixel at column x, row y reads the input at ((a0 x + a1 y + a2) / k,
# (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, the layout TensorFlow's and Keras's image
# transforms use. Interpolation reads whole pixels; one outside the image is brought back by
# ``fill_mode``, as Keras's backends do: "reflect" (d c b a | a b c d | d c b a), "wrap"
# (a b c d | a b c d), "nearest" (the border pixel) or "constant" (``fill_value``).

def _fill_index(i, size, fill_mode):
    """Integer pixel indices brought into ``[0, size)`` (for "constant", only clipped: the
    caller masks them)."""
    if fill_mode == "reflect":
        i = xp.mod(i, 2 * size)
        return xp.where(i < size, i, 2 * size - 1 - i)
    if fill_mode == "wrap":
        return xp.mod(i, size)
    return xp.clip(i, 0, size - 1)


def image_transform_forward(images, transforms, interpolation, fill_mode, fill_value):
    batch, height, width, _ = images.shape
    transforms = transforms.astype(xp.float64 if images.dtype == xp.float64 else xp.float32)
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    y, x = xp.meshgrid(xp.arange(height, dtype=transforms.dtype),
                       xp.arange(width, dtype=transforms.dtype), indexing="ij")
    k = c0 * x + c1 * y + 1
    src_x, src_y = (a0 * x + a1 * y + a2) / k, (b0 * x + b1 * y + b2) / k
    which = xp.arange(batch)[:, None, None]
    fill = xp.asarray(fill_value, images.dtype)

    def read(rows, cols):
        """The pixels at integer ``rows``, ``cols`` (batch, height, width), filled."""
        pixels = images[which, _fill_index(rows, height, fill_mode),
                        _fill_index(cols, width, fill_mode)]
        if fill_mode != "constant":
            return pixels
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        return xp.where(inside[..., None], pixels, fill)

    if interpolation == "nearest":  # (rint: halves to even, as the backends round)
        return read(xp.rint(src_y).astype(xp.intp), xp.rint(src_x).astype(xp.intp))
    y0, x0 = xp.floor(src_y), xp.floor(src_x)
    wy, wx = (src_y - y0)[..., None], (src_x - x0)[..., None]
    y0, x0 = y0.astype(xp.intp), x0.astype(xp.intp)
    top = read(y0, x0) * (1 - wx) + read(y0, x0 + 1) * wx
    bottom = read(y0 + 1, x0) * (1 - wx) + read(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).astype(images.dtype, copy=False)


image_transform = defprimitive(
    "image_transform", image_transform_forward,
    why="an augmentation's resampling is applied to data: it carries no gradient (put random "
        "augmentation layers before the layers that have weights)")
