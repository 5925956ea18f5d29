"""Linear algebra: the tensor product (matmul, dense, tensordot, NumPy-style dot and
einsum, for any rank), linear solves, inverses, determinants, diagonals and traces."""

import builtins

import numpy as np

from ..backend import xp
from ..primitives import table as P
from ..primitives.primitive import OpError, bind
from ..tensor import Tensor
from ._convert import binary_args, normalize_axis, tensor_arg
from .array import (broadcast_to, concat, getitem, matrix_transpose, one_hot, reshape,
                    transpose)
from .math import abs, cast, not_equal
from .reduction import argmax, reduce_sum


def matmul(a, b, transpose_a=False, transpose_b=False):
    """Matrix product over the last two axes, with batch axes broadcast.

    A 1-D operand is treated as a row (left) or column (right) vector and that axis is
    dropped from the result, as in NumPy.
    """
    a, b = binary_args("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands need at least 1 dimension, got shapes {a.shape} "
                         f"and {b.shape}; use multiply (or *) for scalars")
    if transpose_a:
        a = matrix_transpose(a)
    if transpose_b:
        b = matrix_transpose(b)
    if a.ndim >= 2 and b.ndim >= 2:
        return bind(P.matmul, (a, b))
    if a.ndim == 1 and b.ndim == 1:
        _check_inner(a.shape[0], b.shape[0], a, b)
        return reshape(bind(P.matmul, (reshape(a, (1, -1)), reshape(b, (-1, 1)))), ())
    if a.ndim == 1:
        _check_inner(a.shape[0], b.shape[-2], a, b)
        out = bind(P.matmul, (reshape(a, (1, -1)), b))
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    _check_inner(a.shape[-1], b.shape[0], a, b)
    out = bind(P.matmul, (a, reshape(b, (-1, 1))))
    return reshape(out, out.shape[:-1])


def dense(x, kernel, bias=None):
    """``x @ kernel + bias`` as one op: what a Dense layer computes before its activation.

    ``kernel`` has shape ``(in, out)``, ``bias`` shape ``(out,)`` (or None); ``x`` has
    ``in`` as its last axis and any leading axes.
    """
    x, kernel = binary_args("dense", x, kernel)
    if bias is None:
        return matmul(x, kernel)
    bias, _ = binary_args("dense", bias, kernel)
    if kernel.ndim != 2 or x.ndim < 1 or bias.shape != kernel.shape[-1:]:
        raise ValueError(f"dense: needs kernel of shape (in, out) and bias of shape (out,); "
                         f"received x {x.shape}, kernel {kernel.shape}, bias {bias.shape}")
    if x.ndim == 1:
        return reshape(bind(P.dense, (reshape(x, (1, -1)), kernel, bias)), kernel.shape[-1:])
    return bind(P.dense, (x, kernel, bias))


def _check_inner(n, m, a, b):
    if n != m:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {n} and {m} differ")


def tensordot(a, b, axes):
    """Sums the products of ``a`` and ``b`` over the given axes.

    ``axes`` is an int N (the last N axes of ``a`` with the first N of ``b``) or a pair of
    axis lists. The result's shape is ``a``'s free axes followed by ``b``'s.
    """
    a, b = binary_args("tensordot", a, b)
    if isinstance(axes, int):
        if axes < 0 or axes > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: cannot contract {axes} axes of shapes {a.shape} and {b.shape}")
        axes_a = list(range(a.ndim - axes, a.ndim))
        axes_b = list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, int) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, int) else list(axes_b)
    axes_a = [normalize_axis(x, a.ndim, "tensordot") for x in axes_a]
    axes_b = [normalize_axis(x, b.ndim, "tensordot") for x in axes_b]
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot: {len(axes_a)} axes of a but {len(axes_b)} axes of b")
    for i, j in zip(axes_a, axes_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: shapes {a.shape} and {b.shape}: axis {i} of a has size "
                             f"{a.shape[i]} but axis {j} of b has size {b.shape[j]}")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    k = 1
    for i in axes_a:
        k *= a.shape[i]
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    a2 = reshape(transpose(a, free_a + axes_a), (-1, k) if k else (_size(a, free_a), 0))
    b2 = reshape(transpose(b, axes_b + free_b), (k, -1) if k else (0, _size(b, free_b)))
    return reshape(bind(P.matmul, (a2, b2)), out_shape)


def _size(x, axes):
    n = 1
    for i in axes:
        n *= x.shape[i]
    return n


def dot(a, b):
    """NumPy's ``dot`` for any rank: (a,b,c,d)·(d,) -> (a,b,c); (a,b,c,d)·(d,e) -> (a,b,c,e).

    It contracts the last axis of ``a`` with the only axis of a 1-D ``b``, or with the
    second-to-last axis of ``b`` otherwise; a scalar operand multiplies.
    """
    a, b = binary_args("dot", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [0 if b.ndim == 1 else b.ndim - 2]))


# -- einsum --------------------------------------------------------------------------------

def einsum(equation, *inputs, **kwargs):
    """Sums of products written as index letters, as ``tf.einsum``: ``"ij,jk->ik"`` is a
    matrix product, ``"bij,bjk->bik"`` a batched one, ``"ii->i"`` a diagonal (an index
    repeated within one operand). Contractions go pairwise, left to right, each as one
    ``matmul`` after transposes and reshapes."""
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
    xs, terms = zip(*[_diagonal(x, term) for x, term in zip(xs, terms)])
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


def _diagonal(x, term):
    """``x`` with the axes of each index repeated in ``term`` reduced to their diagonal (one
    axis, put first), and the new term: ``"xbyb"`` becomes ``"bxy"``, the entries where the
    two b axes agree."""
    while True:
        repeated = next((c for c in term if term.count(c) > 1), None)
        if repeated is None:
            return x, term
        at = [i for i, c in enumerate(term) if c == repeated]
        rest = [i for i in builtins.range(len(term)) if i not in at]
        x = transpose(x, at + rest)
        k = np.arange(x.shape[0])
        x = getitem(x, (k,) * len(at))  # a gather: its gradient adds back onto the diagonal
        term = repeated + "".join(term[i] for i in rest)


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
        a = matrix_transpose(a)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: rhs must have shape (..., {a.shape[-1]}, k) for a matrix of "
                         f"shape {a.shape}; received {b.shape}")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[:-2] != batch:
        a = broadcast_to(a, batch + a.shape[-2:])
    if b.shape[:-2] != batch:
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
