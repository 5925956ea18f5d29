"""IMDB movie reviews, labelled by sentiment, in the layout of ``keras.datasets.imdb``.

``imdb.npz`` holds ``x_train``, ``y_train``, ``x_test``, ``y_test``: 25,000 reviews each,
every review a list of word indices (1 the most frequent word), labels 0 (negative) and
1 (positive). ``imdb_word_index.json`` maps each word to its index.
"""

import json

import numpy as np

from . import _sequences as seq
from ._files import DatasetCorruptError, locate, memoized
from ._npz import load_npz

FILE_NAME = "imdb.npz"
WORD_INDEX = "imdb_word_index.json"

# The hashes Keras publishes for the canonical files (keras/src/datasets/imdb.py,
# `file_hash`): SHA-256 for the archive, MD5 for the word index. Downloads are checked
# against them; local copies are checked by content.
HASHES = {FILE_NAME: "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
          WORD_INDEX: "bfafd718b763782e994055a2d397834f"}

# The full dataset's sizes; tests put a small one here.
_EXPECTED = {"train": 25000, "test": 25000}


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, **kwargs):
    """``(x_train, y_train), (x_test, y_test)`` as Keras returns them: ``x`` object arrays
    of lists of word indices, ``y`` int64 arrays of 0/1.

    Each split is shuffled with ``seed``; every review starts with ``start_char``; word
    ``i`` becomes ``i + index_from``; reviews of ``maxlen`` or more indices (counting the
    start mark) are dropped; indices outside ``[skip_top, num_words)`` become
    ``oov_char`` (or are removed when it is None).

    ``path`` is the ``.npz`` file or a folder holding it; otherwise it is looked for as
    ``mnist.load_data`` looks (``$CHAINRULE_DATASETS``, the caches) and downloaded last.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected arguments {sorted(kwargs)}")
    (file,) = locate("IMDB", (FILE_NAME,), HASHES, path=path)
    expected = dict(_EXPECTED)
    x_train, y_train, x_test, y_test = memoized(("imdb", tuple(expected.items())), [file],
                                                lambda: _read(file, expected))
    # One generator for both splits, train first (Keras's order of draws).
    rng = np.random.RandomState(seed)
    x_train, y_train = seq.shuffled(rng, x_train, y_train)
    x_test, y_test = seq.shuffled(rng, x_test, y_test)
    train, test = seq.encode(x_train, start_char, index_from), seq.encode(x_test, start_char, index_from)
    if maxlen:
        train, y_train = seq.drop_long(maxlen, train, y_train)
        test, y_test = seq.drop_long(maxlen, test, y_test)
        if not train or not test:
            raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; "
                             f"increase maxlen")
    xs = seq.restrict(train + test, num_words, skip_top, oov_char)
    n = len(train)
    return ((seq.as_object_array(xs[:n]), np.asarray(y_train)),
            (seq.as_object_array(xs[n:]), np.asarray(y_test)))


def _read(file, expected):
    arrays = load_npz(file, ("x_train", "y_train", "x_test", "y_test"))
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        seq.check_sequences(x, f"{file} [x_{split}]")
        seq.check_labels(y, 2, f"{file} [y_{split}]")
        if len(x) != expected[split] or len(y) != expected[split]:
            raise DatasetCorruptError(
                f"{file}: expected {expected[split]} {split} reviews and labels, found "
                f"{len(x)} and {len(y)}")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def get_word_index(path=None):
    """``{word: index}``, index 1 the most frequent word (add ``index_from`` to match
    ``load_data``'s sequences). Looked for like ``load_data``'s file."""
    (file,) = locate("IMDB word index", (WORD_INDEX,), HASHES, path=path)
    return read_word_index(file)


def read_word_index(file):
    try:
        with open(file, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as exc:
        raise DatasetCorruptError(f"{file}: not a readable JSON word index ({exc})") from exc
    if not isinstance(index, dict) or not all(isinstance(v, int) for v in index.values()):
        raise DatasetCorruptError(f"{file}: a word index maps words to integers")
    return index
