"""Fused loops: several element-wise steps in one pass over the data.

The compiled executor (:mod:`chainrule.graph.compile`) and the RMSprop optimizer use these
where NumPy would make one pass per operation. Each kernel exists twice:

* a numba loop (``pip install chainrule[jit]``), one pass, compiled on first use and cached
  on disk;
* a NumPy fallback, one call per operation with ``out=`` buffers.

Both do the same float32 operations in the same order on every element (no fused
multiply-add, no reassociation), so they give the same bits, and those of the eager ops
they replace; the tests check this on both backends.

>>> import numpy as np
>>> from chainrule import kernels
>>> h = np.array([[-1.0, 0.5]], np.float32)
>>> kernels.bias_relu(h, np.array([0.5, 0.5], np.float32), out=h)
array([[0., 1.]], dtype=float32)
"""

import numpy as np

__all__ = ["backend", "use", "bias_relu", "relu_grad", "rmsprop", "softmax_cross_entropy",
           "cross_entropy_grad"]

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
            from . import _numba_kernels as module
        except ImportError:
            module = False
        _state["numba"] = module
    return _state["numba"] or None


# -- the kernels ---------------------------------------------------------------------------

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
