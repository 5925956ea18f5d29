"""Content checks shared by the loaders: the arrays must look like the dataset.

Local copies are verified this way instead of by file hash, because re-saved
or recompressed files hold the same arrays in different bytes.
"""

from dataclasses import dataclass

import numpy as np

from ._files import DatasetCorruptError


@dataclass(frozen=True)
class Expected:
    """What a loader's arrays must look like.

    Each loader keeps one as a module constant describing the full dataset;
    tests substitute a small one so that tiny synthetic files can pass
    through the same code path. Label counts (per class, 0..classes-1) are
    checked only when given.
    """

    train: int
    test: int
    image_shape: tuple = (28, 28)
    classes: int = 10
    train_counts: tuple | None = None
    test_counts: tuple | None = None


def check_split(x, y, count, counts, expected, x_where, y_where):
    """Check one split's images `x` and labels `y`; `*_where` name their
    source (file, or file and key) in the error message."""
    want = (count, *expected.image_shape)
    if x.dtype != np.uint8 or x.shape != want:
        raise DatasetCorruptError(
            f"{x_where}: images are {x.dtype} {x.shape}, expected uint8 {want}"
        )
    if y.dtype != np.uint8 or y.shape != (count,):
        raise DatasetCorruptError(
            f"{y_where}: labels are {y.dtype} {y.shape}, expected uint8 ({count},)"
        )
    if y.size and int(y.max()) >= expected.classes:
        raise DatasetCorruptError(
            f"{y_where}: label {int(y.max())} is outside 0..{expected.classes - 1}"
        )
    if counts is not None:
        found = np.bincount(y, minlength=expected.classes).tolist()
        if found != list(counts):
            raise DatasetCorruptError(
                f"{y_where}: labels per class are {found}, expected {list(counts)}"
            )
