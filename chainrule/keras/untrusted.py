"""What guards every model file chainrule reads (its own, and Keras's): the errors that name
the file, and the size limits checked before anything a file declares is allocated."""

import os

__all__ = ["MAX_CONFIG_BYTES", "MAX_WEIGHT_BYTES", "ModelFileNotFoundError", "SavedModelError",
           "weight_limit"]

MAX_CONFIG_BYTES = 16 << 20
MAX_WEIGHT_BYTES = 16 << 30


class SavedModelError(ValueError):
    """A model or weights file that is damaged, of another kind, or does not fit."""


class ModelFileNotFoundError(SavedModelError, FileNotFoundError):
    """No file at the path given: a SavedModelError (a ValueError, as Keras raises) that
    ``except FileNotFoundError`` also catches."""


def weight_limit():
    """The most bytes of weights a file may declare: MAX_WEIGHT_BYTES or half the memory."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return MAX_WEIGHT_BYTES
    return min(MAX_WEIGHT_BYTES, memory // 2)
