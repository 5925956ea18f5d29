"""Neural-network functions: activations, softmax and cross-entropy."""

from ..primitives import table as P
from ..primitives.primitive import bind
from ..backend import xp
from ..tensor import Tensor
from ._convert import normalize_axis, tensor_arg
from .math import (  # noqa: F401  (re-exported)
    cast, divide, greater_equal, multiply, reduce_sum, relu, sigmoid, tanh,
)


def softmax(logits, axis=-1, _result_type=Tensor):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed without overflow."""
    x = tensor_arg(logits)
    axis = normalize_axis(-1 if axis is None else axis, x.ndim, "softmax")
    return bind(P.softmax, (x,), {"axis": axis}, _result_type)


def log_softmax(logits, axis=-1):
    """``log(softmax(x))`` along ``axis``, exactly (no log of a rounded zero)."""
    x = tensor_arg(logits)
    return bind(P.log_softmax, (x,), {"axis": normalize_axis(-1 if axis is None else axis, x.ndim, "log_softmax")})


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


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """Per-example cross-entropy between probability ``labels`` and ``logits``."""
    return -reduce_sum(multiply(labels, log_softmax(logits, axis)), axis)
