"""Random tensors from one seeded generator.

``set_seed(s)`` makes every later draw repeatable: the same seed gives the same sequence
of tensors. An op-level ``seed`` gives a draw of its own, fixed by (global seed, op seed).
The generator itself is :mod:`chainrule.primitives.rng`, below the op table.
"""

import numpy as np

from . import dtypes
from .ops.array import _shape
from .primitives import table as P
from .primitives.primitive import bind
from .primitives.rng import generator, get_seed, saved_state, set_seed
from .tensor import Tensor

__all__ = ["set_seed", "get_seed", "uniform", "normal", "truncated_normal", "shuffle", "generator"]


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
    return bind(P.random, (), {"shape": _shape(shape), "dtype": dtype, "seed": seed,
                               "distribution": distribution, "a": a, "b": b})


def shuffle(value, seed=None):
    """``value`` with its first axis randomly permuted."""
    array = np.asarray(value)
    return Tensor._wrap(array[generator(seed).permutation(len(array))])
