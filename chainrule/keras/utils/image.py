"""Images as arrays and back: ``array_to_img``, ``img_to_array``, ``save_img`` and
``load_img`` (Keras's ``keras.utils`` names; Pillow does the file formats and is imported
only when one of them is called). Reading lives beside the image folders' loader."""

import numpy as np

from .image_dataset import _pil, img_to_array, load_img

__all__ = ["array_to_img", "img_to_array", "save_img", "load_img"]


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array ``(height, width, channels)`` (1, 3 or 4 channels; channels first with
    ``data_format="channels_first"``) as a PIL image. ``scale`` maps the values' range onto
    0..255 first; without it they must already be in 0..255."""
    Image = _pil()
    x = np.asarray(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img expects an image array of rank 3 (height, width, "
                         f"channels); received an array of shape {x.shape}")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"array_to_img: data_format must be 'channels_last' or "
                         f"'channels_first'; received {data_format!r}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[-1]
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ValueError(f"array_to_img: an image has 1, 3 or 4 channels; received an array "
                         f"of shape {x.shape}")
    x = np.clip(x, 0, 255).astype("uint8")
    return Image.fromarray(x[..., 0] if channels == 1 else x, modes[channels])


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes the image array ``x`` to ``path`` (the format from its extension)."""
    array_to_img(x, data_format=data_format, scale=scale).save(path, format=file_format,
                                                               **kwargs)
