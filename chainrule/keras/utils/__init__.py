"""``keras.utils``: seeding, session reset, one-hot encoding, image folders and time series
as Datasets, ``PyDataset``, custom objects and Keras's serialization by name, and the
helpers fit uses."""

import random as _py_random

import numpy as np

from ... import ops as _ops
from ... import random as _random
from ...tensor import Tensor as _Tensor
from .._registry import CustomObjectScope, get_custom_objects
from ..layers.keras_tensor import KerasTensor as _KerasTensor
from ..layers.layer import reset_names
from .batching import unpack_x_y_sample_weight
from .dataset_utils import split_dataset, timeseries_dataset_from_array
from .py_dataset import PyDataset, Sequence
from .serialization import (deserialize_keras_object, get_registered_name,
                            get_registered_object, serialize_keras_object)
from .image import array_to_img, save_img
from .image_dataset import image_dataset_from_directory, img_to_array, load_img
from .model_plot import model_to_dot, plot_model
from .progbar import Progbar
from .sequence import pad_sequences

__all__ = ["set_random_seed", "clear_session", "to_categorical", "pad_sequences", "Progbar",
           "plot_model", "model_to_dot", "unpack_x_y_sample_weight",
           "image_dataset_from_directory", "load_img", "img_to_array", "array_to_img",
           "save_img", "PyDataset", "Sequence", "pack_x_y_sample_weight", "normalize",
           "split_dataset", "timeseries_dataset_from_array", "get_source_inputs",
           "is_keras_tensor", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
           "serialize_keras_object", "deserialize_keras_object", "get_registered_name",
           "get_registered_object"]

custom_object_scope = CustomObjectScope  # Keras's two names for it


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


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The tuple a batch is written as: ``(x,)`` without targets (``x`` itself when it is
    not a tuple or list), ``(x, y)``, or ``(x, y, sample_weight)``; the reverse of
    :func:`unpack_x_y_sample_weight`."""
    if y is None:
        return x if not isinstance(x, (tuple, list)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis``: for a NumPy array (a zero norm
    leaves the entries as they are), or a tensor (``x / max(norm, 1e-7)``, as
    ``keras.ops.normalize``)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1; received order={order!r}")
    if isinstance(x, _Tensor):
        if order == 2:  # x * min(1 / sqrt(sum(x²)), 1e7)
            inverse = _ops.rsqrt(_ops.reduce_sum(_ops.square(x), axis, keepdims=True))
            return x * _ops.minimum(inverse, 1e7)
        norm = _ops.pow(_ops.reduce_sum(_ops.pow(_ops.abs(x), float(order)), axis,
                                        keepdims=True), 1.0 / order)
        return x / _ops.maximum(norm, 1e-7)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic tensor of a functional model (what ``keras.Input``
    and layers called on it return)."""
    return isinstance(x, _KerasTensor)


def get_source_inputs(tensor):
    """The ``keras.Input`` tensors that ``tensor`` (a KerasTensor) is computed from, in
    the order first reached; a tensor with no history is its own source."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return [tensor]
    layer, node_index, _ = history
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return [tensor]
    node = nodes[node_index]
    if not node.input_tensors:  # an Input's own node
        return list(node.output_tensors)
    sources = []
    for t in node.input_tensors:
        for s in get_source_inputs(t):
            if not any(s is seen for seen in sources):
                sources.append(s)
    return sources
