"""Checking fit/evaluate/predict data and cutting it into batches.

Arrays are checked and converted once per call (floating inputs to float32), never per
batch. A batch is a view (a slice) when the order is sequential and one gather
(``np.take``) when it is shuffled.
"""

import math
import numbers
import warnings

import numpy as np

from ...tensor import Tensor
from ... import nest

__all__ = ["as_array", "check_data", "check_batch_size", "split_validation", "batch_indices",
           "take_batch", "num_samples", "class_weight_to_sample_weights", "check_sample_weight",
           "unpack_x_y_sample_weight", "EpochBatches"]


def as_array(data, what, caller):
    """``data`` (array, Tensor, list) as a NumPy array; floating values as float32. A dict,
    a tuple, or a list of arrays (a model with several inputs or outputs) is converted
    entry by entry and keeps its structure."""
    if data is None:
        return None
    if isinstance(data, Tensor):
        data = data._value
    elif isinstance(data, (dict, tuple)) or (isinstance(data, list) and data and
                                             isinstance(data[0], (np.ndarray, Tensor))):
        if isinstance(data, dict):
            return {k: as_array(v, f"{what}[{k!r}]", caller) for k, v in data.items()}
        return [as_array(v, f"{what}[{i}]", caller) for i, v in enumerate(data)]
    try:
        array = np.asarray(data)
    except ValueError as e:
        ragged = _ragged(data)
        if ragged is None:
            raise
        raise ValueError(
            f"{caller}: {what} is ragged: {ragged}. Every sample must have the same shape; pad "
            f"the rows to one length (or cut them) and pass one NumPy array") from e
    if array.dtype.kind == "f" and array.dtype != np.float32:
        array = array.astype(np.float32)  # once for the whole call, not per batch
    elif array.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: {what} must be numeric; received dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError(f"{caller}: {what} must have a batch (first) axis; received a scalar")
    return array


def _ragged(data):
    """Where nested sequences first differ in length, in words; None if they do not."""
    level, dim = [data], 0
    while level:
        sized = [item for item in level if isinstance(item, (list, tuple, np.ndarray))]
        if not sized:
            return None
        lengths = sorted({len(item) for item in sized})
        if len(sized) != len(level):
            return f"at dimension {dim}, some entries are sequences and some are scalars"
        if len(lengths) > 1:
            shown = ", ".join(map(str, lengths[:5])) + (", ..." if len(lengths) > 5 else "")
            return f"dimension {dim} has different lengths ({shown})"
        level, dim = [inner for item in sized for inner in item], dim + 1
    return None


def check_data(x, y, caller):
    """Checked ``(x, y)`` arrays: present, non-empty, with equal numbers of samples."""
    if x is None:
        raise ValueError(f"{caller}: x is required (the input samples)")
    x = as_array(x, "x", caller)
    y = as_array(y, "y", caller)
    if nest.is_nested(x) or nest.is_nested(y):
        sizes = {len(a) for a in nest.flatten((x, y)) if a is not None}
        if len(sizes) > 1:
            shapes = nest.map_structure(lambda a: a.shape, (x, y))
            raise ValueError(f"{caller}: every input and target array must have the same "
                             f"number of samples (first dimension); received shapes "
                             f"x: {shapes[0]}, y: {shapes[1]}")
        if not sizes or sizes == {0}:
            raise ValueError(f"{caller}: x is empty; there are no samples")
        return x, y
    if len(x) == 0:
        raise ValueError(f"{caller}: x is empty (shape {x.shape}); there are no samples")
    if y is not None and len(y) != len(x):
        raise ValueError(
            f"{caller}: x and y must have the same number of samples (first dimension); "
            f"received x with shape {x.shape} ({len(x)} samples) and y with shape {y.shape} "
            f"({len(y)} samples)")
    return x, y


def num_samples(data):
    """The number of samples (first dimension) of an array or a structure of arrays."""
    return len(nest.flatten(data)[0])


def check_batch_size(batch_size, caller, default=32):
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be a positive integer; received "
                         f"batch_size={batch_size!r}")
    return int(batch_size)


def split_validation(x, y, validation_split):
    """Keeps the *last* ``validation_split`` fraction for validation (taken before any
    shuffling, as Keras does); returns ``(x_train, y_train), (x_val, y_val)`` as views."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1); received {validation_split}")
    n = num_samples(x)
    split_at = int(math.ceil(n * (1 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"fit: validation_split={validation_split} leaves "
                         f"{'no training' if split_at == 0 else 'no validation'} samples "
                         f"out of {n}")
    train = tuple(None if a is None else take_batch(a, slice(None, split_at)) for a in (x, y))
    val = tuple(None if a is None else take_batch(a, slice(split_at, None)) for a in (x, y))
    return train, val


def batch_indices(n, batch_size, shuffle=False, rng=None):
    """Yields one index per batch: a slice (sequential) or an index array (shuffled).
    The last batch keeps the remainder (60000 samples by 128: 468 full batches and 96)."""
    if shuffle:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]
    else:
        for start in range(0, n, batch_size):
            yield slice(start, min(start + batch_size, n))


def take_batch(array, index):
    """The rows of ``array`` at ``index`` (a view for a slice, one gather for indices)."""
    if array is None:
        return None
    if nest.is_nested(array):
        return nest.map_structure(lambda a: take_batch(a, index), array)
    if isinstance(index, slice):
        return array[index]
    return np.take(array, index, axis=0)


def steps_for(n, batch_size):
    return (n + batch_size - 1) // batch_size


def class_weight_to_sample_weights(y, class_weight):
    """One weight per sample, ``class_weight[class]`` (1.0 for classes not listed), the
    class read from ``y`` as Keras does: the argmax of one-hot rows, else the rounded
    label."""
    if nest.is_nested(y):
        raise ValueError("`class_weight` is only supported for Models with a single output.")
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        classes = y.argmax(-1)
    else:
        classes = np.round(y.reshape(len(y), -1)[:, 0] if y.ndim >= 2 else y).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table.get(int(c), 1.0) for c in classes.reshape(-1)], np.float32)


def check_sample_weight(sample_weight, y, caller):
    """``sample_weight`` as float32 arrays (a structure of them for several outputs) of
    the targets' length."""
    if sample_weight is None:
        return None
    weights = as_array(sample_weight, "sample_weight", caller)
    weights = nest.map_structure(lambda a: a.astype(np.float32, copy=False), weights)
    n = num_samples(y)
    for w in nest.flatten(weights):
        if len(w) != n:
            raise ValueError(f"{caller}: sample_weight has {len(w)} entries but there are "
                             f"{n} samples")
    return weights


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch ``(x,)``, ``(x, y)`` or ``(x, y, weights)``
    (missing parts are None); anything else is ``x`` alone."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"a batch must be (x,), (x, y) or (x, y, sample_weight); received a "
                     f"tuple of {len(data)}")


RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset "
           "or generator can generate at least `steps_per_epoch * epochs` batches.")


def check_steps(steps, name, caller):
    """``steps`` (``steps_per_epoch``, ``validation_steps``, ``steps``): None or a positive
    integer."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                              or steps < 1):
        raise ValueError(f"{caller}: {name} must be a positive integer or None; received "
                         f"{steps!r}")
    return steps


class EpochBatches:
    """The batch indices of each epoch of ``fit``.

    Each pass over the data is shuffled from ``(seed, pass number)`` (so a resumed fit
    replays the same batches). Without ``steps_per_epoch`` an epoch is one pass. With it,
    an epoch is that many batches, and the next epoch continues the same pass; when the
    pass ends early the epoch ends there, with Keras's warning, and the next epoch starts
    a new pass."""

    def __init__(self, n, batch_size, shuffle, steps_per_epoch=None):
        check_steps(steps_per_epoch, "steps_per_epoch", "fit")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.steps_per_epoch = steps_per_epoch
        self.num_batches = steps_for(n, batch_size)
        self.steps = steps_per_epoch or self.num_batches
        self._pass = self._iterator = None
        self._seen = 0

    def _new_pass(self, seed, number):
        rng = np.random.default_rng([seed, number])
        return batch_indices(self.n, self.batch_size, self.shuffle, rng)

    def epoch(self, seed, epoch):
        if self.steps_per_epoch is None:
            yield from self._new_pass(seed, epoch)
            return
        if self._iterator is None:
            self._pass = epoch if self._pass is None else self._pass + 1
            self._iterator, self._seen = self._new_pass(seed, self._pass), 0
        for _ in range(self.steps_per_epoch):
            if self._seen >= self.num_batches:
                warnings.warn(RAN_OUT, stacklevel=3)
                break
            self._seen += 1
            yield next(self._iterator)
        if self._seen >= self.num_batches:
            self._iterator = None
