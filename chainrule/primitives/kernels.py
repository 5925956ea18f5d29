"""Fused loops: several element-wise steps in one pass over the data.

The compiled executor (:mod:`chainrule.compiler.execute`) and the RMSprop optimizer use these
where NumPy would make one pass per operation. Each kernel exists twice:

* a numba loop (``pip install chainrule[jit]``), one pass, compiled on first use and cached
  on disk;
* a NumPy fallback, one call per operation with ``out=`` buffers.

Both do the same float32 operations in the same order on every element (no fused
multiply-add, no reassociation), so they give the same bits, and those of the eager ops
they replace; the tests check this on both backends.

One kernel is not element-wise: :func:`matmul`, the product every ``matmul`` and ``dense``
runs, eager or compiled. With numba it leaves out the all-zero columns of a sparse input
(a third of an MNIST batch's pixels) and the matching rows of the kernel gradient, which
then reaches RMSprop as :class:`SparseRows`. It sums the same terms minus exact zeros, so
its results differ from NumPy's product in the last bits only, and eager and compiled
code, which both call it, still agree bit for bit.

>>> import numpy as np
>>> from chainrule.primitives import kernels
>>> h = np.array([[-1.0, 0.5]], np.float32)
>>> kernels.bias_relu(h, np.array([0.5, 0.5], np.float32), out=h)
array([[0., 1.]], dtype=float32)
"""

import threading

import numpy as np

__all__ = ["backend", "use", "matmul", "SparseRows", "ColumnScan", "bias_relu", "relu_grad",
           "rmsprop", "rmsprop_rows", "softmax_cross_entropy", "cross_entropy_grad"]

_state = {"choice": "auto", "numba": None}


def use(name):
    """Selects the kernels' backend: ``"numba"``, ``"numpy"``, or ``"auto"`` (numba when it
    is installed). Returns the previous choice."""
    if name not in ("auto", "numba", "numpy"):
        raise ValueError(f"kernels.use: backend must be 'auto', 'numba' or 'numpy'; "
                         f"received {name!r}")
    if name == "numba" and _numba_kernels() is None:
        raise ImportError("kernels.use('numba'): numba is not installed "
                          "(pip install chainrule[jit])")
    previous, _state["choice"] = _state["choice"], name
    return previous


def backend():
    """The backend in use: ``"numba"`` or ``"numpy"``."""
    return "numba" if _compiled() is not None else "numpy"


def _compiled():
    """The numba kernels when they are to be used, else None."""
    if _state["choice"] == "numpy":
        return None
    return _numba_kernels()


def _numba_kernels():
    if _state["numba"] is None:
        try:
            from . import _numba as module
        except ImportError:
            module = False
        _state["numba"] = module
    return _state["numba"] or None


# -- the kernels ---------------------------------------------------------------------------

# A product is searched for zero lines when it has at least this many multiply-adds (the
# search costs one pass over the left operand, about 1/N of the product's work) ...
SKIP_MIN_WORK = 1 << 21
# ... and computed without them when at most this share of the lines is left: below that,
# the copies the smaller product needs cost less than the multiply-adds it saves.
# Setting it to 0 turns the skipping off.
SKIP_MAX_ACTIVE = 0.8


class SparseRows:
    """A 2-D array kept as its rows that may be nonzero: row ``rows[i]`` is ``values[i]``,
    every other row of ``shape`` is zero. What :func:`matmul` returns for ``sparse_rows=True``
    (the kernel gradient of a layer whose inputs have all-zero columns); ``np.asarray``
    gives the full array."""

    __slots__ = ("values", "rows", "shape", "dtype")

    def __init__(self, values, rows, shape):
        self.values, self.rows, self.shape, self.dtype = values, rows, tuple(shape), values.dtype

    def __array__(self, dtype=None, copy=None):
        full = np.zeros(self.shape, self.dtype)
        full[self.rows] = self.values
        return full if dtype is None else full.astype(dtype, copy=False)

    def __repr__(self):
        return f"<SparseRows {len(self.rows)} of {self.shape[0]} rows, shape {self.shape}>"


def matmul(a, b, out=None, sparse_rows=False, scan=None):
    """``np.matmul(a, b, out=out)``; with the numba kernels, the all-zero lines of a large,
    sparse ``a`` are left out.

    The book's first layer multiplies MNIST batches, in which a third of the 784 pixels are
    zero in all 128 images, and its kernel gradient is the same product transposed. For a
    2-D float product of at least :data:`SKIP_MIN_WORK` multiply-adds whose left operand is

    * C-ordered (``x @ kernel``) with at most :data:`SKIP_MAX_ACTIVE` of its columns holding
      a nonzero: the product of those columns with the matching rows of ``b``;
    * F-ordered, i.e. a transpose (``x.T @ grad``), with at most that share of its rows
      holding a nonzero: those rows' product, and exact zeros in the other rows (or, with
      ``sparse_rows=True``, a :class:`SparseRows` holding just those rows, its values in
      ``out``'s memory).

    Zero terms add nothing, so this is the same sum over fewer terms: it can differ from
    ``np.matmul`` in the last bits (the BLAS groups the terms differently), as two BLAS
    builds do. ``0 * inf`` and ``0 * nan`` are not zero: when the rows of ``b`` that would be
    skipped (for a transpose: any of ``b``) hold an infinity or NaN, the full product runs,
    so NaN spreads as it would. (The NumPy fallback always runs the full product: its
    gathers cost about what the skipped multiply-adds would.)

    ``scan``: a :class:`ColumnScan` that keeps what was found about a left operand for a
    later product with the same array (the compiled executor pairs a layer's product with
    its kernel gradient, which reads the same ``x``)."""
    fast = _compiled()
    if fast is not None and type(a) is np.ndarray and type(b) is np.ndarray \
            and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype \
            and a.dtype in (np.float32, np.float64) and a.shape[1] == b.shape[0] \
            and a.size * b.shape[1] >= SKIP_MIN_WORK \
            and (out is None or (out.shape == (a.shape[0], b.shape[1]) and out.dtype == a.dtype
                                 and out.flags.c_contiguous)):
        result = None
        if a.flags.c_contiguous and a.shape[0] >= 32:
            result = _without_zero_columns(fast, a, b, out, scan)
        elif a.flags.f_contiguous and b.shape[1] >= 32:
            result = _without_zero_rows(fast, a, b, out, sparse_rows, scan)
        if result is not None:
            return result
    return np.matmul(a, b, out=out)


class ColumnScan:
    """What :func:`matmul` found about one left operand: its nonzero columns and those
    columns packed together, in buffers of its own. Whoever passes one guarantees that
    the array it was made from has not changed while it is in use (:meth:`forget` starts
    over: a compiled program calls it at the first product of every run)."""

    __slots__ = ("key", "cols", "packed")

    def __init__(self):
        self.key = self.cols = self.packed = None

    def forget(self):
        self.key = None


def _packed_columns(fast, c, most, scan):
    """``(cols, c[:, cols])`` for the columns of ``c`` holding a nonzero (or NaN), or None
    when there are more than ``most``; from ``scan`` when it was made from ``c``."""
    key = None
    if scan is not None:
        key = (c.ctypes.data, c.shape, c.strides, c.dtype)
        if scan.key == key:
            return (scan.cols, scan.packed) if scan.cols is not None else None
    rows, depth = c.shape
    cols = np.empty(depth, np.intp) if scan is not None else _scratch("columns", depth, np.intp)
    n = fast.nonzero_columns(c, cols, most)
    cols, packed = (cols[:n], None) if n >= 0 else (None, None)
    if cols is not None:
        packed = (np.empty((rows, n), c.dtype) if scan is not None
                  else _scratch("left", rows * n, c.dtype).reshape(rows, n))
        fast.take_columns(c, cols, packed)
    if scan is not None:
        scan.key, scan.cols, scan.packed = key, cols, packed
    return (cols, packed) if cols is not None else None


def _without_zero_columns(fast, a, b, out, scan):
    found = _packed_columns(fast, a, int(SKIP_MAX_ACTIVE * a.shape[1]), scan)
    if found is None or not fast.finite_outside(b, found[0]):
        return None
    cols, a_active = found
    b_active = _scratch("right", len(cols) * b.shape[1], a.dtype).reshape(len(cols), b.shape[1])
    fast.take_rows(b, cols, b_active)
    return np.matmul(a_active, b_active, out=out)


def _without_zero_rows(fast, a, b, out, sparse_rows, scan):
    at = a.T  # C-ordered: its columns are a's rows
    rows, cols = a.shape[0], b.shape[1]
    found = _packed_columns(fast, at, int(SKIP_MAX_ACTIVE * rows), scan)
    if found is None or not fast.finite_outside(b, found[0][:0]):  # all of b
        return None
    keep, a_active = found
    k = len(keep)
    if out is None:
        out = np.empty((rows, cols), a.dtype)
    if sparse_rows:  # the values go to the front of out's memory
        values = out.reshape(-1)[:k * cols].reshape(k, cols)
        np.matmul(a_active.T, b, out=values)
        return SparseRows(values, keep.copy(), out.shape)
    partial = _scratch("product", k * cols, a.dtype).reshape(k, cols)
    np.matmul(a_active.T, b, out=partial)
    fast.place_rows(partial, keep, out)
    return out


_scratch_arrays = threading.local()  # per thread: the kernels release the GIL


def _scratch(role, size, dtype):
    """A flat array of ``size`` elements for a temporary, kept between calls: allocating a
    few hundred kB afresh costs page faults on every call."""
    store = _scratch_arrays.__dict__
    key = (role, np.dtype(dtype))
    array = store.get(key)
    if array is None or array.size < size:
        array = store[key] = np.empty(size, dtype)
    return array[:size]


def bias_relu(x, bias, out):
    """``out = relu(x + bias)``, ``bias`` broadcast along the last axis; ``out`` may be ``x``.

    The same numbers as ``dense``'s bias add followed by ``relu`` (``np.maximum(v, 0)``)."""
    fast = _compiled()
    if fast is not None and x.ndim == 2 and _contiguous(x, out, bias):
        if out is x:
            fast.bias_relu_inplace(x, bias)
        else:
            fast.bias_relu(x, bias, out)
        return out
    np.add(x, bias, out=out)
    return np.maximum(out, 0, out=out)


def relu_grad(g, y, out, column_sums):
    """``out = g * (y > 0)``, relu's VJP given its output ``y`` (``out`` may be ``g``, not
    ``y``), and ``column_sums = out.sum(axis=0)`` (a bias gradient) in the same pass.

    The same numbers as relu's VJP (``g`` times a 0/1 mask) and ``reduce_sum`` over axis 0
    (which NumPy adds up row after row)."""
    fast = _compiled()
    if fast is not None and g.ndim == 2 and _contiguous(g, y, out) and \
            _contiguous(column_sums, column_sums):
        if out is g:
            fast.relu_grad_inplace(g, y, column_sums)
        else:
            fast.relu_grad(g, y, out, column_sums)
        return out
    np.multiply(g, np.greater(y, 0), out=out)
    np.add.reduce(out, axis=0, out=column_sums)
    return out


def rmsprop(w, g, v, lr, rho, epsilon):
    """One RMSprop step in place, Keras's rule (epsilon inside the square root):
    ``v = rho * v + (1 - rho) * g * g``; ``w -= lr * g / sqrt(v + epsilon)``.

    Returns False (and does nothing) when no fused kernel applies, so the caller runs its
    own NumPy steps (see :class:`chainrule.keras.optimizers.RMSprop`), whose numbers these
    are."""
    fast = _compiled()
    if fast is None or not _contiguous(w, g, v):
        return False
    f = np.float32
    fast.rmsprop(w, g, v, f(lr), f(rho), f(1 - rho), f(epsilon))
    return True


def rmsprop_rows(w, g, v, lr, rho, epsilon):
    """:func:`rmsprop` for a :class:`SparseRows` gradient ``g``: the full update on its rows;
    on the others, where the gradient is zero, ``v *= rho`` and ``w`` stays as it is, which
    are the numbers the full update gives there. False (nothing done) when no fused kernel
    applies: the caller then takes ``np.asarray(g)``."""
    fast = _compiled()
    if fast is None or w.ndim != 2 or not _contiguous(w, g.values, v):
        return False
    f = np.float32
    fast.rmsprop_rows(w, g.rows, g.values, v, f(lr), f(rho), f(1 - rho), f(epsilon))
    return True


def softmax_cross_entropy(logits, labels, losses, probs, sums, normalize=True):
    """The per-row cross-entropy of integer ``labels`` against 2-D ``logits`` into
    ``losses``, and the softmax into ``probs`` (when ``normalize``; else ``probs`` is
    scratch); ``sums`` is a scratch row of ``len(logits)``.

    The same numbers as ``sparse_softmax_cross_entropy``'s forward and ``softmax``'s:
    ``shifted = logits - max``, ``loss = log(sum(exp(shifted))) - shifted[label]``,
    ``p = exp(shifted) / sum``. Exponentials and logarithms are NumPy's in both backends
    (numba's differ from them in the last bit); a label out of range raises ValueError."""
    fast = _compiled()
    classes = logits.shape[1]
    if fast is not None and classes <= 128 and _contiguous(logits, probs, losses):
        if not fast.softmax_shift(logits, labels, probs, losses):
            _bad_label(labels, classes)
        np.exp(probs, out=probs)
        fast.softmax_normalize(probs, sums, normalize)
    else:
        if labels.max() >= classes or (labels.dtype.kind != "u" and labels.min() < 0):
            _bad_label(labels, classes)
        tmp = sums.reshape(-1, 1)
        np.maximum.reduce(logits, axis=1, keepdims=True, out=tmp)
        np.subtract(logits, tmp, out=probs)
        np.negative(probs[np.arange(len(labels)), labels], out=losses)
        np.exp(probs, out=probs)
        np.add.reduce(probs, axis=1, keepdims=True, out=tmp)
        if normalize:
            np.divide(probs, tmp, out=probs)
    np.log(sums, out=sums)
    return np.add(sums, losses, out=losses)  # log(sum) - shifted[label]


def _bad_label(labels, classes):
    lo, hi = labels.min(), labels.max()
    raise ValueError(f"sparse_softmax_cross_entropy_with_logits: label "
                     f"{lo if lo < 0 else hi} is out of range for {classes} classes "
                     f"(valid labels are 0..{classes - 1})")


def cross_entropy_grad(p, labels, a, out, column_sums):
    """``out = a * (p - one_hot(labels))`` for ``a`` of shape ``(rows, 1)``, and
    ``column_sums = out.sum(axis=0)``: the gradient of a mean cross-entropy with respect to
    the logits, and the bias gradient. ``out`` may be ``p``. A label out of range has a row
    of zeros as its one-hot, as ``one_hot`` gives."""
    fast = _compiled()
    if fast is not None and _contiguous(p, out, a) and _contiguous(column_sums, column_sums):
        fast.xent_grad(p, labels, a, out, column_sums)
        return out
    if out is not p:
        np.copyto(out, p)
    rows, depth = p.shape
    valid = (labels >= 0) & (labels < depth)
    out[np.arange(rows)[valid], labels[valid]] -= 1  # p - 1 at the label, p - 0 elsewhere
    np.multiply(a, out, out=out)
    np.add.reduce(out, axis=0, out=column_sums)
    return out


def _contiguous(a, b, c=None):
    """Whether the arrays are C-contiguous float32 (what the numba loops are written for)."""
    f32 = np.float32
    return a.dtype == f32 and b.dtype == f32 and a.flags.c_contiguous and \
        b.flags.c_contiguous and (c is None or (c.dtype == f32 and c.flags.c_contiguous))
