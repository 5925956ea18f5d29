"""``keras.utils.split_dataset`` and ``keras.utils.timeseries_dataset_from_array``: arrays
(or a Dataset) as :class:`chainrule.data.Dataset` objects, with Keras's arguments and
checks."""

import random

import numpy as np

from ... import nest
from ...data import Dataset

__all__ = ["split_dataset", "timeseries_dataset_from_array"]


def _split_sizes(left_size, right_size, total):
    """Keras's rule: a float is a fraction (rounded to a count), an int a count; a missing
    side is the rest; neither side may be empty."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"split_dataset: {name} must be an int, a float or None; "
                            f"received {size!r} of type {type(size).__name__}")
        if (type(size) is int and not 0 < size < total) or \
                (type(size) is float and not 0 < size < 1):
            raise ValueError(f"split_dataset: {name} must be a positive integer smaller than "
                             f"{total} or a float in (0, 1); received {name}={size}")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("split_dataset: left_size + right_size is greater than 1")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"split_dataset: left_size + right_size ({left + right}) is more "
                         f"than the {total} samples")
    for side, size in (("left", left), ("right", right)):
        if size == 0:
            raise ValueError(f"split_dataset: with {total} samples, left_size={left} and "
                             f"right_size={right}, the {side} side would be empty")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Two Datasets of samples: the first ``left_size`` and the last ``right_size`` samples
    of ``dataset`` (an array, a tuple or dict of arrays with the same first size, or an
    unbatched Dataset), after shuffling them (``random.Random(seed)``) if asked. A size is a
    count (int) or a fraction (float); give one and the other side is the rest; neither
    means half each."""
    if isinstance(dataset, Dataset):
        samples = list(dataset.as_numpy_iterator())
    else:
        leaves, skeleton = nest.tree_flatten(dataset, list_is_leaf=True)
        arrays = [np.asarray(a) for a in leaves]
        sizes = {len(a) for a in arrays}
        if len(sizes) != 1:
            raise ValueError(f"split_dataset: the arrays must have the same first size; "
                             f"received sizes {sorted(sizes)}")
        samples = [nest.tree_unflatten(skeleton, [a[i] for a in arrays])
                   for i in range(sizes.pop())]
    if left_size is None and right_size is None:
        left_size = 0.5
    total = len(samples)
    if not total:
        raise ValueError("split_dataset: the dataset is empty")
    left, right = _split_sizes(left_size, right_size, total)
    if shuffle:
        random.Random(seed).shuffle(samples)
    return _from_samples(samples[:left]), _from_samples(samples[total - right:])


def _from_samples(samples):
    leaves = [nest.tree_flatten(s, list_is_leaf=True)[0] for s in samples]
    skeleton = nest.tree_flatten(samples[0], list_is_leaf=True)[1]
    stacked = [np.stack([row[i] for row in leaves]) for i in range(len(leaves[0]))]
    return Dataset.from_tensor_slices(nest.tree_unflatten(skeleton, stacked))


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """A Dataset of sliding windows over ``data`` (its first axis is time): window ``i``
    holds the steps ``p, p + sampling_rate, ...`` (``sequence_length`` of them) of
    ``data[start_index:end_index]``, the starts ``p`` going ``sequence_stride`` apart; with
    ``targets``, each window is paired with ``targets[start_index + p]`` (there are at most
    ``len(targets)`` windows). Batched by ``batch_size`` (None: single windows); with
    ``shuffle``, the windows come in a random order (``seed``)."""
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"timeseries_dataset_from_array: start_index must be 0 or "
                             f"greater; received start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"timeseries_dataset_from_array: start_index must be lower "
                             f"than the length of the data ({n}); received {start_index}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be higher than "
                             f"start_index; received start_index={start_index}, "
                             f"end_index={end_index}")
        if end_index >= n:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be lower than "
                             f"the length of the data ({n}); received {end_index}")
        if end_index <= 0:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be higher than "
                             f"0; received {end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be higher than 0; "
                             f"received {name}={value}")
        if value >= n:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be lower than the "
                             f"length of the data ({n}); received {name}={value}")
    start = start_index or 0
    end = n if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    positions = np.arange(0, max(count, 0), sequence_stride)
    if shuffle:
        seed = np.random.randint(1_000_000) if seed is None else seed
        np.random.RandomState(seed).shuffle(positions)
    steps = np.arange(sequence_length) * sampling_rate
    window = np.asarray(data)[start:end]
    windows = window[positions[:, None] + steps[None, :]] if len(positions) else \
        np.zeros((0, sequence_length) + window.shape[1:], window.dtype)
    if targets is not None:
        dataset = Dataset.from_tensor_slices((windows,
                                              np.asarray(targets)[start:end][positions]))
    else:
        dataset = Dataset.from_tensor_slices(windows)
    if batch_size is not None:
        if shuffle:
            dataset = dataset.shuffle(batch_size * 8, seed=seed)
        return dataset.batch(batch_size)
    return dataset.shuffle(1024, seed=seed) if shuffle else dataset
