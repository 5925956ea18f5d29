"""Reading ``.npz`` archives whose arrays may hold Python lists (``dtype=object``).

The IMDB and Reuters files store each review as a list of word indices, so their arrays
are object arrays, which NumPy writes as pickle streams. Unpickling a file may run any
code it names; here it runs through an unpickler that knows exactly three names (the
ones an object array's pickle uses: ``ndarray``, ``dtype`` and NumPy's array
reconstructor) and refuses every other, so a file can describe lists of numbers and
nothing else. Numeric arrays are read with ``allow_pickle=False``.
"""

import io
import pickle
import zipfile
import zlib

import numpy as np

from ._files import DatasetCorruptError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
                pickle.UnpicklingError, KeyError, IndexError, TypeError)


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"the file asks for {module}.{name}, which a dataset of number lists never "
                f"needs; refusing to load it")
        if name == "_reconstruct":
            from numpy._core import multiarray  # (numpy.core is its old name)
            return multiarray._reconstruct
        return getattr(np, name)


def _read_npy(raw):
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if not dtype.hasobject:
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    array = _ArraysOnly(stream, encoding="latin1").load()
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise DatasetCorruptError(f"an object array of shape {shape} did not read back as "
                                  f"one")
    return array


def load_npz(path, keys):
    """``{key: array}`` for ``keys`` from the ``.npz`` archive at ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[:-4]: name for name in archive.namelist() if name.endswith(".npy")}
            missing = [key for key in keys if key not in members]
            if missing:
                held = ", ".join(sorted(members)) or "nothing"
                raise DatasetCorruptError(f"{path}: lacks {', '.join(missing)} (it holds {held})")
            return {key: _read_npy(archive.read(members[key])) for key in keys}
    except DatasetCorruptError:
        raise
    except _READ_ERRORS as exc:
        raise DatasetCorruptError(f"{path}: not a readable .npz archive ({exc})") from exc
