"""A hand-written NumPy training loop for the book model: the baseline every ratio is taken to.

Written the way a careful engineer would write it for speed, so that it is a fair bar:

* float32 everywhere (BLAS sgemm, half the memory traffic of float64);
* every intermediate lives in a buffer allocated once in :func:`make_state` and is written
  with ``out=`` -- the loop allocates nothing proportional to the model per step;
* softmax and crossentropy are fused: the logits' gradient is ``(p - onehot(y)) / n``;
* no gradient is taken with respect to the input;
* RMSprop (Keras 3 rule, epsilon inside the square root) updates weights in place.
"""

from __future__ import annotations

import numpy as np

from .common import (CLASSES, EPSILON, HIDDEN, INPUT_DIM, LEARNING_RATE, RHO, batch_bounds,
                     init_params)

PARAM_NAMES = ("W1", "b1", "W2", "b2")


class State:
    """Parameters, optimizer slots and the per-step scratch buffers."""

    def __init__(self, seed: int, max_batch: int = 128):
        self.params = init_params(seed)
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.grads = {k: np.empty_like(v) for k, v in self.params.items()}
        # One scratch array per parameter shape for the optimizer's temporaries.
        self.opt_tmp = {k: np.empty_like(v) for k, v in self.params.items()}
        self.max_batch = max_batch
        self._alloc_batch_buffers(max_batch)

    def _alloc_batch_buffers(self, b: int) -> None:
        f32 = np.float32
        self.xb = np.empty((b, INPUT_DIM), f32)
        self.h = np.empty((b, HIDDEN), f32)  # relu output; h > 0 doubles as relu's mask
        self.mask = np.empty((b, HIDDEN), np.bool_)
        self.dh = np.empty((b, HIDDEN), f32)
        self.z = np.empty((b, CLASSES), f32)  # logits, then exp, then probabilities/gradient
        self.zy = np.empty(b, f32)
        self.zmax = np.empty((b, 1), f32)
        self.zsum = np.empty((b, 1), f32)
        self.rows = np.arange(b)


def make_state(seed: int = 0, max_batch: int = 128) -> State:
    """Fresh model + optimizer state with buffers for batches of up to ``max_batch`` rows."""
    return State(seed, max_batch)


def _rmsprop_(state: State) -> None:
    """v <- rho*v + (1-rho)*g^2 ; w <- w - lr*g/sqrt(v+eps), all in place."""
    for k in PARAM_NAMES:
        w, g, v, t = state.params[k], state.grads[k], state.velocity[k], state.opt_tmp[k]
        v *= np.float32(RHO)
        np.multiply(g, g, out=t)
        t *= np.float32(1.0 - RHO)
        v += t
        np.add(v, np.float32(EPSILON), out=t)
        np.sqrt(t, out=t)
        np.divide(g, t, out=t)
        t *= np.float32(LEARNING_RATE)
        w -= t


def train_step(state: State, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> float:
    """Forward, backward and update on the rows ``idx`` of (x, y); returns the batch's mean loss."""
    n = len(idx)
    p = state.params
    xb = state.xb[:n]
    h, mask, dh, z = state.h[:n], state.mask[:n], state.dh[:n], state.z[:n]
    zy, zmax, zsum, rows = state.zy[:n], state.zmax[:n], state.zsum[:n], state.rows[:n]

    np.take(x, idx, axis=0, out=xb)
    yb = y[idx]  # 128 small ints; not worth a buffer

    # Forward: h = relu(xb @ W1 + b1); z = h @ W2 + b2.
    np.matmul(xb, p["W1"], out=h)
    h += p["b1"]
    np.maximum(h, 0, out=h)
    np.matmul(h, p["W2"], out=z)
    z += p["b2"]

    # Softmax-crossentropy, fused and stable: loss_i = log(sum exp(z_i - m_i)) - (z_iy - m_i).
    np.max(z, axis=1, keepdims=True, out=zmax)
    z -= zmax
    zy[:] = z[rows, yb]  # small gathers like this are the only per-step allocations
    np.exp(z, out=z)
    np.sum(z, axis=1, keepdims=True, out=zsum)
    loss = float(np.log(zsum[:, 0]).sum() - zy.sum()) / n
    # dL/dz = (softmax - onehot) / n, built in z's buffer.
    z /= zsum
    z[rows, yb] -= 1.0
    z *= np.float32(1.0 / n)

    g = state.grads
    np.matmul(h.T, z, out=g["W2"])
    np.sum(z, axis=0, out=g["b2"])
    np.matmul(z, p["W2"].T, out=dh)
    np.greater(h, 0, out=mask)  # relu'(z1) == (h > 0) since h = max(z1, 0)
    np.multiply(dh, mask, out=dh)
    np.matmul(xb.T, dh, out=g["W1"])
    np.sum(dh, axis=0, out=g["b1"])

    _rmsprop_(state)
    return loss


def train_epoch(state: State, x: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator) -> float:
    """One shuffled epoch; returns the batch-size-weighted mean of the batch losses (as Keras)."""
    if batch_size > state.max_batch:
        state._alloc_batch_buffers(batch_size)
        state.max_batch = batch_size
    perm = rng.permutation(len(x))
    total = 0.0
    for start, stop in batch_bounds(len(x), batch_size):
        total += train_step(state, x, y, perm[start:stop]) * (stop - start)
    return total / len(x)


def predict_logits(state: State, x: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Logits for x, in chunks so evaluation does not build a (10000, 512) float64 temporary."""
    p = state.params
    out = np.empty((len(x), CLASSES), np.float32)
    for s in range(0, len(x), chunk):
        h = np.maximum(x[s:s + chunk] @ p["W1"] + p["b1"], 0)
        out[s:s + chunk] = h @ p["W2"] + p["b2"]
    return out


def evaluate(state: State, x: np.ndarray, y: np.ndarray) -> float:
    """Classification accuracy on (x, y); softmax is monotone so argmax of logits suffices."""
    return float(np.mean(predict_logits(state, x).argmax(axis=1) == y))


class _Runner:
    def __init__(self, data, batch_size: int, seed: int):
        self.data, self.batch_size = data, batch_size
        self.state = make_state(seed, batch_size)
        self.rng = np.random.default_rng(seed + 1)
        self.info = f"numpy {np.__version__}"

    def train_epoch(self) -> float:
        return train_epoch(self.state, self.data.x_train, self.data.y_train, self.batch_size,
                           self.rng)

    def evaluate(self) -> float:
        return evaluate(self.state, self.data.x_test, self.data.y_test)


def build(data, batch_size: int, seed: int) -> _Runner:
    """Harness entry point (see peers.common)."""
    return _Runner(data, batch_size, seed)
