"""imdb, reuters and boston_housing on small files the tests write (no downloads), and
keras.utils.pad_sequences / to_categorical."""

import hashlib
import http.server
import io
import json
import pickle
import socket
import threading
import zipfile

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras.datasets import (DatasetCorruptError, DatasetNotFoundError, _files,
                                      boston_housing, imdb, reuters)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("CHAINRULE_DATASETS", "CHAINRULE_HOME", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINRULE_DATASETS_URL", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setattr(_files, "DOWNLOAD_TIMEOUT", 5)
    monkeypatch.setattr(imdb, "_EXPECTED", {"train": 6, "test": 4})
    monkeypatch.setattr(reuters, "_EXPECTED", {"samples": 10, "classes": 46})
    monkeypatch.setattr(boston_housing, "_EXPECTED", {"samples": 10, "features": 13})
    _files.clear_memo()
    yield
    _files.clear_memo()


def ragged(lists):
    out = np.empty(len(lists), dtype=object)
    for i, s in enumerate(lists):
        out[i] = list(s)
    return out


TRAIN = [[1, 5, 2], [3, 3, 9, 1, 4], [7], [2, 2, 2, 2, 2, 2], [8, 1], [6, 4, 3]]
TEST = [[4, 4], [1, 2, 3, 4, 5, 6, 7], [9], [5, 1, 1]]


def write_imdb(folder):
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "imdb.npz", x_train=ragged(TRAIN), y_train=np.array([0, 1, 1, 0, 1, 0]),
             x_test=ragged(TEST), y_test=np.array([1, 0, 0, 1]))
    (folder / "imdb_word_index.json").write_text(json.dumps({"the": 1, "movie": 2}))
    return folder / "imdb.npz"


def keras_order(seed, n_train, n_test):
    """The shuffles imdb.load_data documents: one RandomState(seed), train then test."""
    rng = np.random.RandomState(seed)
    a, b = np.arange(n_train), np.arange(n_test)
    rng.shuffle(a)
    rng.shuffle(b)
    return a, b


def test_imdb_defaults_match_keras_layout(tmp_path, monkeypatch):
    write_imdb(tmp_path / "shared")
    monkeypatch.setenv("CHAINRULE_DATASETS", str(tmp_path / "shared"))
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    order_train, order_test = keras_order(113, 6, 4)
    assert x_train.dtype == object and x_train.shape == (6,)
    # Without num_words, Keras takes the largest index as num_words and keeps w < num_words:
    # the largest index itself (9 + 3) becomes oov_char. That quirk is kept.
    top = 9 + 3

    def expect(s):
        return [1] + [w + 3 if w + 3 < top else 2 for w in s]
    assert [list(s) for s in x_train] == [expect(TRAIN[i]) for i in order_train]
    assert y_train.tolist() == np.array([0, 1, 1, 0, 1, 0])[order_train].tolist()
    assert [list(s) for s in x_test] == [expect(TEST[i]) for i in order_test]
    assert y_test.tolist() == np.array([1, 0, 0, 1])[order_test].tolist()
    assert imdb.get_word_index() == {"the": 1, "movie": 2}


def test_imdb_num_words_skip_top_maxlen_and_oov(tmp_path):
    path = write_imdb(tmp_path)
    (x_train, _), (x_test, _) = imdb.load_data(path, num_words=8, skip_top=5, seed=1)
    for s in list(x_train) + list(x_test):
        assert s[0] == 2  # the start mark 1 is below skip_top: it becomes oov too
        assert all(w == 2 or 5 <= w < 8 for w in s)
    (x_train, y_train), _ = imdb.load_data(path, maxlen=4, start_char=None, index_from=0)
    assert all(len(s) < 4 for s in x_train) and len(x_train) == len(y_train) == 4
    (dropped, _), _ = imdb.load_data(path, num_words=6, oov_char=None, index_from=0,
                                     start_char=None)
    assert all(all(w < 6 for w in s) for s in dropped)
    assert sum(map(len, dropped)) < sum(map(len, TRAIN))
    with pytest.raises(ValueError, match="increase maxlen"):
        imdb.load_data(path, maxlen=1)


def test_reuters_split_and_labels(tmp_path):
    xs = [[i + 1] * (i % 4 + 1) for i in range(10)]
    labels = np.arange(10) * 4 % 46
    np.savez(tmp_path / "reuters.npz", x=ragged(xs), y=labels)
    (tmp_path / "reuters_word_index.json").write_text(json.dumps({"said": 1}))
    (x_train, y_train), (x_test, y_test) = reuters.load_data(tmp_path / "reuters.npz",
                                                             test_split=0.3, seed=5)
    assert len(x_train) == 7 and len(x_test) == 3  # int(10 * (1 - 0.3))
    order = np.arange(10)
    np.random.RandomState(5).shuffle(order)
    assert y_train.tolist() + y_test.tolist() == labels[order].tolist()
    top = 10 + 3  # the largest index becomes oov_char (see the imdb test)
    assert [list(s) for s in x_train][0] == [1] + [w + 3 if w + 3 < top else 2 for w in xs[order[0]]]
    assert reuters.get_word_index(tmp_path) == {"said": 1}
    assert len(reuters.get_label_names()) == 46 and reuters.get_label_names()[3] == "earn"


def test_boston_housing(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 13)), rng.random(10) * 50
    np.savez(tmp_path / "boston_housing.npz", x=x, y=y)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(tmp_path)
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x[order])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y[order])
    assert x_train.shape == (8, 13) and y_test.shape == (2,)
    np.savez(tmp_path / "bad.npz", x=x[:, :5], y=y)
    with pytest.raises(DatasetCorruptError, match="expected features"):
        boston_housing.load_data(tmp_path / "bad.npz")


def test_a_file_that_asks_for_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                                  "shape": (1,)})
    payload = header.getvalue()
    payload = payload + pickle.dumps(Evil())
    with zipfile.ZipFile(tmp_path / "imdb.npz", "w") as z:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(f"{key}.npy", payload)
    with pytest.raises(DatasetCorruptError, match="builtins.print.*refusing"):
        imdb.load_data(tmp_path / "imdb.npz")


def test_missing_files_say_where_to_put_them():
    with pytest.raises(DatasetNotFoundError, match="imdb.npz"):
        imdb.load_data()
    with pytest.raises(DatasetNotFoundError, match="reuters_word_index.json"):
        reuters.get_word_index()


def test_word_index_download_is_checked_by_md5(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    body = json.dumps({"good": 1}).encode()
    (served / "imdb_word_index.json").write_bytes(body)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("CHAINRULE_DATASETS_URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
        monkeypatch.setitem(imdb.HASHES, "imdb_word_index.json", hashlib.md5(b"other").hexdigest())
        with pytest.raises(DatasetCorruptError, match="its MD5 is"):
            imdb.get_word_index()
        monkeypatch.setitem(imdb.HASHES, "imdb_word_index.json", hashlib.md5(body).hexdigest())
        assert imdb.get_word_index() == {"good": 1}
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_published_hashes():
    assert imdb.HASHES["imdb.npz"].startswith("69664113") and len(imdb.HASHES["imdb.npz"]) == 64
    assert len(imdb.HASHES["imdb_word_index.json"]) == 32
    assert reuters.HASHES["reuters.npz"].startswith("d6586e69")
    assert boston_housing.HASHES["boston_housing.npz"].startswith("f553886a")


# -- keras.utils ----------------------------------------------------------------------------

def test_pad_sequences_follows_keras():
    seqs = [[1], [2, 3], [4, 5, 6]]
    pad = keras.utils.pad_sequences
    assert pad(seqs).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad(seqs, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad(seqs, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert pad(seqs).dtype == np.int32 and pad(seqs, dtype="float32").dtype == np.float32
    assert pad([[], [1, 2]]).tolist() == [[0, 0], [1, 2]]
    assert pad([[[1, 2]], [[3, 4], [5, 6]]]).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        pad(seqs, padding="middle")
    with pytest.raises(ValueError, match="cannot hold the text padding value"):
        pad(seqs, value="x")


def test_to_categorical():
    out = keras.utils.to_categorical([0, 2, 1], 3)
    assert out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]] and out.dtype == np.float32
    assert keras.utils.to_categorical(np.array([[1], [0]])).shape == (2, 2)
