"""``keras.utils.image_dataset_from_directory``: a folder of images (a subfolder per class)
as a :class:`chainrule.data.Dataset` of ``(images, labels)`` batches; and ``load_img`` /
``img_to_array`` for one image.

Files are decoded with Pillow (``pip install 'chainrule[images]'``) as they are batched, so a
large folder is never held in memory at once. Bilinear and nearest resizing are computed here
in NumPy with TensorFlow's half-pixel geometry and no antialiasing (what ``tf.image.resize``
does by default, and so Keras); "bicubic", "area" and "lanczos3" use Pillow's filters.
"""

import os

import numpy as np

from ...data import Dataset
from ... import random as _random

__all__ = ["image_dataset_from_directory", "load_img", "img_to_array"]

ALLOWED_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}
_PILLOW_FILTERS = {"bicubic": "BICUBIC", "area": "BOX", "lanczos3": "LANCZOS"}
_INTERPOLATIONS = ("bilinear", "nearest") + tuple(_PILLOW_FILTERS)


def _pil():
    try:
        from PIL import Image  # optional: chainrule[images]
    except ImportError as error:
        raise ImportError("reading images needs Pillow: pip install 'chainrule[images]' (or "
                          "pip install pillow)") from error
    return Image


def _resize_axis(size, new_size, interpolation):
    """For each output index along one axis: the two input indices it reads and the weight
    of the second (half-pixel centres, as tf.image.resize)."""
    scale = size / new_size
    centre = (np.arange(new_size) + 0.5) * scale
    if interpolation == "nearest":
        index = np.minimum(np.floor(centre).astype(np.intp), size - 1)
        return index, index, np.zeros(new_size, np.float32)
    source = np.clip(centre - 0.5, 0, size - 1)
    low = np.floor(source).astype(np.intp)
    high = np.minimum(low + 1, size - 1)
    return low, high, (source - low).astype(np.float32)


def _resize(pixels, size, interpolation):
    """``pixels`` ``(height, width, channels)`` float32 at ``size`` ``(height, width)``."""
    if pixels.shape[:2] == tuple(size):
        return pixels
    (top, bottom, wy), (left, right, wx) = (
        _resize_axis(n, m, interpolation) for n, m in zip(pixels.shape[:2], size))
    rows = pixels[top] * (1 - wy[:, None, None]) + pixels[bottom] * wy[:, None, None]
    return rows[:, left] * (1 - wx[None, :, None]) + rows[:, right] * wx[None, :, None]


def _window(height, width, size):
    """The centred window of ``size``'s aspect ratio, as (top, left, height, width); sizes
    rounded down, as Keras does."""
    crop_h = min(height, int(width * size[0] / size[1]))
    crop_w = min(width, int(height * size[1] / size[0]))
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def load_image(path, color_mode="rgb", image_size=None, interpolation="bilinear",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False):
    """One file as a float32 array ``(height, width, channels)`` of values in [0, 255]."""
    image_module = _pil()
    with image_module.open(path) as image:
        image.seek(0)  # an animated GIF: its first frame
        image = image.convert(_MODES[color_mode][0])
    if image_size is not None and crop_to_aspect_ratio:
        top, left, h, w = _window(image.height, image.width, image_size)
        image = image.crop((left, top, left + w, top + h))
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if image_size is None:
        return pixels
    if pad_to_aspect_ratio:
        pixels = _padded(pixels, image_size)
    if interpolation not in _PILLOW_FILTERS:
        return _resize(pixels, image_size, interpolation)
    resample = getattr(image_module.Resampling, _PILLOW_FILTERS[interpolation])
    return np.stack([np.asarray(image_module.fromarray(pixels[..., c]).resize(
        (image_size[1], image_size[0]), resample), np.float32)
        for c in range(pixels.shape[-1])], axis=-1)


def _padded(pixels, size):
    """``pixels`` centred on a zero canvas of ``size``'s aspect ratio (sizes rounded down,
    as Keras does)."""
    height, width = pixels.shape[:2]
    new_h = max(height, int(width * size[0] / size[1]))
    new_w = max(width, int(height * size[1] / size[0]))
    canvas = np.zeros((new_h, new_w, pixels.shape[-1]), np.float32)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    canvas[top:top + height, left:left + width] = pixels
    return canvas


def _files(directory, labels, class_names, follow_links):
    """The image files (sorted) and, when ``labels == "inferred"``, their class indices
    and the class names (subfolders, alphabetical unless ``class_names`` orders them)."""
    def images_under(folder):
        found = []
        for root, dirs, names in os.walk(folder, followlinks=follow_links):
            dirs.sort()
            found += [os.path.join(root, name) for name in sorted(names)
                      if name.lower().endswith(ALLOWED_FORMATS)]
        return found

    if labels != "inferred":
        return images_under(directory), None, None
    subfolders = sorted(d for d in os.listdir(directory)
                        if os.path.isdir(os.path.join(directory, d)))
    if class_names is not None:
        if sorted(class_names) != subfolders:
            raise ValueError(f"image_dataset_from_directory: class_names must name every "
                             f"subfolder of {directory} once; received class_names="
                             f"{list(class_names)}, and the subfolders are {subfolders}")
        subfolders = list(class_names)
    paths, indices = [], []
    for index, name in enumerate(subfolders):
        found = images_under(os.path.join(directory, name))
        paths += found
        indices += [index] * len(found)
    return paths, np.asarray(indices, np.int64), subfolders


def _label_array(indices, label_mode, num_classes):
    if label_mode == "int":
        return indices.astype(np.int32)
    if label_mode == "binary":
        return indices.astype(np.float32).reshape(-1, 1)
    one_hot = np.zeros((len(indices), num_classes), np.float32)
    one_hot[np.arange(len(indices)), indices] = 1.0
    return one_hot


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """The images under ``directory`` as a Dataset of ``(images, labels)`` batches, as Keras
    makes it: for ``main/a/*.jpg`` and ``main/b/*.png``, class ``a`` is 0 and ``b`` is 1.

    ``labels``: ``"inferred"`` (from the subfolders), a list of ints (one per file, in the
    sorted order of the paths) or None (images only). ``label_mode``: ``"int"`` (int32),
    ``"categorical"`` (one-hot float32), ``"binary"`` (float32 0/1 of shape ``(batch, 1)``,
    two classes) or None. ``color_mode``: "grayscale", "rgb" or "rgba" (1, 3 or 4 channels).
    Images come as float32 in [0, 255], resized to ``image_size`` ``(height, width)`` with
    ``interpolation`` (after cropping the centre to its aspect ratio with
    ``crop_to_aspect_ratio``, or padding with zeros to it with ``pad_to_aspect_ratio``).
    ``batch_size=None`` gives single images. ``shuffle`` reshuffles at every pass (from
    ``seed``). ``validation_split`` with ``subset`` ("training", "validation" or "both", for
    a pair) keeps that share of the files, shuffled once by ``seed``, for validation. The
    Dataset's ``class_names`` and ``file_paths`` say what it holds.
    """
    fn = "image_dataset_from_directory"
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{fn}: {directory} is not a directory")
    if not (labels in ("inferred", None) or isinstance(labels, (list, tuple, np.ndarray))):
        raise ValueError(f"{fn}: labels must be 'inferred', None or a list of integer labels "
                         f"(one per file); received labels={labels!r}")
    if class_names is not None and labels != "inferred":
        raise ValueError(f"{fn}: class_names is only used with labels='inferred' (it orders "
                         f"the subfolders); received labels={labels!r}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{fn}: label_mode must be 'int', 'categorical', 'binary' or None; "
                         f"received label_mode={label_mode!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in _MODES:
        raise ValueError(f"{fn}: color_mode must be 'grayscale', 'rgb' or 'rgba'; received "
                         f"color_mode={color_mode!r}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{fn}: interpolation must be one of {', '.join(_INTERPOLATIONS)}; "
                         f"received interpolation={interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f"{fn}: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be "
                         f"True")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{fn}: only channels_last images are made; received "
                         f"data_format={data_format!r}")
    image_size = tuple(int(n) for n in image_size)
    if len(image_size) != 2 or min(image_size) < 1:
        raise ValueError(f"{fn}: image_size must be (height, width); received {image_size!r}")
    subsets = _check_split(fn, validation_split, subset, shuffle, seed)
    if seed is None:
        seed = int(_random.generator().integers(2 ** 31))

    paths, indices, found_classes = _files(directory, labels, class_names, follow_links)
    if not paths:
        raise ValueError(f"{fn}: no images found in directory {directory}. Allowed formats: "
                         f"{ALLOWED_FORMATS}")
    num_classes = len(found_classes) if found_classes is not None else None
    if isinstance(labels, (list, tuple, np.ndarray)):
        indices = np.asarray(labels)
        if indices.shape != (len(paths),) or indices.dtype.kind not in "iu":
            raise ValueError(f"{fn}: labels must be one integer per image file: found "
                             f"{len(paths)} files in {directory}, received labels of shape "
                             f"{indices.shape} and dtype {indices.dtype}")
        num_classes = int(indices.max()) + 1
        found_classes = [str(i) for i in range(num_classes)]
    if label_mode == "binary" and num_classes != 2:
        raise ValueError(f"{fn}: label_mode='binary' needs exactly 2 classes; found "
                         f"{num_classes}: {found_classes}. Use label_mode='int' or "
                         f"'categorical' for more")
    if verbose:
        if indices is not None and labels == "inferred":
            print(f"Found {len(paths)} files belonging to {num_classes} classes.")
        else:
            print(f"Found {len(paths)} files.")

    order = np.random.default_rng(seed).permutation(len(paths)) if shuffle or subsets \
        else np.arange(len(paths))
    paths = [paths[i] for i in order]
    label_values = None if label_mode is None else _label_array(indices[order], label_mode,
                                                                 num_classes)
    held_out = int(validation_split * len(paths)) if subsets else 0
    parts = {"training": slice(0, len(paths) - held_out),
             "validation": slice(len(paths) - held_out, len(paths))}
    load = dict(color_mode=color_mode, image_size=image_size, interpolation=interpolation,
                crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio)
    datasets = []
    for name in subsets or [None]:
        part = parts[name] if name else slice(None)
        chosen = paths[part]
        if name and verbose:
            print(f"Using {len(chosen)} files for {name}.")
        datasets.append(_image_dataset(chosen, None if label_values is None else
                                       label_values[part], batch_size, shuffle, seed, load,
                                       found_classes))
    return tuple(datasets) if subset == "both" else datasets[0]


def _check_split(fn, validation_split, subset, shuffle, seed):
    """The subsets to make (None without a split)."""
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f"{fn}: subset must be 'training', 'validation' or 'both'; received "
                         f"subset={subset!r}")
    if not validation_split:
        if subset is not None:
            raise ValueError(f"{fn}: subset={subset!r} needs a validation_split")
        return None
    if not 0 < validation_split < 1:
        raise ValueError(f"{fn}: validation_split must be between 0 and 1; received "
                         f"{validation_split!r}")
    if subset is None:
        raise ValueError(f"{fn}: validation_split needs subset='training', 'validation' or "
                         f"'both'")
    if shuffle and seed is None and subset != "both":
        raise ValueError(f"{fn}: with validation_split and shuffle=True, give a seed, so that "
                         f"the training and validation calls split the files the same way "
                         f"(or use subset='both')")
    return ["training", "validation"] if subset == "both" else [subset]


def _image_dataset(paths, labels, batch_size, shuffle, seed, load, class_names):
    n = len(paths)
    size = n if batch_size is None else int(batch_size)
    passes = {"count": 0}

    def make():
        order = np.arange(n)
        if shuffle:  # a new order at every pass, repeatable from the seed
            order = np.random.default_rng([seed, passes["count"]]).permutation(n)
            passes["count"] += 1
        for start in range(0, n, size):
            chosen = order[start:start + size]
            images = np.stack([load_image(paths[i], **load) for i in chosen])
            if batch_size is None:
                images = images[0]
                label = None if labels is None else labels[chosen[0]]
            else:
                label = None if labels is None else labels[chosen]
            yield images if label is None else (images, label)

    cardinality = n if batch_size is None else -(-n // size)
    dataset = Dataset(make, cardinality)
    dataset.class_names = class_names
    dataset.file_paths = list(paths)
    return dataset


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """One image file as a Pillow image (``target_size`` ``(height, width)`` resizes it;
    ``keep_aspect_ratio`` crops the centre to the target's aspect ratio first)."""
    image_module = _pil()
    if color_mode not in _MODES:
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba'; received "
                         f"color_mode={color_mode!r}")
    with image_module.open(os.fspath(path)) as image:
        image = image.convert(_MODES[color_mode][0])
    if target_size is not None:
        if keep_aspect_ratio:
            top, left, h, w = _window(image.height, image.width, target_size)
            image = image.crop((left, top, left + w, top + h))
        filters = {"nearest": "NEAREST", "bilinear": "BILINEAR", **_PILLOW_FILTERS}
        if interpolation not in filters:
            raise ValueError(f"load_img: interpolation must be one of {', '.join(filters)}; "
                             f"received interpolation={interpolation!r}")
        resample = getattr(image_module.Resampling, filters[interpolation])
        image = image.resize((target_size[1], target_size[0]), resample)
    return image


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or array) as a float32 array ``(height, width, channels)``."""
    pixels = np.asarray(img, dtype=dtype or np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if data_format == "channels_first":
        pixels = pixels.transpose(2, 0, 1)
    return pixels
