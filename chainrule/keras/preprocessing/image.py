"""``keras.preprocessing.image``: the image helpers of :mod:`chainrule.keras.utils.image`."""

from ..utils.image import array_to_img, img_to_array, load_img, save_img

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
