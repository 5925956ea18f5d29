"""The floor: only the matrix products of a training step, over one epoch's worth of batches.

A stack of Dense layers needs, per step (n = batch rows, H_0 = X the input):

    H_{i-1} @ W_i        forward, every layer
    dZ_i @ W_i^T         backward into the layer below, every layer but the first
    H_{i-1}^T @ dZ_i     gradient of W_i, every layer

For the book model that is five products, two of them (``X @ W1`` and ``X^T @ dH``) holding
~98% of the ~105 M multiply-adds; the second model has eight. This entry runs exactly those
sgemm calls on contiguous slices of the training set into preallocated outputs: no shuffle or
gather, no elementwise work, no optimizer, no Python beyond the loop. Whatever an
implementation spends above this figure is overhead; nothing doing the same arithmetic through
NumPy's BLAS can go below it. It learns nothing, so it reports no loss or accuracy.
"""

from __future__ import annotations

import numpy as np

from .common import batch_bounds, init_params, layer_params, model_spec


class _Runner:
    def __init__(self, data, batch_size: int, seed: int, model):
        spec = model_spec(model)
        self.x = data.x_train
        self.kernels = [w for w, _ in layer_params(init_params(seed, spec))]
        self.grads = [np.empty_like(w) for w in self.kernels]
        self.batch_size = b = batch_size
        rng = np.random.default_rng(seed + 1)
        # Each layer's output H_i and the gradients dZ_i: their values do not matter, only
        # the shapes of the products. The last layer's dZ is a stand-in; the others are the
        # products into them, as in a real step.
        self.outs = [rng.random((b, w), dtype=np.float32) for w in spec.sizes[1:]]
        self.deltas = [np.empty((b, w), np.float32) for w in spec.sizes[1:-1]]
        self.deltas.append(rng.random((b, spec.sizes[-1]), dtype=np.float32))
        self.info = f"numpy {np.__version__} matmuls only"

    def train_epoch(self):
        ws, gs, outs, deltas = self.kernels, self.grads, self.outs, self.deltas
        for start, stop in batch_bounds(len(self.x), self.batch_size):
            n = stop - start
            inputs = [self.x[start:stop]] + [h[:n] for h in outs[:-1]]
            for w, below, out in zip(ws, inputs, outs):
                np.matmul(below, w, out=out[:n])
            for i in range(len(ws) - 1, -1, -1):
                if i > 0:
                    np.matmul(deltas[i][:n], ws[i].T, out=deltas[i - 1][:n])
                np.matmul(inputs[i].T, deltas[i][:n], out=gs[i])
        return None  # no loss: nothing is being learnt

    def evaluate(self):
        return None


def build(data, batch_size: int, seed: int, model="book") -> _Runner:
    """Harness entry point (see peers.common)."""
    return _Runner(data, batch_size, seed, model)
