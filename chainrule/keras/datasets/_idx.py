"""Reading IDX files, the format of the original MNIST and Fashion-MNIST files.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), then each dimension as a big-endian uint32, then the values
in C order, big-endian. Files may be gzip-compressed; that is recognised by
the gzip signature rather than by the file name.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from ._files import DatasetCorruptError

# Type code (third magic byte) -> element type as stored in the file.
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_SIGNATURE = b"\x1f\x8b"

# A header can declare any size; refuse absurd ones before trying to read them
# (the real files are under 50 MB).
MAX_PAYLOAD_BYTES = 1 << 30


def read_idx(path, ndim=None, dtype=None):
    """Read one IDX file (plain or gzip) into a writable native-order array.

    `ndim` and `dtype`, when given, are what the file must declare. Raises
    DatasetCorruptError, naming the file, for a bad magic number, unknown type
    code, wrong dimension count or type, a payload shorter or longer than the
    dimensions declare, or a broken gzip stream.
    """
    path = Path(path)
    with open(path, "rb") as raw:  # a missing/unreadable file stays an OSError
        compressed = raw.read(2) == _GZIP_SIGNATURE
        raw.seek(0)
        try:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            return _parse(stream, path, ndim, dtype)
        except (OSError, EOFError, zlib.error) as exc:
            what = "gzip stream" if compressed else "file"
            raise DatasetCorruptError(f"{path}: unreadable {what} ({exc})") from exc


def _read_exactly(stream, size, path, what):
    data = stream.read(size)
    if len(data) != size:
        raise DatasetCorruptError(
            f"{path}: file ends inside the {what} "
            f"({len(data)} of {size} bytes present)"
        )
    return data


def _parse(stream, path, ndim, dtype):
    magic = _read_exactly(stream, 4, path, "magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise DatasetCorruptError(
            f"{path}: not an IDX file (magic number {magic.hex()} should "
            "start with two zero bytes)"
        )
    code, n_dims = magic[2], magic[3]
    if code not in _TYPES:
        raise DatasetCorruptError(f"{path}: unknown IDX type code 0x{code:02x}")
    stored = _TYPES[code]
    native = stored.newbyteorder("=")
    if dtype is not None and native != np.dtype(dtype):
        raise DatasetCorruptError(
            f"{path}: holds {native} values, expected {np.dtype(dtype)}"
        )
    if n_dims == 0 or (ndim is not None and n_dims != ndim):
        raise DatasetCorruptError(
            f"{path}: declares {n_dims} dimensions, expected {ndim or 'at least 1'}"
        )
    header = _read_exactly(stream, 4 * n_dims, path, "dimension header")
    shape = tuple(int(d) for d in np.frombuffer(header, ">u4"))
    size = stored.itemsize
    for d in shape:
        size *= d
    if size > MAX_PAYLOAD_BYTES:
        raise DatasetCorruptError(f"{path}: declares an implausible shape {shape}")
    payload = stream.read(size)
    if len(payload) != size:
        raise DatasetCorruptError(
            f"{path}: payload is short: shape {shape} needs {size} bytes, "
            f"the file has {len(payload)}"
        )
    # Reading past the end also makes gzip check its CRC and length trailer.
    if stream.read(1):
        raise DatasetCorruptError(
            f"{path}: has bytes after the {size}-byte payload that shape {shape} declares"
        )
    return np.frombuffer(payload, stored).reshape(shape).astype(native)
