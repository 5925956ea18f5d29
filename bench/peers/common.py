"""What every peer shares: the book model's hyperparameters, data loading, initialisation.

Each peer module exposes one function, ``build(data, batch_size, seed)``, returning an object
with:

* ``info`` -- a short string (library versions, backend, thread count) for the report;
* ``train_epoch()`` -- one shuffled pass over the training set; returns the epoch's mean
  training loss the way Keras reports it (each batch's loss, computed before that batch's
  update, averaged with the batch size as weight);
* ``evaluate()`` -- test-set accuracy in [0, 1], or ``None`` when the entry does not learn.

``build`` raises :class:`Unavailable` when the peer cannot run here (library not installed,
chainrule API not written yet); the harness reports that as "skipped", not as a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

# The book model and its optimizer (Keras 3 defaults for RMSprop).
INPUT_DIM = 784
HIDDEN = 512
CLASSES = 10
LEARNING_RATE = 1e-3
RHO = 0.9
EPSILON = 1e-7  # added to the velocity INSIDE the square root, as Keras 3 does


class Unavailable(Exception):
    """The peer cannot run in this environment; the message says why."""


@dataclass
class Data:
    """Training and test arrays in the layout every peer consumes."""

    x_train: np.ndarray  # (60000, 784) float32 in [0, 1], C-contiguous
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 784) float32
    y_test: np.ndarray  # (10000,) uint8
    source: str  # where it came from, for the report
    synthetic: bool


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def datasets_dir() -> str:
    """Folder holding ``mnist.npz``: $CHAINRULE_DATASETS, else ``../shared/datasets``.

    The default is taken relative to the repository root rather than the current directory,
    so ``python bench/bench_mlp.py`` and ``cd bench && python bench_mlp.py`` find the same file.
    """
    return os.environ.get("CHAINRULE_DATASETS",
                          os.path.join(REPO_ROOT, "..", "shared", "datasets"))


def load_mnist(seed: int = 0) -> Data:
    """Real MNIST flattened and scaled to [0, 1]; random data of the same shape if it is absent.

    The synthetic fallback keeps timings meaningful (same shapes, same work per step) but its
    accuracy is chance level, so the harness flags it loudly.
    """
    path = os.path.join(datasets_dir(), "mnist.npz")
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}

        def prep(x: np.ndarray) -> np.ndarray:
            # Divide in float32 so no float64 copy of the 188 MB training set is ever made.
            return np.divide(x.reshape(len(x), -1), np.float32(255.0), dtype=np.float32)

        return Data(prep(arrays["x_train"]), arrays["y_train"].astype(np.uint8),
                    prep(arrays["x_test"]), arrays["y_test"].astype(np.uint8),
                    source=os.path.abspath(path), synthetic=False)
    rng = np.random.default_rng(seed)
    return Data(rng.random((60000, INPUT_DIM), dtype=np.float32),
                rng.integers(0, CLASSES, 60000, dtype=np.uint8),
                rng.random((10000, INPUT_DIM), dtype=np.float32),
                rng.integers(0, CLASSES, 10000, dtype=np.uint8),
                source=f"synthetic (no {path})", synthetic=True)


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras' default kernel initialiser: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def init_params(seed: int) -> dict[str, np.ndarray]:
    """Book-model parameters as float32 NumPy arrays: glorot kernels, zero biases.

    Kernels are stored (in, out) so the forward pass is ``x @ W + b`` like Keras' Dense.
    """
    rng = np.random.default_rng(seed)
    return {
        "W1": glorot_uniform(rng, INPUT_DIM, HIDDEN),
        "b1": np.zeros(HIDDEN, np.float32),
        "W2": glorot_uniform(rng, HIDDEN, CLASSES),
        "b2": np.zeros(CLASSES, np.float32),
    }


def batch_bounds(n: int, batch_size: int):
    """(start, stop) pairs covering n samples; the last batch is short (96 for MNIST at 128)."""
    return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
