"""``keras.models.load_model``: chainrule's own files and Keras 3's ``.keras`` files."""

import os
import zipfile

from .. import saving
from ..keras_files import is_keras_file, load_keras_file

__all__ = ["load_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved at ``filepath``: a file of ``model.save`` (``.chainrule``), or a
    ``.keras`` file Keras 3 wrote (its architecture, weights and compile settings)."""
    path = os.fspath(filepath)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        archive = None  # saving.load_model says what is wrong with the file, in its words
    if archive is None or not is_keras_file(archive):
        if archive is not None:
            archive.close()
        return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                                 safe_mode=safe_mode)
    with archive:
        return load_keras_file(archive, path, custom_objects, compile)
