"""``Dataset``: an input pipeline in TensorFlow's ``tf.data`` style, on NumPy arrays.

A Dataset is a recipe: each transformation (``batch``, ``shuffle``, ``map`` ...) returns a
new Dataset and nothing is computed until it is iterated. Every iteration starts afresh,
so a Dataset can be passed to ``fit`` and iterated once per epoch. Elements are nested
structures (tuples, dicts, lists) of arrays; iterating yields them as chainrule Tensors.

Differences from TensorFlow, all in what runs rather than what comes out: ``map`` calls
its function in Python, once per element, on Tensors (TensorFlow traces it into a graph);
``prefetch`` and ``cache`` change nothing (there is no background thread to feed).
"""

import numpy as np

from .. import nest
from .. import random as _random
from ..tensor import Tensor, _to_array as _python_value_to_array

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


class Dataset:
    """A sequence of elements built by the class methods below and transformed by the
    methods that return Datasets.

    >>> import numpy as np
    >>> from chainrule.data import Dataset
    >>> ds = Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10)).batch(2)
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4], [40])]
    """

    def __init__(self, make_iterator, cardinality):
        # make_iterator(): a fresh iterator of elements (nested structures of NumPy arrays)
        self._make_iterator = make_iterator
        self._cardinality = cardinality

    # -- sources -------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per entry along the first axis of every array in ``tensors`` (an
        array, a tuple, a dict, or nested ones); all must have the same first size."""
        leaves, skeleton = nest.tree_flatten(tensors, list_is_leaf=True)
        arrays = [_to_array(leaf) for leaf in leaves]
        if not arrays:
            raise ValueError("from_tensor_slices: needs at least one array")
        for a in arrays:
            if a.ndim == 0:
                raise ValueError("from_tensor_slices: every component needs a first axis to "
                                 "slice; received a scalar")
        sizes = {len(a) for a in arrays}
        if len(sizes) > 1:
            raise ValueError(f"from_tensor_slices: all components need the same first "
                             f"dimension; received sizes {sorted(sizes)}")
        n = sizes.pop()

        def make():
            for i in range(n):
                yield nest.tree_unflatten(skeleton, [a[i] for a in arrays])
        return Dataset(make, n)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of one element: ``tensors`` itself."""
        leaves, skeleton = nest.tree_flatten(tensors, list_is_leaf=True)
        arrays = [_to_array(leaf) for leaf in leaves]
        return Dataset(lambda: iter([nest.tree_unflatten(skeleton, arrays)]), 1)

    @staticmethod
    def range(*args, dtype="int64", name=None):
        """Like Python's ``range``, as a dataset of scalars."""
        r = range(*args)
        return Dataset(lambda: (np.asarray(v, dtype) for v in r), len(r))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """Elements from a Python generator function, called afresh at each iteration."""
        if not callable(generator):
            raise TypeError("from_generator: generator must be a callable that returns an "
                            "iterator (pass the function, not a generator object)")
        call_args = tuple(args or ())

        def make():
            for element in generator(*call_args):
                yield _map_structure(_to_array, element, as_leaf_list=True)
        return Dataset(make, UNKNOWN_CARDINALITY)

    @staticmethod
    def zip(*datasets, name=None):
        """Elements paired up: ``zip((a, b))`` yields ``(a_i, b_i)`` until one runs out."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list, dict)):
            datasets = datasets[0]
        structure = datasets
        leaves, skeleton = nest.tree_flatten(structure)
        for d in leaves:
            if not isinstance(d, Dataset):
                raise TypeError(f"zip: expected Datasets; received {type(d).__name__}")

        def make():
            for items in zip(*[iter(d._make_iterator()) for d in leaves]):
                yield nest.tree_unflatten(skeleton, items)
        return Dataset(make, _min_cardinality([d._cardinality for d in leaves]))

    # -- transformations -----------------------------------------------------------------
    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Consecutive elements stacked into batches of ``batch_size`` (the last one may be
        shorter, unless ``drop_remainder``)."""
        batch_size = _positive(batch_size, "batch")
        source = self

        def make():
            buffer = []
            for element in source._make_iterator():
                buffer.append(element)
                if len(buffer) == batch_size:
                    yield _stack(buffer)
                    buffer = []
            if buffer and not drop_remainder:
                yield _stack(buffer)
        n = self._cardinality
        if n >= 0:
            n = n // batch_size if drop_remainder else -(-n // batch_size)
        return Dataset(make, n)

    def unbatch(self, name=None):
        """The inverse of ``batch``: each batch split back into its elements."""
        source = self

        def make():
            for element in source._make_iterator():
                leaves, skeleton = nest.tree_flatten(element)
                for i in range(len(leaves[0])):
                    yield nest.tree_unflatten(skeleton, [leaf[i] for leaf in leaves])
        return Dataset(make, UNKNOWN_CARDINALITY if self._cardinality != INFINITE_CARDINALITY
                       else INFINITE_CARDINALITY)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Elements in random order, drawn from a buffer of ``buffer_size`` (a buffer at
        least as large as the dataset shuffles it uniformly). With a ``seed`` the orders
        are repeatable; each new iteration (epoch) draws a new order unless
        ``reshuffle_each_iteration=False``. Without one, the seed comes from chainrule's
        generator (so ``keras.utils.set_random_seed`` makes it repeatable)."""
        buffer_size = _positive(buffer_size, "shuffle", allow_autotune=False)
        source = self
        base = int(_random.generator().integers(2**63)) if seed is None else int(seed)
        epochs = [0]

        def make():
            epoch = epochs[0]
            if reshuffle_each_iteration:
                epochs[0] += 1
            rng = np.random.default_rng([base, epoch])
            buffer = []
            for element in source._make_iterator():
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                i = int(rng.integers(len(buffer)))
                yield buffer[i]
                buffer[i] = element
            while buffer:
                i = int(rng.integers(len(buffer)))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                yield buffer.pop()
        return Dataset(make, self._cardinality)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func`` applied to every element (a tuple element is unpacked into
        arguments, as TensorFlow does); the function receives and returns Tensors."""
        source = self

        def make():
            for element in source._make_iterator():
                args = _map_structure(Tensor._wrap, element)
                out = map_func(*args) if isinstance(element, tuple) else map_func(args)
                yield _map_structure(_to_array, out, as_leaf_list=True)
        return Dataset(make, self._cardinality)

    def filter(self, predicate, name=None):
        """The elements for which ``predicate`` (called like ``map``'s function) is true."""
        source = self

        def make():
            for element in source._make_iterator():
                args = _map_structure(Tensor._wrap, element)
                keep = predicate(*args) if isinstance(element, tuple) else predicate(args)
                if bool(np.asarray(keep)):
                    yield element
        return Dataset(make, UNKNOWN_CARDINALITY if self._cardinality != INFINITE_CARDINALITY
                       else INFINITE_CARDINALITY)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them for ``count=-1``)."""
        count = int(count)
        if count < 0:
            return self
        source = self

        def make():
            if count == 0:
                return
            for i, element in enumerate(source._make_iterator()):
                yield element
                if i + 1 >= count:
                    return
        n = self._cardinality
        return Dataset(make, count if n == INFINITE_CARDINALITY else
                       (min(n, count) if n >= 0 else UNKNOWN_CARDINALITY))

    def skip(self, count, name=None):
        """All but the first ``count`` elements (none for ``count=-1``)."""
        count = int(count)
        source = self

        def make():
            if count < 0:
                return
            for i, element in enumerate(source._make_iterator()):
                if i >= count:
                    yield element
        n = self._cardinality
        if count < 0:
            n = 0
        elif n >= 0:
            n = max(n - count, 0)
        return Dataset(make, n)

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (forever when ``count`` is None or -1); each
        pass is a new iteration, so a ``shuffle`` before it reshuffles every pass."""
        count = -1 if count is None else int(count)
        source = self

        def make():
            k = 0
            while count < 0 or k < count:
                empty = True
                for element in source._make_iterator():
                    empty = False
                    yield element
                k += 1
                if empty:
                    return
        n = self._cardinality
        if count < 0:
            n = 0 if n == 0 else INFINITE_CARDINALITY
        elif n >= 0:
            n = n * count
        return Dataset(make, n)

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s."""
        first, second = self, dataset

        def make():
            yield from first._make_iterator()
            yield from second._make_iterator()
        a, b = self._cardinality, dataset._cardinality
        n = INFINITE_CARDINALITY if INFINITE_CARDINALITY in (a, b) else \
            (a + b if a >= 0 and b >= 0 else UNKNOWN_CARDINALITY)
        return Dataset(make, n)

    def enumerate(self, start=0, name=None):
        """``(index, element)`` pairs."""
        source = self

        def make():
            for i, element in enumerate(source._make_iterator(), start):
                yield (np.asarray(i, np.int64), element)
        return Dataset(make, self._cardinality)

    def prefetch(self, buffer_size, name=None):
        """The same dataset: elements are produced on demand, so there is nothing to
        prepare ahead (accepted for compatibility)."""
        return self

    def cache(self, filename="", name=None):
        """The same dataset (accepted for compatibility; elements are cheap to remake)."""
        return self

    def with_options(self, options, name=None):
        return self

    # -- reading -------------------------------------------------------------------------
    def __iter__(self):
        for element in self._make_iterator():
            yield _map_structure(Tensor._wrap, element)

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy arrays rather than Tensors."""
        return iter(self._make_iterator())

    def cardinality(self):
        """The number of elements, or ``INFINITE_CARDINALITY`` (-1) /
        ``UNKNOWN_CARDINALITY`` (-2), as an int64 scalar tensor."""
        return Tensor._wrap(np.asarray(self._cardinality, np.int64))

    def __len__(self):
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality < 0:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __repr__(self):
        n = {INFINITE_CARDINALITY: "infinite", UNKNOWN_CARDINALITY: "unknown"}.get(
            self._cardinality, self._cardinality)
        return f"<chainrule.data.Dataset: {n} elements>"


# -- element structures ------------------------------------------------------------------------

def _map_structure(fn, obj, as_leaf_list=False):
    leaves, skeleton = nest.tree_flatten(obj, as_leaf_list)
    return nest.tree_unflatten(skeleton, [fn(leaf) for leaf in leaves])


def _to_array(value):
    """A leaf as a NumPy array, with TensorFlow's dtype rules for Python values (floats
    become float32, ints int32); NumPy arrays and Tensors keep their dtype."""
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(_python_value_to_array(value))


def _stack(elements):
    leaves_per = []
    skeleton = None
    for element in elements:
        leaves, skeleton = nest.tree_flatten(element)
        leaves_per.append(leaves)
    stacked = []
    for parts in zip(*leaves_per):
        shapes = {np.shape(p) for p in parts}
        if len(shapes) > 1:
            raise ValueError(f"batch: elements of different shapes {sorted(shapes)} cannot "
                             f"be stacked into one batch; make them one shape first (e.g. "
                             f"with map, or keras.utils.pad_sequences)")
        stacked.append(np.stack(parts))
    return nest.tree_unflatten(skeleton, stacked)


def _positive(value, op, allow_autotune=False):
    if isinstance(value, Tensor):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{op}: expected a positive integer; received {value!r}")
    return int(value)


def _min_cardinality(values):
    finite = [v for v in values if v >= 0]
    if finite:
        return min(finite)
    return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in values else INFINITE_CARDINALITY
