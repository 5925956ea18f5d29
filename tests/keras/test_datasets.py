"""Tests for chainrule.keras.datasets: where files come from, downloads,
corrupt files, and (when the shared copies are present) the real data.

Every test runs with HOME, the cache variables and the download URL pointed
at temporary places, so nothing touches the real caches or the network. The
synthetic datasets are tiny; each loader's `_EXPECTED` is swapped for a small
one so that they pass the same content checks as the real files.
"""

import ast
import gzip
import hashlib
import http.server
import importlib
import io
import os
import socket
import tempfile
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.keras.datasets import (
    DatasetCorruptError,
    DatasetNotFoundError,
    _files,
    fashion_mnist,
    mnist,
)
from chainrule.keras.datasets._checks import Expected
from chainrule.keras.datasets._idx import read_idx

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "chainrule" / "keras" / "datasets"

# Captured before the isolation fixture clears the variable.
REAL_DATA_ENV = os.environ.get("CHAINRULE_DATASETS")
REAL_DATA = Path(REAL_DATA_ENV) if REAL_DATA_ENV else None  # .ci/run sets it from ../shared

N_TRAIN, N_TEST = 6, 3
TINY = Expected(train=N_TRAIN, test=N_TEST)


# ---------------------------------------------------------------------------
# Synthetic data


def tiny_arrays(marker):
    """Small valid arrays; `marker` (0..9) is y_train[0], to tell copies apart."""
    x_train = np.arange(N_TRAIN * 28 * 28, dtype=np.uint64).reshape(N_TRAIN, 28, 28)
    x_test = np.arange(N_TEST * 28 * 28, dtype=np.uint64).reshape(N_TEST, 28, 28)
    y_train = np.array([marker, 1, 2, 3, 4, 5], dtype=np.uint8)
    y_test = np.array([7, 2, 1], dtype=np.uint8)
    return (x_train % 256).astype(np.uint8), y_train, (x_test % 251).astype(np.uint8), y_test


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder, marker):
    """mnist.npz with the four keys, directly in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = tiny_arrays(marker)
    path = folder / "mnist.npz"
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return [path]


def write_fashion(folder, marker, compress=True):
    """The four IDX files, directly in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = tiny_arrays(marker)
    contents = dict(zip(fashion_mnist.FILE_NAMES, (y_train, x_train, y_test, x_test)))
    paths = []
    for name, array in contents.items():
        data = idx_bytes(array)
        if compress:
            path = folder / name
            path.write_bytes(gzip.compress(data))
        else:
            path = folder / name.removesuffix(".gz")
            path.write_bytes(data)
        paths.append(path)
    return paths


DATASETS = {
    "mnist": SimpleNamespace(module=mnist, write=write_mnist, subdir=None,
                             names=(mnist.FILE_NAME,)),
    "fashion_mnist": SimpleNamespace(module=fashion_mnist, write=write_fashion,
                                     subdir=fashion_mnist.SUBDIR,
                                     names=fashion_mnist.FILE_NAMES),
}


def put(ds, root, marker):
    """Store a tiny copy of `ds` under a shared datasets folder `root`."""
    return ds.write(root / ds.subdir if ds.subdir else root, marker)


def files_under(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(params=sorted(DATASETS))
def ds(request):
    return DATASETS[request.param]


# ---------------------------------------------------------------------------
# Isolation and the local HTTP server


def closed_port():
    """A local port that nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private HOME and temp dir, no dataset variables, an unreachable
    download URL, and an empty memo."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("CHAINRULE_DATASETS", "CHAINRULE_HOME", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINRULE_DATASETS_URL", f"http://127.0.0.1:{closed_port()}/")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(_files, "DOWNLOAD_TIMEOUT", 5)
    _files.clear_memo()
    yield home
    _files.clear_memo()


@pytest.fixture
def tiny(monkeypatch):
    for ds in DATASETS.values():
        monkeypatch.setattr(ds.module, "_EXPECTED", TINY)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve `root` on 127.0.0.1 (a free port) for one test, recording paths."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep test output quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    monkeypatch.setenv("CHAINRULE_DATASETS_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
    try:
        yield SimpleNamespace(root=root, requests=requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve(ds, server, monkeypatch, marker, sha_override=None):
    """Put a tiny copy of `ds` on the server and patch in its hashes."""
    for path in ds.write(server.root, marker):
        digest = sha_override or hashlib.sha256(path.read_bytes()).hexdigest()
        monkeypatch.setitem(ds.module.SHA256, path.name, digest)


# ---------------------------------------------------------------------------
# Package shape


def test_submodules_import():
    assert importlib.import_module("chainrule.keras.datasets.mnist") is mnist
    assert importlib.import_module("chainrule.keras.datasets.fashion_mnist") is fashion_mnist
    assert issubclass(DatasetNotFoundError, OSError)
    assert issubclass(DatasetCorruptError, ValueError)


def test_package_imports_only_stdlib_numpy_and_itself():
    # The core is written in parallel: the loaders must not depend on it.
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, source.name  # only siblings
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                    else [node.module]
                assert not any(n.split(".")[0] == "chainrule" for n in names), source.name


# ---------------------------------------------------------------------------
# Where the data comes from

SOURCES = ["path", "env", "chainrule_home", "keras_home", "download"]


@pytest.mark.parametrize("first", range(len(SOURCES)), ids=SOURCES)
def test_source_priority(ds, first, tmp_path, monkeypatch, tiny, server):
    """Fill every source from `first` on with a copy marked by its index; the
    loader must pick the copy from `first`."""
    path = None
    for marker in range(first, len(SOURCES)):
        source = SOURCES[marker]
        if source == "path":
            written = put(ds, tmp_path / "explicit", marker)
            path = written[0] if ds.subdir is None else written[0].parent
        elif source == "env":
            put(ds, tmp_path / "env", marker)
            monkeypatch.setenv("CHAINRULE_DATASETS", str(tmp_path / "env"))
        elif source == "chainrule_home":
            put(ds, tmp_path / "chome" / "datasets", marker)
            monkeypatch.setenv("CHAINRULE_HOME", str(tmp_path / "chome"))
        elif source == "keras_home":
            put(ds, tmp_path / "khome" / "datasets", marker)
            monkeypatch.setenv("KERAS_HOME", str(tmp_path / "khome"))
        else:
            serve(ds, server, monkeypatch, marker)

    (x_train, y_train), (x_test, y_test) = ds.module.load_data(path=path)

    assert y_train[0] == first
    expected = tiny_arrays(first)
    for got, want in zip((x_train, y_train, x_test, y_test), expected):
        assert got.dtype == np.uint8 and type(got) is np.ndarray
        np.testing.assert_array_equal(got, want)
    assert bool(server.requests) == (SOURCES[first] == "download")


def test_home_default_folders(ds, isolated, tiny):
    # Without CHAINRULE_HOME / KERAS_HOME: ~/.chainrule/datasets beats ~/.keras/datasets.
    put(ds, isolated / ".keras" / "datasets", 3)
    assert ds.module.load_data()[0][1][0] == 3
    put(ds, isolated / ".chainrule" / "datasets", 2)
    assert ds.module.load_data()[0][1][0] == 2


def test_explicit_folder_forms(tmp_path, tiny):
    write_mnist(tmp_path / "m", 4)
    assert mnist.load_data(path=tmp_path / "m")[0][1][0] == 4  # folder holding mnist.npz
    # A shared-style folder with fashion-mnist/ inside, and uncompressed IDX files.
    put(DATASETS["fashion_mnist"], tmp_path / "shared", 5)
    assert fashion_mnist.load_data(path=str(tmp_path / "shared"))[0][1][0] == 5
    write_fashion(tmp_path / "raw", 6, compress=False)
    assert fashion_mnist.load_data(path=tmp_path / "raw")[0][1][0] == 6


def test_explicit_path_problems_do_not_fall_back(tmp_path, monkeypatch, tiny):
    put(DATASETS["mnist"], tmp_path / "env", 1)
    put(DATASETS["fashion_mnist"], tmp_path / "env", 1)
    monkeypatch.setenv("CHAINRULE_DATASETS", str(tmp_path / "env"))
    missing = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DatasetNotFoundError, match="does not exist") as info:
        mnist.load_data(path=missing)
    assert str(missing) in str(info.value)

    partial = tmp_path / "partial"
    write_fashion(partial, 0)
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="lacks t10k-images-idx3-ubyte.gz"):
        fashion_mnist.load_data(path=partial)
    with pytest.raises(DatasetNotFoundError, match="needs a folder"):
        fashion_mnist.load_data(path=partial / "train-labels-idx1-ubyte.gz")


def test_cache_falls_back_to_temp_dir(ds, tmp_path, monkeypatch, tiny, server):
    # A file where the cache's parent should be makes the home cache unusable
    # (a permission bit would not do: the tests may run as root).
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CHAINRULE_HOME", str(blocker / "sub"))
    serve(ds, server, monkeypatch, 8)
    assert ds.module.load_data()[0][1][0] == 8
    fallback = _files._fallback_cache_dir()
    assert fallback.parent.parent == tmp_path / "temp"
    assert [p.name for p in files_under(fallback)] == sorted(ds.names)


# ---------------------------------------------------------------------------
# Downloads


def test_download_is_cached(ds, isolated, monkeypatch, tiny, server):
    serve(ds, server, monkeypatch, 7)
    assert ds.module.load_data()[0][1][0] == 7
    cache = isolated / ".chainrule" / "datasets"
    cached = files_under(cache)
    assert [p.name for p in cached] == sorted(ds.names)  # no .part files left
    assert len(server.requests) == len(ds.names)

    _files.clear_memo()  # next call reads the cache, not the network
    assert ds.module.load_data()[0][1][0] == 7
    assert len(server.requests) == len(ds.names)


def test_interrupted_download_resumes(isolated, monkeypatch, tiny, server):
    ds = DATASETS["fashion_mnist"]
    serve(ds, server, monkeypatch, 5)
    cache = isolated / ".chainrule" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    done = fashion_mnist.FILE_NAMES[:2]
    for name in done:
        (cache / name).write_bytes((server.root / name).read_bytes())
    assert fashion_mnist.load_data()[0][1][0] == 5
    assert sorted(server.requests) == sorted(f"/{n}" for n in fashion_mnist.FILE_NAMES[2:])


def test_corrupt_download_leaves_nothing(ds, isolated, monkeypatch, tiny, server):
    serve(ds, server, monkeypatch, 7, sha_override="0" * 64)
    with pytest.raises(DatasetCorruptError, match="SHA-256") as info:
        ds.module.load_data()
    assert "0" * 64 in str(info.value) and ds.names[0] in str(info.value)
    assert files_under(isolated / ".chainrule") == []


def test_http_error_is_not_found(ds, tiny, server):
    with pytest.raises(DatasetNotFoundError, match="404"):
        ds.module.load_data()


def test_not_found_message(ds, isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        ds.module.load_data()
    message = str(info.value)
    cache = isolated / ".chainrule" / "datasets"
    if ds.subdir:
        cache = cache / ds.subdir
        assert "fashion-mnist/" in message
    for text in ("CHAINRULE_DATASETS", "load_data(path=...)", str(cache),
                 str(isolated / ".keras" / "datasets")):
        assert text in message
    for name in ds.names:
        assert name in message
        assert f"{os.environ['CHAINRULE_DATASETS_URL']}{name}" in message
    assert files_under(cache) == []


# ---------------------------------------------------------------------------
# Damaged .npz files


def _npz(path, **arrays):
    x_train, y_train, x_test, y_test = tiny_arrays(0)
    keys = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    keys.update(arrays)
    np.savez(path, **{k: v for k, v in keys.items() if v is not None})


def _truncated(path):
    write_mnist(path.parent, 0)
    path.write_bytes(path.read_bytes()[:-200])


def _flipped(path):
    # Damage a stored (uncompressed) member so the zip CRC check catches it.
    _npz(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


NPZ_DAMAGE = {
    "truncated": (_truncated, "not a readable .npz"),
    "garbage": (lambda p: p.write_bytes(b"hello, not a zip file" * 10), "not a readable .npz"),
    "empty": (lambda p: p.write_bytes(b""), "not a readable .npz"),
    "bit_flip": (_flipped, "cannot read"),
    "npy": (lambda p: p.write_bytes(_npy_bytes()), "single .npy"),
    "missing_key": (lambda p: _npz(p, y_test=None), "lacks y_test"),
    "wrong_dtype": (lambda p: _npz(p, y_train=np.arange(N_TRAIN)), r"y_train\]: labels are int64"),
    "wrong_shape": (lambda p: _npz(p, x_test=np.zeros((N_TEST, 28, 27), np.uint8)),
                    r"x_test\]: images are uint8 \(3, 28, 27\)"),
    "label_range": (lambda p: _npz(p, y_test=np.array([1, 2, 10], np.uint8)), "outside 0..9"),
    "pickled": (lambda p: _npz(p, y_train=np.array([object()] * N_TRAIN)), "cannot read y_train"),
}


def _npy_bytes():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


@pytest.mark.parametrize("damage", sorted(NPZ_DAMAGE))
def test_damaged_npz(damage, tmp_path, tiny):
    path = tmp_path / "mnist.npz"
    make, message = NPZ_DAMAGE[damage]
    make(path)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        mnist.load_data(path=path)
    assert str(path) in str(info.value)


def test_label_counts_are_checked(tmp_path, monkeypatch):
    write_mnist(tmp_path, 0)  # train labels 0,1,2,3,4,5
    counts = (1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    monkeypatch.setattr(mnist, "_EXPECTED", Expected(N_TRAIN, N_TEST, train_counts=counts))
    assert mnist.load_data(path=tmp_path)[0][1].tolist() == [0, 1, 2, 3, 4, 5]
    monkeypatch.setattr(mnist, "_EXPECTED", Expected(N_TRAIN, N_TEST, train_counts=(6,) + (0,) * 9))
    with pytest.raises(DatasetCorruptError, match="labels per class"):
        mnist.load_data(path=tmp_path)


def test_full_size_is_required_by_default(tmp_path):
    write_mnist(tmp_path, 0)  # tiny, but the real _EXPECTED wants 60000 images
    with pytest.raises(DatasetCorruptError, match=r"expected uint8 \(60000, 28, 28\)"):
        mnist.load_data(path=tmp_path)


# ---------------------------------------------------------------------------
# IDX files

IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from(sorted(IDX_TYPES)),
       shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
       compress=st.booleans())
def test_idx_round_trip(code, shape, compress, tmp_path):
    dtype = np.dtype(IDX_TYPES[code])
    array = (np.arange(int(np.prod(shape))) - 7).astype(dtype).reshape(shape)
    data = idx_bytes(array, code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.dtype == dtype and got.dtype.isnative and got.flags.writeable
    np.testing.assert_array_equal(got, array)


GOOD_LABELS = idx_bytes(np.arange(5, dtype=np.uint8))
IDX_DAMAGE = {
    "bad_magic": (b"\x01\x02" + GOOD_LABELS[2:], {}, "not an IDX file"),
    "type_code": (b"\x00\x00\x07\x01" + GOOD_LABELS[4:], {}, "unknown IDX type code 0x07"),
    "zero_dims": (b"\x00\x00\x08\x00", {}, "declares 0 dimensions"),
    "short_magic": (b"\x00\x00", {}, "ends inside the magic number"),
    "short_header": (GOOD_LABELS[:6], {}, "ends inside the dimension header"),
    "short_payload": (GOOD_LABELS[:-1], {}, "payload is short"),
    "extra_bytes": (GOOD_LABELS + b"\x00", {}, "bytes after"),
    "huge_shape": (b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3, {}, "implausible shape"),
    "wrong_ndim": (GOOD_LABELS, {"ndim": 3}, "declares 1 dimensions, expected 3"),
    "wrong_dtype": (idx_bytes(np.arange(5, dtype=np.int32), 0x0C), {"dtype": np.uint8},
                    "holds int32 values, expected uint8"),
}


@pytest.mark.parametrize("damage", sorted(IDX_DAMAGE))
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_damaged_idx(damage, compress, tmp_path):
    data, kwargs, message = IDX_DAMAGE[damage]
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        read_idx(path, **kwargs)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", ["truncated", "crc"])
def test_damaged_gzip(cut, tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(2000, dtype=np.uint8))))
    if cut == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed[-8] ^= 0xFF  # the CRC-32 in the trailer
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DatasetCorruptError, match="unreadable gzip stream"):
        read_idx(path)


def test_damaged_fashion_file_is_named(tmp_path, tiny):
    paths = write_fashion(tmp_path, 0)
    images = paths[1]  # train-images
    images.write_bytes(gzip.compress(b"\x00\x00\x08\x02" + b"\x00" * 8))
    with pytest.raises(DatasetCorruptError, match="declares 2 dimensions") as info:
        fashion_mnist.load_data(path=tmp_path)
    assert str(images) in str(info.value)

    # Five labels for six images: a valid file, the wrong length.
    paths[0].write_bytes(gzip.compress(idx_bytes(np.zeros(N_TRAIN - 1, np.uint8))))
    write_fashion(tmp_path / "ok", 0)
    images.write_bytes((tmp_path / "ok" / images.name).read_bytes())
    with pytest.raises(DatasetCorruptError, match=r"expected uint8 \(6,\)") as info:
        fashion_mnist.load_data(path=tmp_path)
    assert str(paths[0]) in str(info.value)


# ---------------------------------------------------------------------------
# Repeated calls


def test_repeated_calls_copy_and_memoize(ds, tmp_path, monkeypatch, tiny):
    put(ds, tmp_path, 3)
    folder = tmp_path / ds.subdir if ds.subdir else tmp_path
    reads = []
    reader = "_read_npz" if ds.module is mnist else "_read"
    original = getattr(ds.module, reader)
    monkeypatch.setattr(ds.module, reader, lambda *a: reads.append(1) or original(*a))

    (x_train, y_train), _ = ds.module.load_data(path=folder)
    x_train[:] = 0  # the caller may scribble on what it got
    y_train[0] = 9
    (x_again, y_again), _ = ds.module.load_data(path=folder)
    assert len(reads) == 1
    np.testing.assert_array_equal(x_again, tiny_arrays(3)[0])
    assert y_again[0] == 3 and x_again.flags.writeable and x_again.flags.owndata

    # A changed file (new mtime) is read again.
    path = next(p for p in folder.iterdir() if "train-labels" in p.name or p.suffix == ".npz")
    put(ds, tmp_path, 4)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert ds.module.load_data(path=folder)[0][1][0] == 4
    assert len(reads) == 2


# ---------------------------------------------------------------------------
# The real data (shared offline copies)

REAL_FIRST_LABELS = {
    "mnist": ([5, 0, 4, 1, 9], [7, 2, 1, 0, 4]),
    "fashion_mnist": ([9, 0, 0, 3, 0], [9, 2, 1, 1, 6]),
}
REAL_TRAIN_COUNTS = {
    "mnist": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "fashion_mnist": [6000] * 10,
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_real_data(name, monkeypatch):
    if REAL_DATA is None or not REAL_DATA.is_dir():
        pytest.skip(f"needs the real datasets: CHAINRULE_DATASETS is {REAL_DATA_ENV!r}")
    monkeypatch.setenv("CHAINRULE_DATASETS", str(REAL_DATA))
    (x_train, y_train), (x_test, y_test) = DATASETS[name].module.load_data()

    assert (x_train.shape, y_train.shape) == ((60000, 28, 28), (60000,))
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    train_first, test_first = REAL_FIRST_LABELS[name]
    assert y_train[:5].tolist() == train_first and y_test[:5].tolist() == test_first
    assert np.bincount(y_train, minlength=10).tolist() == REAL_TRAIN_COUNTS[name]
    if name == "mnist":
        # Pixel mean and std in 0..255 units, from float64 sums over the uint8 array (no
        # float copy); the familiar 0.1307 and 0.3081 are these over 255.
        mean = x_train.mean(dtype=np.float64)
        square = np.einsum("ijk,ijk->", x_train, x_train, dtype=np.float64) / x_train.size
        std = np.sqrt(square - mean**2)
        assert abs(mean - 0.1307 * 255) < 1e-4 * 255 and abs(std - 0.3081 * 255) < 1e-4 * 255


def test_npz_header_declaring_petabytes_is_refused_before_allocating(tmp_path):
    # A 2 KB mnist.npz whose x_train header declares 10**12 images: np.load would ask NumPy
    # for ~784 TB and end in a bare MemoryError; the loader refuses it from the header alone.
    path = tmp_path / "mnist.npz"
    _npz(path)
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        forged, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 28, 28)})
    forged.write(b"\0" * 64)
    with zipfile.ZipFile(path, "a") as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries["x_train.npy"] = forged.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(DatasetCorruptError) as info:
        mnist.load_data(path=path)
    message = str(info.value)
    assert str(path) in message and "[x_train]" in message
    assert "(1000000000000, 28, 28) (784,000,000,000,000 bytes" in message
    assert "expected uint8 (60000, 28, 28)" in message
