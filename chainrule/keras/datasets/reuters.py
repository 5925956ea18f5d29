"""Reuters newswires labelled by topic (46 topics), in the layout of
``keras.datasets.reuters``.

``reuters.npz`` holds ``x`` (11,228 newswires, each a list of word indices) and ``y``
(topic numbers 0..45); ``load_data`` splits them into train and test with
``test_split``. ``reuters_word_index.json`` maps each word to its index.
"""

import numpy as np

from . import _sequences as seq
from ._files import DatasetCorruptError, locate, memoized
from ._npz import load_npz
from .imdb import read_word_index

FILE_NAME = "reuters.npz"
WORD_INDEX = "reuters_word_index.json"

# Keras's published hashes (keras/src/datasets/reuters.py, `file_hash`): SHA-256 for the
# archive, MD5 for the word index.
HASHES = {FILE_NAME: "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
          WORD_INDEX: "4d44cc38712099c9e383dc6e5f11a921"}

_EXPECTED = {"samples": 11228, "classes": 46}

_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass",
    "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum",
    "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi",
    "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
    "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """``(x_train, y_train), (x_test, y_test)``: object arrays of word-index lists and
    int64 topic labels, split after shuffling with ``seed`` (the first ``1 - test_split``
    for training). The arguments act as in :func:`chainrule.keras.datasets.imdb.load_data`;
    here ``maxlen`` filters before the split."""
    if not 0 <= test_split < 1:
        raise ValueError(f"reuters.load_data: test_split must be in [0, 1); received {test_split}")
    (file,) = locate("Reuters", (FILE_NAME,), HASHES, path=path)
    expected = dict(_EXPECTED)
    xs, labels = memoized(("reuters", tuple(expected.items())), [file],
                          lambda: _read(file, expected))
    xs, labels = seq.shuffled(np.random.RandomState(seed), xs, labels)
    xs = seq.encode(xs, start_char, index_from)
    if maxlen:
        xs, labels = seq.drop_long(maxlen, xs, labels)
    xs = seq.restrict(xs, num_words, skip_top, oov_char)
    split = int(len(xs) * (1 - test_split))
    return ((seq.as_object_array(xs[:split]), np.asarray(labels[:split])),
            (seq.as_object_array(xs[split:]), np.asarray(labels[split:])))


def _read(file, expected):
    arrays = load_npz(file, ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    seq.check_sequences(x, f"{file} [x]")
    seq.check_labels(y, expected["classes"], f"{file} [y]")
    if len(x) != expected["samples"] or len(y) != expected["samples"]:
        raise DatasetCorruptError(f"{file}: expected {expected['samples']} newswires and "
                                  f"labels, found {len(x)} and {len(y)}")
    return x, y


def get_word_index(path=None):
    """``{word: index}`` (index 1 the most frequent word; add ``index_from`` to match
    ``load_data``'s sequences)."""
    (file,) = locate("Reuters word index", (WORD_INDEX,), HASHES, path=path)
    return read_word_index(file)


def get_label_names():
    """The 46 topic names, in label order."""
    return _LABELS
