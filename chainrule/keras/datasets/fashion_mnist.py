"""Fashion-MNIST clothing images, returned in the layout of
`keras.datasets.fashion_mnist`.

The data is four IDX files (usually gzip-compressed) kept together in a
``fashion-mnist`` folder. See `load_data` for where they are looked for.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
"""

import numpy as np

from ._checks import Expected, check_split
from ._files import locate, memoized
from ._idx import read_idx

SUBDIR = "fashion-mnist"
FILE_NAMES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

# SHA-256 of the canonical downloads, as published by Keras
# (keras-team/keras, keras/src/datasets/fashion_mnist.py, FILE_HASHES); the
# same values are listed for Zalando's upstream files elsewhere. Only
# downloads are checked against them: local copies are often recompressed,
# so those are checked by their decompressed content instead.
SHA256 = {
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}

# The full dataset: 60,000 + 10,000 images of 28x28, balanced classes.
# Tests replace this with a small one.
_EXPECTED = Expected(
    train=60000, test=10000, train_counts=(6000,) * 10, test_counts=(1000,) * 10
)


def load_data(path=None):
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``.

    All four are fresh, writable uint8 NumPy arrays: images (60000, 28, 28)
    and (10000, 28, 28) with pixels 0..255, labels (60000,) and (10000,)
    with classes 0..9, in the original order.

    `path` is a folder holding the four IDX files (``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``; uncompressed copies without ``.gz`` also
    do), directly or in a ``fashion-mnist`` subfolder. Without it they are
    taken from ``$CHAINRULE_DATASETS/fashion-mnist/``, chainrule's cache
    (``$CHAINRULE_HOME/datasets/fashion-mnist`` or
    ``~/.chainrule/datasets/fashion-mnist``), Keras's cache
    (``~/.keras/datasets/fashion-mnist``), or else downloaded into chainrule's
    cache.

    Raises DatasetNotFoundError (an OSError) when there is no copy and no
    download, and DatasetCorruptError (a ValueError) for a damaged file.
    """
    expected = _EXPECTED
    paths = locate("Fashion-MNIST", FILE_NAMES, SHA256, subdir=SUBDIR, path=path)
    x_train, y_train, x_test, y_test = memoized(
        ("fashion_mnist", expected), paths, lambda: _read(paths, expected)
    )
    return (x_train, y_train), (x_test, y_test)


def _read(paths, expected):
    """Parse and check the four files (in FILE_NAMES order)."""
    train_labels, train_images, test_labels, test_images = paths
    arrays = []
    for images, labels, count, counts in (
        (train_images, train_labels, expected.train, expected.train_counts),
        (test_images, test_labels, expected.test, expected.test_counts),
    ):
        x = read_idx(images, ndim=1 + len(expected.image_shape), dtype=np.uint8)
        y = read_idx(labels, ndim=1, dtype=np.uint8)
        check_split(x, y, count, counts, expected, images, labels)
        arrays += [x, y]
    return arrays
