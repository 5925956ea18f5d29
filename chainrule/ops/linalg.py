"""The tensor product: matmul, tensordot and NumPy-style dot, for any rank."""

from ..primitives import table as P
from ..primitives.primitive import bind
from ._convert import binary_args, normalize_axis
from .array import matrix_transpose, reshape, transpose


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
