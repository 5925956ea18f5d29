"""Dataset loaders in the style of `keras.datasets`.

    from chainrule.keras.datasets import mnist, fashion_mnist, imdb, reuters, boston_housing
    (x_train, y_train), (x_test, y_test) = mnist.load_data()

They return plain NumPy arrays and import nothing else from chainrule, so
they work on their own. Files are looked for locally first (the `path`
argument, $CHAINRULE_DATASETS, chainrule's and Keras's caches) and downloaded
only when missing; see `_files` for the details.
"""

from . import boston_housing, fashion_mnist, imdb, mnist, reuters
from ._files import DatasetCorruptError, DatasetNotFoundError

__all__ = ["mnist", "fashion_mnist", "imdb", "reuters", "boston_housing", "DatasetNotFoundError", "DatasetCorruptError"]
