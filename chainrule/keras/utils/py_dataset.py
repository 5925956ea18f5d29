"""``keras.utils.PyDataset`` (also ``Sequence``): a dataset written as a Python class that
returns one batch per index, which ``fit``, ``evaluate`` and ``predict`` accept as ``x``.

A subclass implements ``__getitem__(index)`` (the batch: ``x``, ``(x, y)`` or ``(x, y,
sample_weight)``) and ``__len__`` (the number of batches), or a ``num_batches`` property
(None: endless). ``on_epoch_begin`` and ``on_epoch_end`` are called around every pass. As
in Keras, ``fit(shuffle=True)`` (its default) visits the batches in a new random order
each epoch (Python's ``random``, which ``keras.utils.set_random_seed`` seeds); the batches
themselves are the class's to make. ``workers``, ``use_multiprocessing`` and
``max_queue_size`` are accepted for Keras's signature; batches are made in the training
thread, one at a time.
"""

import itertools

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class of datasets that make batches by index (see the module docstring)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    workers = property(lambda self: getattr(self, "_workers", 1))
    use_multiprocessing = property(lambda self: getattr(self, "_use_multiprocessing", False))
    max_queue_size = property(lambda self: getattr(self, "_max_queue_size", 10))

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), "
                                  f"returning one batch")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(type(self), "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (or a "
                                  f"num_batches property; None for an endless dataset)")

    def on_epoch_begin(self):
        """Called before each pass."""

    def on_epoch_end(self):
        """Called after each pass."""

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]


Sequence = PyDataset  # Keras 3's alias (TF-Keras 2's base class of the same idea)
