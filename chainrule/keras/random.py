"""``keras.random``: random tensors with Keras 3's seeding rules.

``seed`` is None (the global generator, repeatable after ``keras.utils.set_random_seed``), an
int (the same draw at every call), or a :class:`SeedGenerator` (a sequence of its own that
each draw advances). The draws are the table's ``random`` op, so a compiled step draws anew
at every run, exactly as eager code does.
"""

import numbers

from .. import dtypes
from .. import ops as _ops
from .. import random as _random
from ..errors import MissingNameError
from ..primitives.rng import Stream

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "dropout",
           "shuffle"]


class SeedGenerator:
    """A seeded sequence of draws: ``keras.random.normal(shape, seed=generator)`` twice gives
    two different tensors, and the same two again from a generator made with the same seed.
    Without a seed, one is drawn from the global generator."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is None:
            seed = int(_random.generator().integers(2**31))
        self.seed, self.name = int(seed), name
        self._stream = Stream(self.seed)

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator seed={self.seed}>"


def _seed(seed):
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral):
        return int(seed)
    if isinstance(seed, SeedGenerator):
        return seed._stream
    raise TypeError(f"keras.random: seed must be None, an int or a keras.random.SeedGenerator; "
                    f"received {seed!r} of type {type(seed).__name__}")


def _float(dtype):
    return dtypes.as_dtype(dtype or "float32")


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Values from a normal distribution."""
    return _random.normal(shape, mean, stddev, _float(dtype), seed=_seed(seed))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Values drawn uniformly from ``[minval, maxval)``."""
    return _random.uniform(shape, minval, maxval, _float(dtype), seed=_seed(seed))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """A normal draw, re-drawn wherever it falls more than two standard deviations out."""
    return _random.truncated_normal(shape, mean, stddev, _float(dtype), seed=_seed(seed))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from ``[minval, maxval)``."""
    dtype = dtypes.as_dtype(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"keras.random.randint: dtype must be an integer type; received {dtype}")
    return _random.uniform(shape, minval, maxval, dtype, seed=_seed(seed))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with a fraction ``rate`` zeroed and the rest scaled by ``1 / (1 - rate)``."""
    return _ops.dropout(inputs, rate, noise_shape, _seed(seed))


def shuffle(x, axis=0, seed=None):
    """``x`` permuted along ``axis``. The permutation is drawn when the call runs: in a
    traced function it is fixed at tracing (chainrule has no traced sort yet)."""
    x = _ops.convert_to_tensor(x)
    order = _random.generator(_seed(seed)).permutation(x.shape[axis])
    return _ops.gather(x, order, axis=axis)


KERAS_RANDOM = frozenset(__all__) | {"beta", "binomial", "categorical", "gamma"}


def __getattr__(name):
    raise MissingNameError(__name__, name, "Keras random function" if name in KERAS_RANDOM
                           else None, __all__)
