"""Reading ``.npy`` members of a zip archive as untrusted input: the header is read and
checked before anything is allocated, and the data is read in bounded chunks.

``np.load`` trusts a header: a member declaring shape ``(10**13,)`` makes it ask for that
much memory (a bare ``MemoryError``), and it reads a whole member before any check can
run. Callers here say what they expect; a header that disagrees is refused at once.
"""

import math

import numpy as np

__all__ = ["ArrayFileError", "nbytes", "read_header", "read_array"]

_CHUNK = 1 << 20
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


class ArrayFileError(ValueError):
    """A ``.npy`` member that is damaged, holds other than numbers, or is not the
    expected shape; the message names the member, the caller adds the file."""


def nbytes(shape, dtype):
    """Bytes an array of ``shape`` and ``dtype`` needs, as a Python int (no overflow)."""
    return math.prod(shape) * np.dtype(dtype).itemsize


def read_header(stream, name):
    """``(shape, fortran_order, dtype)`` from the start of a ``.npy`` stream. The header is a
    Python literal that NumPy parses with ``ast.literal_eval`` (never executed)."""
    try:
        version = np.lib.format.read_magic(stream)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran_order, dtype = reader(stream)
    except (ValueError, EOFError, OSError, SyntaxError) as e:
        raise ArrayFileError(f"{name} is not a readable .npy array ({e})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ArrayFileError(f"{name} holds dtype {dtype}; only numeric arrays are read "
                             f"(never pickled objects)")
    return tuple(shape), fortran_order, dtype


def read_array(archive, name, shape, dtype):
    """The array in member ``name`` of the open ``zipfile.ZipFile`` ``archive``, whose header
    must declare ``shape`` and ``dtype``; checked before anything is allocated."""
    info = archive.getinfo(name)
    with archive.open(info) as stream:
        found_shape, fortran_order, found_dtype = read_header(stream, name)
        size = nbytes(found_shape, found_dtype)
        if found_shape != tuple(shape) or found_dtype != np.dtype(dtype):
            raise ArrayFileError(f"{name} declares {found_dtype} {found_shape} ({size:,} bytes), "
                                 f"expected {np.dtype(dtype)} {tuple(shape)}")
        present = info.file_size - stream.tell()
        if size != present:
            raise ArrayFileError(f"{name} declares {found_dtype} {found_shape} ({size:,} "
                                 f"bytes) but holds {present:,} bytes of data")
        array = np.empty(found_shape[::-1] if fortran_order else found_shape, found_dtype)
        flat = array.reshape(-1).view(np.uint8)
        done = 0
        while done < size:  # bounded chunks: no second full-size copy
            chunk = stream.read(min(_CHUNK, size - done))
            if not chunk:
                raise ArrayFileError(f"{name} ends after {done:,} of {size:,} bytes")
            flat[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
    return array.T if fortran_order else array
