"""What ``imdb.load_data`` and ``reuters.load_data`` do to the word-index sequences, with
Keras's arguments and in Keras's order: shuffle with ``seed``, mark starts, shift indices
by ``index_from``, drop sequences not shorter than ``maxlen``, replace words outside
``[skip_top, num_words)`` by ``oov_char`` (or drop them when it is None)."""

import numpy as np

from ._files import DatasetCorruptError


def shuffled(rng, *arrays):
    """The arrays in one random order drawn from ``rng``, a ``np.random.RandomState``
    (Keras's generator, so a seed gives Keras's order)."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [a[indices] for a in arrays]


def encode(sequences, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [int(w) + index_from for w in s] for s in sequences]
    return [[int(w) + index_from for w in s] for s in sequences]


def drop_long(maxlen, sequences, labels):
    """Keeps the sequences shorter than ``maxlen`` (Keras drops, rather than cuts, the
    others), with their labels."""
    kept = [i for i, s in enumerate(sequences) if len(s) < maxlen]
    return [sequences[i] for i in kept], np.asarray(labels)[kept]


def restrict(sequences, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max((max(s) for s in sequences if s), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in sequences]
    return [[w for w in s if skip_top <= w < num_words] for s in sequences]


def as_object_array(sequences):
    out = np.empty(len(sequences), dtype=object)
    for i, s in enumerate(sequences):
        out[i] = s
    return out


def check_labels(labels, classes, what):
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or
                                                          labels.max() >= classes)):
        raise DatasetCorruptError(f"{what}: labels must be integers 0..{classes - 1}; found "
                                  f"dtype {labels.dtype}, range "
                                  f"{labels.min() if labels.size else '-'}.."
                                  f"{labels.max() if labels.size else '-'}")
    return labels


def check_sequences(sequences, what):
    if sequences.ndim != 1:
        raise DatasetCorruptError(f"{what}: expected one list of word indices per sample, "
                                  f"found an array of shape {sequences.shape}")
    for s in sequences[:5]:
        if not all(isinstance(w, (int, np.integer)) and w >= 0 for w in s):
            raise DatasetCorruptError(f"{what}: a sample is not a list of non-negative word "
                                      f"indices")
