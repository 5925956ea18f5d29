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
    rng = generator(seed)
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError("random.uniform: maxval is required for integer dtypes")
        return Tensor._wrap(rng.integers(minval, maxval, size=_shape(shape), dtype=dtype))
    maxval = 1 if maxval is None else maxval
    values = rng.random(_shape(shape), dtype=np.float64 if dtype != dtypes.float32 else np.float32)
    return Tensor._wrap((values * (maxval - minval) + minval).astype(dtype, copy=False))


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Values drawn from a normal distribution."""
    dtype = dtypes.as_dtype(dtype)
    values = generator(seed).standard_normal(_shape(shape), dtype=np.float32 if dtype == dtypes.float32 else np.float64)
    return Tensor._wrap((values * stddev + mean).astype(dtype, copy=False))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """A normal draw re-drawn wherever it falls more than two standard deviations out."""
    dtype = dtypes.as_dtype(dtype)
    rng = generator(seed)
    values = rng.standard_normal(_shape(shape))
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2
    return Tensor._wrap((values * stddev + mean).astype(dtype))


def shuffle(value, seed=None):
    """``value`` with its first axis randomly permuted."""
    array = np.asarray(value)
    return Tensor._wrap(array[generator(seed).permutation(len(array))])
