"""The floor: only the matrix products of a training step, over one epoch's worth of batches.

Per step the book model needs five products (n = batch rows):

    X @ W1      (n,784)x(784,512)   forward, hidden layer      -- big
    H @ W2      (n,512)x(512,10)    forward, logits
    dZ2 @ W2^T  (n,10)x(10,512)     backward into the hidden layer
    H^T @ dZ2   (512,n)x(n,10)      gradient of W2
    X^T @ dH    (784,n)x(n,512)     gradient of W1             -- big

Two of them hold ~98% of the ~105 M multiply-adds. This entry runs exactly those sgemm calls
on contiguous slices of the training set into preallocated outputs: no shuffle or gather, no
elementwise work, no optimizer, no Python beyond the loop. Whatever an implementation spends
above this figure is overhead; nothing doing the same arithmetic through NumPy's BLAS can go
below it. It learns nothing, so it reports no loss or accuracy.
"""

from __future__ import annotations

import numpy as np

from .common import CLASSES, HIDDEN, batch_bounds, init_params


class _Runner:
    def __init__(self, data, batch_size: int, seed: int):
        p = init_params(seed)
        self.x, self.w1, self.w2 = data.x_train, p["W1"], p["W2"]
        self.batch_size = batch_size
        rng = np.random.default_rng(seed + 1)
        b = batch_size
        self.h = rng.random((b, HIDDEN), dtype=np.float32)
        self.dz2 = rng.random((b, CLASSES), dtype=np.float32)
        self.z = np.empty((b, CLASSES), np.float32)
        self.dh = np.empty((b, HIDDEN), np.float32)
        self.gw1 = np.empty_like(self.w1)
        self.gw2 = np.empty_like(self.w2)
        self.info = f"numpy {np.__version__} matmuls only"

    def train_epoch(self):
        for start, stop in batch_bounds(len(self.x), self.batch_size):
            n = stop - start
            xb, h, dz2, dh = self.x[start:stop], self.h[:n], self.dz2[:n], self.dh[:n]
            np.matmul(xb, self.w1, out=h)
            np.matmul(h, self.w2, out=self.z[:n])
            np.matmul(dz2, self.w2.T, out=dh)
            np.matmul(h.T, dz2, out=self.gw2)
            np.matmul(xb.T, dh, out=self.gw1)
        return None  # no loss: nothing is being learnt

    def evaluate(self):
        return None


def build(data, batch_size: int, seed: int) -> _Runner:
    """Harness entry point (see peers.common)."""
    return _Runner(data, batch_size, seed)
