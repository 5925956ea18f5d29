"""What ``fit``, ``evaluate`` and ``predict`` iterate: batches of Tensors, from arrays or
from a :class:`chainrule.data.Dataset`.

Arrays are checked once, then cut into batches of ``batch_size`` (shuffled per epoch when
asked, see :mod:`.batching`). A Dataset is already batched: each element is one batch,
``(x, y)`` for training and evaluation, ``x`` (or ``(x, ...)``) for prediction, and
``batch_size`` must not be given (as in Keras); an element may also be
``(x, y, sample_weight)``, or ``x`` alone when the model needs no targets (its losses come
from ``add_loss``, or its ``train_step`` is its own): the step then gets the element as
it is. A shuffle inside the Dataset reshuffles
at every epoch, because every epoch iterates it afresh.
"""

import itertools
import random
import warnings

import numpy as np

from ...data import INFINITE_CARDINALITY, Dataset
from ...tensor import Tensor
from . import batching
from .py_dataset import PyDataset

__all__ = ["is_dataset", "adapt", "adapt_validation", "ArrayBatches", "DatasetBatches",
           "DatasetEpochs"]


def is_dataset(x):
    """Whether ``x`` is already batched: a Dataset or a PyDataset."""
    return isinstance(x, (Dataset, PyDataset))


def adapt(x, y, batch_size, caller, shuffle=False, targets=True):
    """The batches of ``x`` (and ``y``) for ``caller``; ``targets`` says whether the loop
    needs labels (fit, evaluate) or not (predict)."""
    if isinstance(x, PyDataset):
        return PyDatasetBatches(x, y, batch_size, caller, targets, shuffle)
    if is_dataset(x):
        return DatasetBatches(x, y, batch_size, caller, targets)
    return ArrayBatches(x, y, batch_size, caller, shuffle, targets)


def adapt_validation(validation_data, batch_size):
    """``fit``'s ``validation_data``: an ``(x_val, y_val)`` pair or a Dataset."""
    if isinstance(validation_data, PyDataset):
        return PyDatasetBatches(validation_data, None, None, "fit (validation_data)", True)
    if is_dataset(validation_data):
        return DatasetBatches(validation_data, None, None, "fit (validation_data)", True)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("fit: validation_data must be a pair (x_val, y_val) or a "
                         "chainrule.data.Dataset of (x, y) batches")
    return ArrayBatches(validation_data[0], validation_data[1], batch_size,
                        "fit (validation_data)", False, True)


class ArrayBatches:
    """NumPy arrays (or Tensors, lists) cut into batches."""

    def __init__(self, x, y, batch_size, caller, shuffle=False, targets=True):
        self.batch_size = batching.check_batch_size(batch_size, caller)
        self.x, self.y = batching.check_data(x, y, caller)
        self.shuffle, self.targets = shuffle, targets

    @property
    def steps(self):
        return batching.steps_for(len(self.x), self.batch_size)

    def sample_x(self):
        return self.x

    def split(self, validation_split):
        """``(train, validation)``: the last fraction held out, as Keras does."""
        (x, y), (xv, yv) = batching.split_validation(self.x, self.y, validation_split)
        train = _replace(self, x, y)
        val = _replace(self, xv, yv)
        val.shuffle = False
        return train, val

    def batches(self, rng=None):
        for index in batching.batch_indices(len(self.x), self.batch_size,
                                            self.shuffle and rng is not None, rng):
            x = Tensor._wrap(batching.take_batch(self.x, index))
            if not self.targets or self.y is None:
                yield x
            else:
                yield x, Tensor._wrap(batching.take_batch(self.y, index))


def _replace(data, x, y):
    clone = object.__new__(ArrayBatches)
    clone.__dict__.update(data.__dict__, x=x, y=y)
    return clone


class DatasetBatches:
    """A Dataset whose elements are batches."""

    def __init__(self, dataset, y, batch_size, caller, targets=True):
        if y is not None:
            raise ValueError(f"{caller}: y must not be given when x is a Dataset (its "
                             f"elements already hold the targets, as (x, y) pairs)")
        if batch_size is not None:
            raise ValueError(f"{caller}: batch_size must not be given when x is a Dataset "
                             f"(it is already batched: use dataset.batch(n))")
        self.dataset, self.caller, self.targets = dataset, caller, targets
        self._steps = None

    @property
    def endless(self):
        return int(self.dataset.cardinality()) == INFINITE_CARDINALITY

    def steps_up_to(self, limit, name="steps"):
        """How many batches a loop that takes at most ``limit`` of them (None: all) runs;
        an endless Dataset needs the limit."""
        if limit is None and self.endless:
            raise ValueError(f"{self.caller}: the Dataset is infinite (repeat() with no count); "
                             f"give {name}, or give the Dataset an end with take(n) or "
                             f"repeat(count)")
        return limit if self.endless else min(self.steps, limit or self.steps)

    def epochs(self, steps_per_epoch):
        """``fit``'s epochs over the Dataset (see :class:`DatasetEpochs`)."""
        return DatasetEpochs(self, steps_per_epoch)

    @property
    def steps(self):
        if self._steps is None:
            n = int(self.dataset.cardinality())
            if n == INFINITE_CARDINALITY:
                raise ValueError(f"{self.caller}: the Dataset is infinite (repeat() with no "
                                 f"count); give it an end with take(n) or repeat(count)")
            if n < 0:  # unknown (after filter): count the batches of one pass
                n = sum(1 for _ in self.dataset.as_numpy_iterator())
            if n == 0:
                raise ValueError(f"{self.caller}: the Dataset is empty")
            self._steps = n
        return self._steps

    def sample_x(self):
        """The inputs of the first batch (for building the model before tracing)."""
        for element in self.dataset.as_numpy_iterator():
            return self._inputs(element)
        raise ValueError(f"{self.caller}: the Dataset is empty")

    def split(self, validation_split):
        raise ValueError("fit: validation_split is not supported when x is a Dataset (it "
                         "cannot be cut without reading it); pass validation_data instead")

    def batches(self, rng=None):
        for element in self.dataset.as_numpy_iterator():
            yield self._split(element) if self.targets else _wrap_all(self._inputs(element))

    @staticmethod
    def _inputs(element):
        return element[0] if isinstance(element, tuple) else element

    def _split(self, element, wrap=True):
        if isinstance(element, tuple) and len(element) > 3:
            raise ValueError(f"{self.caller}: each element of the Dataset must be an (x, y) "
                             f"pair of batches (or (x, y, sample_weight), or x alone); "
                             f"received {_describe(element)}")
        if not isinstance(element, tuple):  # x alone: the step gets it as it is, as in Keras
            return _wrap_all(element) if wrap else element
        # (x,), (x, y) or (x, y, sample_weight): train_step and test_step unpack each.
        return element if not wrap else tuple(_wrap_all(part) for part in element)


class PyDatasetBatches(DatasetBatches):
    """A :class:`~.py_dataset.PyDataset`: batch ``i`` is ``dataset[i]``; with ``shuffle``
    the indices are visited in a new random order every pass (as Keras does)."""

    def __init__(self, dataset, y, batch_size, caller, targets=True, shuffle=False):
        if y is not None:
            raise ValueError(f"{caller}: y must not be given when x is a PyDataset (its "
                             f"batches already hold the targets, as (x, y) pairs)")
        if batch_size is not None:
            raise ValueError(f"{caller}: batch_size must not be given when x is a PyDataset "
                             f"(its __getitem__ returns whole batches)")
        self.dataset, self.caller, self.targets, self.shuffle = dataset, caller, targets, shuffle
        self._steps = None

    @property
    def endless(self):
        return self.dataset.num_batches is None

    @property
    def steps(self):
        if self._steps is None:
            n = self.dataset.num_batches
            if n is None:
                raise ValueError(f"{self.caller}: the PyDataset is endless (num_batches is "
                                 f"None); give steps_per_epoch or steps")
            if n == 0:
                raise ValueError(f"{self.caller}: the PyDataset has no batches (len 0)")
            self._steps = int(n)
        return self._steps

    def sample_x(self):
        return self._inputs(_tupled(self.dataset[0]))

    def batches(self, rng=None):
        self.dataset.on_epoch_begin()
        if self.endless:
            indices = itertools.count()
        else:
            indices = list(range(self.steps))
            if self.shuffle:
                random.shuffle(indices)
        for i in indices:
            element = _tupled(self.dataset[i])
            yield self._split(element) if self.targets else _wrap_all(self._inputs(element))
        self.dataset.on_epoch_end()


def _tupled(element):
    # A batch given as a list [x, y] is the pair (x, y), as Keras reads it.
    return tuple(element) if isinstance(element, list) else element


class DatasetEpochs:
    """The batches of each epoch of ``fit`` from a Dataset, as :class:`.batching.EpochBatches`
    gives them from arrays: without ``steps_per_epoch`` an epoch is one pass; with it, an
    epoch is that many batches and the next one continues the same pass (an endless Dataset
    never ends it); a pass that ends early ends the epoch there, with Keras's warning, and
    the next epoch starts a new pass."""

    def __init__(self, data, steps_per_epoch):
        self.data = data
        self.steps_per_epoch = batching.check_steps(steps_per_epoch, "steps_per_epoch", "fit")
        self.steps = data.steps_up_to(steps_per_epoch, "steps_per_epoch")
        self.num_batches = None if data.endless else data.steps
        self._iterator, self._seen = None, 0

    def epoch(self):
        if self.steps_per_epoch is None:
            yield from self.data.batches()
            return
        if self._iterator is None:
            self._iterator, self._seen = self.data.batches(), 0
        ends = self.num_batches
        for _ in range(self.steps_per_epoch):
            if ends is not None and self._seen >= ends:
                warnings.warn(batching.RAN_OUT, stacklevel=3)
                break
            self._seen += 1
            yield next(self._iterator)
        if ends is not None and self._seen >= ends:
            self._iterator = None


def _wrap_all(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and obj.dtype != np.float32:
            obj = obj.astype(np.float32)  # Keras's floatx, as arrays given to fit become
        return Tensor._wrap(obj)
    if isinstance(obj, dict):
        return {k: _wrap_all(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_wrap_all(v) for v in obj)
    return obj


def _describe(element):
    if isinstance(element, tuple):
        return f"a tuple of {len(element)}"
    return f"a single {type(element).__name__} (no targets)"
