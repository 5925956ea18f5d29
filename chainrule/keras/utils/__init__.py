"""``keras.utils``: seeding, session reset, one-hot encoding, image folders as Datasets, and
the helpers fit uses."""

import random as _py_random

import numpy as np

from ... import random as _random
from ..layers.layer import reset_names
from .batching import unpack_x_y_sample_weight
from .image import array_to_img, save_img
from .image_dataset import image_dataset_from_directory, img_to_array, load_img
from .model_plot import model_to_dot, plot_model
from .progbar import Progbar
from .sequence import pad_sequences

__all__ = ["set_random_seed", "clear_session", "to_categorical", "pad_sequences", "Progbar",
           "plot_model", "model_to_dot", "unpack_x_y_sample_weight",
           "image_dataset_from_directory", "load_img", "img_to_array", "array_to_img",
           "save_img"]


def set_random_seed(seed):
    """Seeds every generator a training run uses: chainrule's (weights, shuffling,
    dropout), NumPy's global one and Python's ``random``."""
    if not isinstance(seed, int):
        raise TypeError(f"set_random_seed: seed must be an int; received {seed!r}")
    _random.set_seed(seed)
    np.random.seed(seed)
    _py_random.seed(seed)


def clear_session():
    """Restarts layer naming (the next Dense is ``dense`` again)."""
    reset_names()


def to_categorical(x, num_classes=None):
    """Integer class labels as one-hot float32 rows: ``to_categorical([1, 0], 3)``."""
    labels = np.asarray(x).astype(np.int64)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    out = np.zeros(labels.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out
