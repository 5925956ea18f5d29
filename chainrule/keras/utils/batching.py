"""Checking fit/evaluate/predict data and cutting it into batches.

Arrays are checked and converted once per call (floating inputs to float32), never per
batch. A batch is a view (a slice) when the order is sequential and one gather
(``np.take``) when it is shuffled.
"""

import math
import numbers

import numpy as np

from ...tensor import Tensor

__all__ = ["as_array", "check_data", "check_batch_size", "split_validation", "batch_indices",
           "take_batch"]


def as_array(data, what, caller):
    """``data`` (array, Tensor, list) as a NumPy array; floating values as float32."""
    if data is None:
        return None
    if isinstance(data, Tensor):
        data = data._value
    elif isinstance(data, (dict, tuple)) or (isinstance(data, list) and data and
                                             isinstance(data[0], (np.ndarray, Tensor))):
        raise TypeError(f"{caller}: {what} must be a single array (models with several "
                        f"inputs or outputs are not supported); received a {type(data).__name__}")
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
    if len(x) == 0:
        raise ValueError(f"{caller}: x is empty (shape {x.shape}); there are no samples")
    if y is not None and len(y) != len(x):
        raise ValueError(
            f"{caller}: x and y must have the same number of samples (first dimension); "
            f"received x with shape {x.shape} ({len(x)} samples) and y with shape {y.shape} "
            f"({len(y)} samples)")
    return x, y


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
    split_at = int(math.ceil(len(x) * (1 - validation_split)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(f"fit: validation_split={validation_split} leaves "
                         f"{'no training' if split_at == 0 else 'no validation'} samples "
                         f"out of {len(x)}")
    train = (x[:split_at], None if y is None else y[:split_at])
    val = (x[split_at:], None if y is None else y[split_at:])
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
    if isinstance(index, slice):
        return array[index]
    return np.take(array, index, axis=0)


def steps_for(n, batch_size):
    return (n + batch_size - 1) // batch_size
