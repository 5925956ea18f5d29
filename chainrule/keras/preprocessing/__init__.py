"""``keras.preprocessing``: TF-Keras 2's home of the image helpers (``image``), kept as
Keras 3 keeps it; the functions live in :mod:`chainrule.keras.utils.image`."""

from . import image

__all__ = ["image"]
