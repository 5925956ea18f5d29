"""``keras.utils.pad_sequences``: lists of different lengths as one rectangular array."""

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """A ``(len(sequences), maxlen)`` array (plus the entries' own shape, if they are
    arrays): each sequence cut to ``maxlen`` (dropping its start with ``truncating="pre"``,
    its end with ``"post"``) and filled up with ``value`` (before it with
    ``padding="pre"``, after with ``"post"``). ``maxlen`` defaults to the longest."""
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post'; received {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post'; received "
                         f"{truncating!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: sequences must be a list (or array) of sequences")
    lengths, sample_shape = [], ()
    for s in sequences:
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: every entry must be a sequence; found "
                             f"{type(s).__name__} {s!r}")
        lengths.append(len(s))
        if len(s) and not sample_shape:
            sample_shape = np.asarray(s).shape[1:]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.dtype(dtype) == object
    if isinstance(value, str) and not is_text:
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the text padding value "
                         f"{value!r}; use dtype=object for text")
    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or not maxlen:
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: entries of sequence {i} have shape "
                             f"{kept.shape[1:]}, other sequences' {tuple(sample_shape)}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
