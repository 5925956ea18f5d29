"""MNIST handwritten digits, returned in the layout of `keras.datasets.mnist`.

The data is one NumPy archive, ``mnist.npz``, holding ``x_train``, ``y_train``,
``x_test`` and ``y_test``. See `load_data` for where it is looked for.
"""

import math
import zipfile
import zlib

import numpy as np

from ._checks import Expected, check_split
from ._files import DatasetCorruptError, locate, memoized

FILE_NAME = "mnist.npz"

# SHA-256 of the canonical download, as published by Keras
# (keras-team/keras, keras/src/datasets/mnist.py, `file_hash`). Only downloads
# are checked against it; local copies are checked by content.
SHA256 = {FILE_NAME: "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"}

_KEYS = ("x_train", "y_train", "x_test", "y_test")

# The full dataset: 60,000 + 10,000 images of 28x28, and how many of each
# digit 0..9 the original IDX files hold. Tests replace this with a small one.
_EXPECTED = Expected(
    train=60000,
    test=10000,
    train_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
)


def load_data(path=None):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``.

    All four are fresh, writable uint8 NumPy arrays: images (60000, 28, 28)
    and (10000, 28, 28) with pixels 0..255, labels (60000,) and (10000,)
    with digits 0..9, in the original order.

    `path` is an ``.npz`` file or a folder holding ``mnist.npz``. Without it
    the file is taken from ``$CHAINRULE_DATASETS/mnist.npz``, chainrule's
    cache (``$CHAINRULE_HOME/datasets`` or ``~/.chainrule/datasets``), Keras's
    cache (``~/.keras/datasets``), or else downloaded into chainrule's cache.

    Raises DatasetNotFoundError (an OSError) when there is no copy and no
    download, and DatasetCorruptError (a ValueError) for a damaged file.
    """
    expected = _EXPECTED
    (file,) = locate("MNIST", (FILE_NAME,), SHA256, path=path)
    x_train, y_train, x_test, y_test = memoized(
        ("mnist", expected), [file], lambda: _read_npz(file, expected)
    )
    return (x_train, y_train), (x_test, y_test)


# What np.load and reading an archive member raise for a damaged file.
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_npz(path, expected):
    """The four arrays from `path`, after checking them against `expected`."""
    try:
        # Opened here: np.load(path) leaves its own file open when the zip is damaged.
        stream = open(path, "rb")
    except OSError as exc:
        raise DatasetCorruptError(f"{path}: not a readable .npz archive ({exc})") from exc
    with stream:
        return _read_arrays(stream, path, expected)


def _read_arrays(stream, path, expected):
    try:
        # Never unpickle: a dataset file must not be able to run code.
        archive = np.load(stream, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise DatasetCorruptError(f"{path}: not a readable .npz archive ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetCorruptError(f"{path}: is a single .npy array, not an .npz archive")
    with archive:
        missing = [key for key in _KEYS if key not in archive.files]
        if missing:
            held = ", ".join(archive.files) or "nothing"
            raise DatasetCorruptError(f"{path}: lacks {', '.join(missing)} (it holds {held})")
        _check_headers(archive, path, expected)
        arrays = {}
        for key in _KEYS:
            try:
                arrays[key] = archive[key]
            except _READ_ERRORS as exc:
                raise DatasetCorruptError(f"{path}: cannot read {key} ({exc})") from exc
    for split, count, counts in (
        ("train", expected.train, expected.train_counts),
        ("test", expected.test, expected.test_counts),
    ):
        check_split(
            arrays[f"x_{split}"], arrays[f"y_{split}"], count, counts, expected,
            f"{path} [x_{split}]", f"{path} [y_{split}]",
        )
    return tuple(arrays[key] for key in _KEYS)


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


def _check_headers(archive, path, expected):
    """Refuses a member whose .npy header declares more data than the dataset has, before
    np.load allocates it (a forged header can declare petabytes)."""
    for key in _KEYS:
        count = expected.train if key.endswith("train") else expected.test
        want = (count, *expected.image_shape) if key.startswith("x") else (count,)
        try:
            with archive.zip.open(f"{key}.npy") as stream:
                version = np.lib.format.read_magic(stream)
                shape, _, dtype = _HEADER_READERS[version](stream)
        except (KeyError, *_READ_ERRORS):
            continue  # reading the member reports it below
        declared = math.prod(shape) * dtype.itemsize
        if not dtype.hasobject and declared > math.prod(want):  # np.load refuses pickles
            what = "images" if key.startswith("x") else "labels"
            raise DatasetCorruptError(
                f"{path} [{key}]: {what} are {dtype} {tuple(shape)} ({declared:,} bytes, as "
                f"its header declares), expected uint8 {want}; not read")
