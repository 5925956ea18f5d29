"""Boston house prices (506 suburbs, 13 features, the median value in k$), in the layout
of ``keras.datasets.boston_housing``. (The data include a feature built on a racial
assumption; Keras warns against using it except to discuss such problems.)"""

import numpy as np

from ._files import DatasetCorruptError, locate, memoized
from ._npz import load_npz

FILE_NAME = "boston_housing.npz"

# Keras's published SHA-256 (keras/src/datasets/boston_housing.py, `file_hash`).
HASHES = {FILE_NAME: "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"}

_EXPECTED = {"samples": 506, "features": 13}


def load_data(path=None, test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: float64 features ``(n, 13)`` and prices
    ``(n,)``, shuffled with ``seed``, the first ``1 - test_split`` for training."""
    if not 0 <= test_split < 1:
        raise ValueError(f"boston_housing.load_data: test_split must be in [0, 1); "
                         f"received {test_split}")
    (file,) = locate("Boston housing", (FILE_NAME,), HASHES, path=path)
    expected = dict(_EXPECTED)
    x, y = memoized(("boston", tuple(expected.items())), [file], lambda: _read(file, expected))
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


def _read(file, expected):
    arrays = load_npz(file, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    shape = (expected["samples"], expected["features"])
    if x.shape != shape or y.shape != shape[:1] or x.dtype.kind != "f" or y.dtype.kind != "f":
        raise DatasetCorruptError(f"{file}: expected features {shape} and prices "
                                  f"{shape[:1]} (floats), found {x.shape} {x.dtype} and "
                                  f"{y.shape} {y.dtype}")
    return x, y
