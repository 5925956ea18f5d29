"""The one seeded generator every random draw comes from, and the draw the ``random``
primitive makes with it.

It lives below the table, so the table's stateful ``random`` primitive needs nothing from
:mod:`chainrule.random` (the user API, built on the table and the ops).
"""

import threading
import weakref

import numpy as np

from .. import dtypes

__all__ = ["set_seed", "get_seed", "generator", "draw", "Stream", "saved_state",
           "thread_generator"]

_state = {"seed": None, "rng": np.random.default_rng()}


class _ThreadOwn(threading.local):
    rng = None  # a generator of this thread's own, in place of the global one


_thread = _ThreadOwn()


def thread_generator(rng):
    """Makes ``rng`` (a NumPy Generator; None: the global one again) what this thread's draws
    without a seed use: MirroredStrategy's replica threads other than the first draw from
    generators of their own, so the global generator advances as in one thread's training
    and the draws do not depend on how the threads interleave."""
    _thread.rng = rng
_streams = weakref.WeakSet()


class Stream:
    """A sequence of draws of its own, which every draw from it advances (what a
    ``keras.random.SeedGenerator`` holds); given as a draw's ``seed``."""

    __slots__ = ("seed", "generator", "__weakref__")

    def __init__(self, seed):
        self.seed = seed
        self.generator = np.random.default_rng(seed)
        _streams.add(self)


def saved_state():
    """A function that puts the global generator and every :class:`Stream` back where they
    are now (a trace draws once, and the first replay must draw what eager code would)."""
    states = [(g, g.bit_generator.state)
              for g in [generator()] + [s.generator for s in list(_streams)]]

    def restore():
        for g, state in states:
            g.bit_generator.state = state
    return restore


def set_seed(seed):
    """Resets the global generator; ``None`` makes it unpredictable again."""
    _state["seed"] = seed
    _state["rng"] = np.random.default_rng(seed)


def get_seed():
    return _state["seed"]


def generator(seed=None):
    """The NumPy Generator a draw uses: the global one, one fixed by an int ``seed``, or a
    :class:`Stream`'s own."""
    if seed is None:
        return _state["rng"] if _thread.rng is None else _thread.rng
    if isinstance(seed, Stream):
        return seed.generator
    global_seed = 0 if _state["seed"] is None else _state["seed"]
    return np.random.default_rng([global_seed, seed])


def draw(shape, dtype, seed, distribution, a, b):
    """The array behind :func:`chainrule.random.uniform` (``a`` to ``b``), ``normal`` and
    ``truncated_normal`` (mean ``a``, standard deviation ``b``)."""
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
