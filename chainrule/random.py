"""Random tensors from one seeded generator.

``set_seed(s)`` makes every later draw repeatable: the same seed gives the same sequence
of tensors. An op-level ``seed`` gives a draw of its own, fixed by (global seed, op seed).
"""

import numpy as np

from . import dtypes
from .ops.array import _shape
from .tensor import Tensor

__all__ = ["set_seed", "get_seed", "uniform", "normal", "truncated_normal", "shuffle", "generator"]

_state = {"seed": None, "rng": np.random.default_rng()}


def set_seed(seed):
    """Resets the global generator; ``None`` makes it unpredictable again."""
    _state["seed"] = seed
    _state["rng"] = np.random.default_rng(seed)


def get_seed():
    return _state["seed"]


def generator(seed=None):
    """The NumPy Generator a draw uses: the global one, or one fixed by ``seed``."""
    if seed is None:
        return _state["rng"]
    global_seed = 0 if _state["seed"] is None else _state["seed"]
    return np.random.default_rng([global_seed, seed])


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Values drawn uniformly from ``[minval, maxval)`` (``maxval`` defaults to 1 for floats
    and is required for integers)."""
    dtype = dtypes.as_dtype(dtype)
    if dtype.kind in "iu" and maxval is None:
        raise ValueError("random.uniform: maxval is required for integer dtypes")
    return _random(shape, dtype, seed, "uniform", minval, 1 if maxval is None else maxval)


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Values drawn from a normal distribution."""
    return _random(shape, dtypes.as_dtype(dtype), seed, "normal", mean, stddev)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """A normal draw re-drawn wherever it falls more than two standard deviations out."""
    return _random(shape, dtypes.as_dtype(dtype), seed, "truncated_normal", mean, stddev)


def _random(shape, dtype, seed, distribution, a, b):
    # Through the `random` primitive, so that a traced function draws anew at every call
    # (as TensorFlow's random ops do inside tf.function) instead of replaying one draw.
    from .primitives import table as primitives
    from .primitives.primitive import bind
    return bind(primitives.random, (), {"shape": _shape(shape), "dtype": dtype, "seed": seed,
                                        "distribution": distribution, "a": a, "b": b})


def draw(shape, dtype, seed, distribution, a, b):
    """The array behind :func:`uniform` (``a`` to ``b``), :func:`normal` and
    :func:`truncated_normal` (mean ``a``, standard deviation ``b``)."""
    rng = generator(seed)
    if distribution == "uniform":
        if dtype.kind in "iu":
            return rng.integers(a, b, size=shape, dtype=dtype)
        values = rng.random(shape, dtype=np.float32 if dtype == dtypes.float32 else np.float64)
        if (a, b) != (0, 1):  # (x * 1 + 0 is x: the plain draw has the same bits)
            values = values * (b - a) + a
        return values.astype(dtype, copy=False)
    if distribution == "normal":
        values = rng.standard_normal(shape, dtype=np.float32 if dtype == dtypes.float32
                                     else np.float64)
        return (values * b + a).astype(dtype, copy=False)
    values = rng.standard_normal(shape)
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2
    return (values * b + a).astype(dtype)


def shuffle(value, seed=None):
    """``value`` with its first axis randomly permuted."""
    array = np.asarray(value)
    return Tensor._wrap(array[generator(seed).permutation(len(array))])
