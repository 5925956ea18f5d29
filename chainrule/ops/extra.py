"""More of TensorFlow's ops, each a composition of primitives (so each differentiates,
captures into graphs and nests like the primitives it is built from): products, scans,
norms and clipping, padding, ``einsum``, linear solves, and TensorFlow's activation
functions."""

import builtins
import math as _math
import numbers

import numpy as np

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._convert import (binary_args, convert_to_tensor, normalize_axes, normalize_axis,
                       same_shape_tensors, tensor_arg)
from .array import concat, getitem, one_hot, reshape, transpose, where
from .linalg import matmul
from .math import (
    abs, argmax, cast, equal, greater, log, maximum, minimum, not_equal, reduce_max,
    reduce_mean, reduce_sum, relu, sigmoid, softplus, sqrt, tanh,
)
from .special import erf, expm1

__all__ = [
    "reduce_prod", "reduce_any", "reduce_all", "reduce_variance", "reduce_std",
    "reduce_euclidean_norm", "count_nonzero", "cumsum", "cumprod", "add_n", "ceil", "rsqrt",
    "squared_difference", "divide_no_nan", "xlogy", "is_nan", "is_inf", "is_finite",
    "norm", "global_norm", "clip_by_norm", "clip_by_global_norm", "pad", "einsum",
    "solve", "inv", "det", "diag_part", "trace", "elu", "selu", "gelu", "leaky_relu", "relu6", "silu", "swish",
    "softsign", "log_sigmoid", "l2_normalize", "moments", "l2_loss", "bias_add",
    "sigmoid_cross_entropy_with_logits",
]


# -- reductions and scans ------------------------------------------------------------------

def _to_last(x, axes):
    """``x`` with ``axes`` moved to the end and merged into one: ``(kept..., n)``."""
    kept = [i for i in builtins.range(x.ndim) if i not in axes]
    moved = transpose(x, kept + list(axes))
    n = 1
    for a in axes:
        n *= x.shape[a]
    return reshape(moved, tuple(x.shape[i] for i in kept) + (n,)), kept


def _restore(out, x, axes, keepdims):
    if keepdims:
        return reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return out


def reduce_prod(input_tensor, axis=None, keepdims=False):
    """The product over ``axis`` (all axes when None). Computed as a tree of pairwise
    products, so the gradient is exact even where an entry is zero."""
    x = tensor_arg(input_tensor)
    axes = normalize_axes(axis, x.ndim, "reduce_prod")
    axes = tuple(builtins.range(x.ndim)) if axes is None else axes
    flat, _ = _to_last(x, axes)
    n = flat.shape[-1]
    if n == 0:
        return _restore(Tensor._wrap(xp.ones(flat.shape[:-1], x.dtype)), x, axes, keepdims)
    while n > 1:
        if n % 2:
            flat = concat([flat, Tensor._wrap(xp.ones(flat.shape[:-1] + (1,), x.dtype))], -1)
        flat = getitem(flat, (Ellipsis, slice(0, None, 2))) * getitem(flat, (Ellipsis, slice(1, None, 2)))
        n = flat.shape[-1]
    return _restore(reshape(flat, flat.shape[:-1]), x, axes, keepdims)


def _as_bool(x):
    x = tensor_arg(x)
    return x if x.dtype == dtypes.bool_ else not_equal(x, 0)


def reduce_any(input_tensor, axis=None, keepdims=False):
    """Logical or over ``axis``."""
    return cast(reduce_max(cast(_as_bool(input_tensor), "int8"), axis, keepdims), "bool")


def reduce_all(input_tensor, axis=None, keepdims=False):
    """Logical and over ``axis``."""
    return cast(_reduce_min_int(_as_bool(input_tensor), axis, keepdims), "bool")


def _reduce_min_int(b, axis, keepdims):
    from .math import reduce_min
    return reduce_min(cast(b, "int8"), axis, keepdims)


def count_nonzero(input, axis=None, keepdims=False, dtype="int64"):  # noqa: A002
    """How many entries along ``axis`` are not zero (not False)."""
    return cast(reduce_sum(cast(_as_bool(input), "int32"), axis, keepdims), dtype)


def reduce_variance(input_tensor, axis=None, keepdims=False):
    """The (population) variance over ``axis``."""
    x = tensor_arg(input_tensor)
    centred = x - reduce_mean(x, axis, keepdims=True)
    return reduce_mean(centred * centred, axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False):
    """The (population) standard deviation over ``axis``."""
    return sqrt(reduce_variance(input_tensor, axis, keepdims))


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False):
    """``sqrt(sum(x ** 2))`` over ``axis``."""
    x = tensor_arg(input_tensor)
    return sqrt(reduce_sum(x * x, axis, keepdims))


def _scan(x, axis, exclusive, reverse, combine, unit, op):
    """An inclusive scan by doubling (Hillis and Steele): log2(n) shifted combinations."""
    x = tensor_arg(x)
    axis = normalize_axis(axis, x.ndim, op)
    n = x.shape[axis]

    def along(index):
        return (slice(None),) * axis + (index,)

    if reverse:
        x = getitem(x, along(slice(None, None, -1)))
    if exclusive and n:
        fill_shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
        x = concat([Tensor._wrap(xp.full(fill_shape, unit, x.dtype)),
                    getitem(x, along(slice(0, n - 1)))], axis)
    shift = 1
    while shift < n:
        fill_shape = x.shape[:axis] + (shift,) + x.shape[axis + 1:]
        shifted = concat([Tensor._wrap(xp.full(fill_shape, unit, x.dtype)),
                          getitem(x, along(slice(0, n - shift)))], axis)
        x = combine(x, shifted)
        shift *= 2
    if reverse:
        x = getitem(x, along(slice(None, None, -1)))
    return x


def cumsum(x, axis=0, exclusive=False, reverse=False):
    """Running sums along ``axis`` (``tf.math.cumsum``)."""
    return _scan(x, axis, exclusive, reverse, lambda a, b: a + b, 0, "cumsum")


def cumprod(x, axis=0, exclusive=False, reverse=False):
    """Running products along ``axis`` (``tf.math.cumprod``)."""
    return _scan(x, axis, exclusive, reverse, lambda a, b: a * b, 1, "cumprod")


def add_n(inputs):
    """The element-wise sum of a list of tensors of one shape and dtype."""
    inputs = same_shape_tensors(inputs, "add_n")
    total = inputs[0]
    for t in inputs[1:]:
        total = total + t
    return total


# -- element-wise --------------------------------------------------------------------------

def ceil(x):
    """The smallest integer not below ``x`` (no gradient: piecewise constant)."""
    from .math import floor
    return -floor(-tensor_arg(x))


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return 1 / sqrt(x)


def squared_difference(x, y):
    """``(x - y) ** 2``."""
    d = tensor_arg(x) - y if isinstance(x, Tensor) else x - tensor_arg(y)
    return d * d


def divide_no_nan(x, y):
    """``x / y``, with 0 where ``y`` is 0."""
    x, y = binary_args("divide_no_nan", x, y)
    zero = equal(y, 0)
    return where(zero, 0 * x * y, x / where(zero, 1, y))


def xlogy(x, y):
    """``x * log(y)``, with 0 where ``x`` is 0."""
    x, y = binary_args("xlogy", x, y)
    zero = equal(x, 0)
    return where(zero, 0 * x * y, x * log(where(zero, 1, y)))


def is_nan(x):
    """Where ``x`` is NaN (NaN is the one value not equal to itself)."""
    x = tensor_arg(x)
    return not_equal(x, x)


def is_inf(x):
    """Where ``x`` is +inf or -inf."""
    return equal(abs(tensor_arg(x)), _math.inf)


def is_finite(x):
    """Where ``x`` is neither infinite nor NaN (NaN compares false with everything)."""
    from .math import less
    return less(abs(tensor_arg(x)), _math.inf)


# -- norms and clipping --------------------------------------------------------------------

def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    if ord in ("euclidean", "fro", 2, 2.0):
        return sqrt(reduce_sum(x * x, axis, keepdims))
    if ord in (1, 1.0):
        return reduce_sum(abs(x), axis, keepdims)
    if ord == np.inf:
        return reduce_max(abs(x), axis, keepdims)
    if isinstance(ord, numbers.Real) and ord > 0:
        return reduce_sum(abs(x) ** float(ord), axis, keepdims) ** (1.0 / float(ord))
    raise ValueError(f"norm: ord must be 'euclidean', 'fro', 1, 2, np.inf or a positive "
                     f"number; received {ord!r}")


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002
    """A vector norm (``axis`` None or an int) or a matrix norm (``axis`` a pair), as
    ``tf.norm``: ``ord`` is ``'euclidean'``/``'fro'``, 1, 2, ``np.inf`` or ``p > 0`` for
    vectors; ``'euclidean'``/``'fro'``, 1 or ``np.inf`` for matrices."""
    x = tensor_arg(tensor)
    keepdims = builtins.bool(keepdims)
    if isinstance(axis, (list, tuple)) and len(axis) == 2:
        rows, cols = (normalize_axis(a, x.ndim, "norm") for a in axis)
        if rows == cols:
            raise ValueError(f"norm: the two matrix axes must differ; received {axis}")
        if ord in ("euclidean", "fro"):
            return sqrt(reduce_sum(x * x, (rows, cols), keepdims))
        if ord in (1, np.inf):
            inner, outer = (rows, cols) if ord == 1 else (cols, rows)
            sums = reduce_sum(abs(x), inner, keepdims=True)
            out = reduce_max(sums, outer, keepdims=True)
            return out if keepdims else reshape(
                out, tuple(d for i, d in enumerate(x.shape) if i not in (rows, cols)))
        raise ValueError(f"norm: matrix norms take ord 'euclidean', 'fro', 1 or np.inf; "
                         f"received {ord!r} (the spectral norm needs an SVD, not available)")
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ValueError(f"norm: axis must be None, an int or a pair; received {axis!r}")
        axis = axis[0]
    if ord == "fro" and axis is not None:
        raise ValueError("norm: ord='fro' needs a pair of axes (a matrix norm)")
    return _vector_norm(x, ord, axis, keepdims)


def _safe_l2(t, axes):
    """``sqrt(sum(t ** 2))`` over ``axes`` (kept), with gradient 0 rather than NaN at 0."""
    total = reduce_sum(t * t, axes, keepdims=True)
    positive = greater(total, 0)
    return where(positive, sqrt(where(positive, total, 1)), total)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled down so that its L2 norm over ``axes`` is at most ``clip_norm``
    (unchanged when already within)."""
    t = tensor_arg(t)
    return t * clip_norm / maximum(_safe_l2(t, axes), clip_norm)


def global_norm(t_list, name=None):
    """``sqrt(sum of every squared entry of every tensor)`` (None entries are skipped)."""
    squares = [reduce_sum(tensor_arg(t) * tensor_arg(t)) for t in t_list if t is not None]
    if not squares:
        return Tensor._wrap(xp.asarray(0.0, dtypes.float32))
    return sqrt(add_n(squares))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(clipped, global_norm)``: every tensor scaled by ``clip_norm / max(global_norm,
    clip_norm)``, so their joint norm is at most ``clip_norm``."""
    t_list = list(t_list)
    norm_value = global_norm(t_list) if use_norm is None else tensor_arg(use_norm)
    scale = clip_norm / maximum(norm_value, clip_norm)
    clipped = [None if t is None else tensor_arg(t) * scale for t in t_list]
    return clipped, norm_value


# -- padding -------------------------------------------------------------------------------

def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor`` padded by ``paddings[i] = [before, after]`` entries along axis ``i``.
    ``mode``: ``"CONSTANT"`` (with ``constant_values``), ``"REFLECT"`` (mirrored, edge
    excluded) or ``"SYMMETRIC"`` (mirrored, edge included)."""
    x = tensor_arg(tensor)
    paddings = np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings)
    if paddings.shape != (x.ndim, 2) or (paddings < 0).any():
        raise ValueError(f"pad: paddings must be {x.ndim} pairs of non-negative ints (one "
                         f"per axis of shape {x.shape}); received {paddings.tolist()}")
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC'; "
                         f"received {mode!r}")
    for axis, (before, after) in enumerate(paddings.tolist()):
        if not before and not after:
            continue
        n = x.shape[axis]
        if mode == "CONSTANT":
            def block(k):
                shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
                return Tensor._wrap(xp.full(shape, constant_values, x.dtype))
            parts = [block(before), x, block(after)]
        else:
            edge = 1 if mode == "REFLECT" else 0
            if max(before, after) > n - edge:
                raise ValueError(f"pad: {mode} padding of {max(before, after)} along axis "
                                 f"{axis} needs at most {n - edge} (the axis has {n} entries)")
            lead = (slice(None),) * axis
            head = np.arange(before - 1 + edge, edge - 1, -1)
            tail = np.arange(n - 1 - edge, n - 1 - edge - after, -1)
            parts = [getitem(x, lead + (head,)), x, getitem(x, lead + (tail,))]
        x = concat([p for p in parts if p.shape[axis]], axis)
    return x


# -- einsum --------------------------------------------------------------------------------

def einsum(equation, *inputs, **kwargs):
    """Sums of products written as index letters, as ``tf.einsum``: ``"ij,jk->ik"`` is a
    matrix product, ``"bij,bjk->bik"`` a batched one, ``"ii->i"`` is not supported
    (a repeated index within one operand). Contractions go pairwise, left to right, each
    as one ``matmul`` after transposes and reshapes."""
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    xs = [tensor_arg(t) for t in inputs]
    for x in xs[1:]:
        binary_args("einsum", xs[0], x)  # one dtype for all, or a clear error
    lhs, arrow, out = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(xs):
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operands but "
                         f"{len(xs)} were given")
    terms, out = _expand_ellipsis(terms, out if arrow else None, xs, equation)
    sizes = {}
    for term, x in zip(terms, xs):
        if len(term) != x.ndim:
            raise ValueError(f"einsum: {term!r} has {len(term)} indices but the operand has "
                             f"shape {x.shape}")
        if len(set(term)) != len(term):
            raise NotImplementedError(f"einsum: a repeated index within one operand "
                                      f"({term!r}, a diagonal) is not supported")
        for letter, d in zip(term, x.shape):
            if sizes.setdefault(letter, d) != d:
                raise ValueError(f"einsum: index {letter!r} has sizes {sizes[letter]} and {d} "
                                 f"in {equation!r}")
    if out is None:  # implicit mode: the letters used once, in alphabetical order
        counts = {}
        for term in terms:
            for letter in term:
                counts[letter] = counts.get(letter, 0) + 1
        out = "".join(sorted(k for k, c in counts.items() if c == 1))
    x, term = xs[0], terms[0]
    for k in builtins.range(1, len(xs)):
        later = set(out).union(*terms[k + 1:])
        x, term = _contract(x, term, xs[k], terms[k], later)
    # Sum what the output does not keep, then order the axes as asked.
    drop = [i for i, letter in enumerate(term) if letter not in out]
    if drop:
        x = reduce_sum(x, tuple(drop))
        term = "".join(letter for letter in term if letter in out)
    missing = set(out) - set(term)
    if missing:
        raise ValueError(f"einsum: output index {''.join(sorted(missing))!r} appears in no "
                         f"operand of {equation!r}")
    return transpose(x, [term.index(letter) for letter in out])


def _expand_ellipsis(terms, out, xs, equation):
    if "..." not in equation:
        return terms, out
    used = set("".join(terms) + (out or ""))
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    width = max(x.ndim - (len(t) - 3) for t, x in zip(terms, xs) if "..." in t)
    fill = "".join(spare[:width])
    expanded = []
    for t, x in zip(terms, xs):
        if "..." in t:
            k = x.ndim - (len(t) - 3)
            t = t.replace("...", fill[width - k:])
        expanded.append(t)
    if out is not None:
        out = out.replace("...", fill)
    elif fill:
        out = None  # implicit mode puts broadcast axes first, then the lone letters
    return expanded, out


def _contract(a, ta, b, tb, later):
    """``a`` (indices ``ta``) times ``b`` (``tb``), summing the shared indices that
    nothing later needs: one batched matmul."""
    # Indices only one operand has and nothing later needs are summed first.
    for name, keep in (("a", set(tb) | later), ("b", set(ta) | later)):
        x, t = (a, ta) if name == "a" else (b, tb)
        lone = [i for i, letter in enumerate(t) if letter not in keep]
        if lone:
            x = reduce_sum(x, tuple(lone))
            t = "".join(letter for i, letter in enumerate(t) if i not in lone)
        a, ta = (x, t) if name == "a" else (a, ta)
        b, tb = (x, t) if name == "b" else (b, tb)
    batch = [c for c in ta if c in tb and c in later]
    summed = [c for c in ta if c in tb and c not in later]
    free_a = [c for c in ta if c not in tb]
    free_b = [c for c in tb if c not in ta]

    def size(x, t, letters):
        n = 1
        for c in letters:
            n *= x.shape[t.index(c)]
        return n

    batch_shape = tuple(a.shape[ta.index(c)] for c in batch)
    a2 = reshape(transpose(a, [ta.index(c) for c in batch + free_a + summed]),
                 batch_shape + (size(a, ta, free_a), size(a, ta, summed)))
    b2 = reshape(transpose(b, [tb.index(c) for c in batch + summed + free_b]),
                 batch_shape + (size(b, tb, summed), size(b, tb, free_b)))
    out_shape = batch_shape + tuple(a.shape[ta.index(c)] for c in free_a) + \
        tuple(b.shape[tb.index(c)] for c in free_b)
    return reshape(matmul(a2, b2), out_shape), "".join(batch + free_a + free_b)


# -- linear systems ------------------------------------------------------------------------

def _eliminate(matrix, rhs, op):
    """Gauss-Jordan elimination with partial pivoting on ``[matrix | rhs]``, batched over
    leading axes. Row swaps are products with permutation matrices built from one-hot
    rows, so there is no read of a value into Python and a trace replays it faithfully.
    Returns ``(solution, pivots, swapped)``."""
    a = tensor_arg(matrix)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: needs square matrices (..., n, n); received shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating matrix, not {a.dtype}")
    n = a.shape[-1]
    m = a if rhs is None else concat([a, rhs], -1)
    eye = Tensor._wrap(xp.eye(n, dtype=a.dtype))
    pivots, swapped = [], []
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero pivot is reported below
        m = _sweep(m, n, eye, a.dtype, pivots, swapped)
    if any(bool(xp.any(pv._value == 0)) for pv in pivots):
        from ..primitives.primitive import OpError
        raise OpError(f"{op}: the matrix is singular (not invertible)")
    return getitem(m, (Ellipsis, slice(None), slice(n, None))), pivots, swapped


def _sweep(m, n, eye, dtype, pivots, swapped):
    for j in builtins.range(n):
        e_j = Tensor._wrap(xp.eye(n, dtype=dtype)[j])
        p = argmax(abs(getitem(m, (Ellipsis, slice(j, None), j))), axis=-1) + j
        e_p = one_hot(p, n, dtype=dtype)
        outer = lambda u, v: reshape(u, u.shape + (1,)) * reshape(v, v.shape[:-1] + (1,) + v.shape[-1:])  # noqa: E731
        swap = eye - outer(e_j, e_j) - outer(e_p, e_p) + outer(e_j, e_p) + outer(e_p, e_j)
        m = matmul(swap, m)
        pivot = getitem(m, (Ellipsis, j, j))
        row = getitem(m, (Ellipsis, j, slice(None))) / reshape(pivot, pivot.shape + (1,))
        factors = getitem(m, (Ellipsis, slice(None), j)) * (1 - e_j)
        m = m - reshape(factors, factors.shape + (1,)) * reshape(row, row.shape[:-1] + (1,) + row.shape[-1:])
        keep = reshape(1 - e_j, (n, 1))
        m = m * keep + reshape(e_j, (n, 1)) * reshape(row, row.shape[:-1] + (1,) + row.shape[-1:])
        pivots.append(pivot)
        swapped.append(not_equal(p, j))
    return m


def solve(matrix, rhs, adjoint=False, name=None):
    """The ``X`` with ``matrix @ X = rhs`` (``tf.linalg.solve``): ``matrix`` is
    ``(..., n, n)``, ``rhs`` ``(..., n, k)``."""
    a, b = binary_args("solve", matrix, rhs)
    if adjoint:
        from .array import matrix_transpose
        a = matrix_transpose(a)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: rhs must have shape (..., {a.shape[-1]}, k) for a matrix of "
                         f"shape {a.shape}; received {b.shape}")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[:-2] != batch:
        from .array import broadcast_to
        a = broadcast_to(a, batch + a.shape[-2:])
    if b.shape[:-2] != batch:
        from .array import broadcast_to
        b = broadcast_to(b, batch + b.shape[-2:])
    return _eliminate(a, b, "solve")[0]


def inv(input, adjoint=False, name=None):  # noqa: A002
    """The inverse of each square matrix (``tf.linalg.inv``)."""
    a = tensor_arg(input)
    if a.ndim < 2:
        raise ValueError(f"inv: needs square matrices (..., n, n); received shape {a.shape}")
    eye = Tensor._wrap(xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape).copy())
    return solve(a, eye, adjoint=adjoint)


def diag_part(input):  # noqa: A002
    """The main diagonal of each matrix (the last two axes)."""
    a = tensor_arg(input)
    k = np.arange(min(a.shape[-2:]))
    return getitem(a, (Ellipsis, k, k))


def trace(x, name=None):
    """The sum of each matrix's diagonal."""
    return reduce_sum(diag_part(x), -1)


def det(input, name=None):  # noqa: A002
    """The determinant of each square matrix (``tf.linalg.det``): the product of the
    elimination's pivots, negated once per row swap. (A singular matrix gives 0.)"""
    a = tensor_arg(input)
    try:
        _, pivots, swapped = _eliminate(a, None, "det")
    except ValueError as e:
        if "singular" not in str(e):
            raise
        return Tensor._wrap(xp.zeros(a.shape[:-2], a.dtype))
    out = pivots[0]
    for pv in pivots[1:]:
        out = out * pv
    for s in swapped:
        out = out * (1 - 2 * cast(s, a.dtype))
    return out


# -- activations (tf.nn) -------------------------------------------------------------------

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


def leaky_relu(features, alpha=0.2):
    """``x`` where positive, ``alpha * x`` elsewhere (TensorFlow's default alpha is 0.2)."""
    x = tensor_arg(features)
    return where(greater(x, 0), x, alpha * x)


def relu6(features):
    """``min(max(x, 0), 6)``."""
    return minimum(relu(features), 6)


def silu(features, beta=1.0):
    """``x * sigmoid(beta * x)`` (also called swish)."""
    x = tensor_arg(features)
    return x * sigmoid(beta * x if beta != 1.0 else x)


swish = silu


def softsign(features):
    """``x / (1 + |x|)``."""
    x = tensor_arg(features)
    return x / (1 + abs(x))


def log_sigmoid(x):
    """``log(sigmoid(x))``, stably: ``-softplus(-x)``."""
    return -softplus(-tensor_arg(x))


def l2_normalize(x, axis=None, epsilon=1e-12):
    """``x / sqrt(max(sum(x ** 2), epsilon))`` along ``axis``."""
    x = tensor_arg(x)
    return x / sqrt(maximum(reduce_sum(x * x, axis, keepdims=True), epsilon))


def moments(x, axes, shift=None, keepdims=False):
    """``(mean, variance)`` of ``x`` over ``axes``."""
    x = tensor_arg(x)
    mean = reduce_mean(x, axes, keepdims=True)
    centred = x - mean
    variance = reduce_mean(centred * centred, axes, keepdims=keepdims)
    if not keepdims:
        mean = reduce_mean(x, axes)
    return mean, variance


def l2_loss(t):
    """``sum(t ** 2) / 2``."""
    t = tensor_arg(t)
    return reduce_sum(t * t) * 0.5


def bias_add(value, bias):
    """``value + bias`` along the last axis."""
    return tensor_arg(value) + bias


def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """Per-entry cross-entropy of 0/1 (or probability) ``labels`` and ``logits``:
    ``max(x, 0) - x * z + log(1 + exp(-|x|))``, which never overflows."""
    x, z = binary_args("sigmoid_cross_entropy_with_logits", logits, labels)
    return relu(x) - x * z + softplus(-abs(x))

