"""keras.utils.npy: reading .npy members of a zip as untrusted input."""

import io
import zipfile

import numpy as np
import pytest

from chainrule.keras.utils import npy


def archive_of(**arrays):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, value in arrays.items():
            if isinstance(value, bytes):
                z.writestr(f"{name}.npy", value)
            else:
                member = io.BytesIO()
                np.save(member, value)
                z.writestr(f"{name}.npy", member.getvalue())
    return zipfile.ZipFile(buffer)


def test_reads_what_np_save_wrote_in_any_layout():
    rng = np.random.default_rng(0)
    arrays = {"c": rng.random((3, 5)).astype(np.float32),
              "f": np.asfortranarray(rng.random((4, 6))),
              "big": rng.random(600_000).astype(">f4"),  # several chunks, big-endian
              "scalar": np.float32(2.5), "empty": np.zeros((0, 3), np.int8)}
    with archive_of(**arrays) as z:
        for name, value in arrays.items():
            value = np.asarray(value)
            got = npy.read_array(z, f"{name}.npy", value.shape, value.dtype)
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)


def test_refusals_name_the_member_and_sizes():
    truncated = io.BytesIO()
    np.save(truncated, np.zeros(100, np.float32))
    with archive_of(w=np.zeros((2, 3), np.float32), t=truncated.getvalue()[:-8],
                    o=np.array([None, 1], dtype=object)) as z:
        with pytest.raises(npy.ArrayFileError, match=r"^w\.npy declares float32 \(2, 3\) "
                                                     r"\(24 bytes\), expected float32 \(3, 2\)$"):
            npy.read_array(z, "w.npy", (3, 2), np.float32)
        with pytest.raises(npy.ArrayFileError, match=r"expected float64 \(2, 3\)"):
            npy.read_array(z, "w.npy", (2, 3), np.float64)
        with pytest.raises(npy.ArrayFileError, match=r"t\.npy declares float32 \(100,\) "
                                                     r"\(400 bytes\) but holds 392 bytes"):
            npy.read_array(z, "t.npy", (100,), np.float32)
        with pytest.raises(npy.ArrayFileError, match="holds dtype object; only numeric"):
            npy.read_array(z, "o.npy", (2,), object)
