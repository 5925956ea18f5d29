"""Images as arrays and back: ``array_to_img``, ``img_to_array``, ``save_img`` and
``load_img`` (Keras's ``keras.utils`` names; Pillow does the file formats and is imported
only when one of them is called)."""

import numpy as np

__all__ = ["array_to_img", "img_to_array", "save_img", "load_img"]


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("images need Pillow: pip install pillow") from None
    return Image


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


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a float32 array ``(height, width, channels)``."""
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[..., None]
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes the image array ``x`` to ``path`` (the format from its extension)."""
    array_to_img(x, data_format=data_format, scale=scale).save(path, format=file_format,
                                                               **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Reads an image file as a PIL image (``color_mode`` "rgb", "rgba" or "grayscale";
    ``target_size`` ``(height, width)`` resizes it)."""
    Image = _pil()
    modes = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}
    if color_mode not in modes:
        raise ValueError(f"load_img: color_mode must be one of {sorted(modes)}; received "
                         f"{color_mode!r}")
    img = Image.open(path).convert(modes[color_mode])
    if target_size is not None:
        resample = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR,
                    "bicubic": Image.BICUBIC}[interpolation]
        img = img.resize((target_size[1], target_size[0]), resample)
    return img
