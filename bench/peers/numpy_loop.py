"""A hand-written NumPy training loop: the baseline every ratio is taken to.

Written the way a careful engineer would write it for speed, so that it is a fair bar:

* float32 everywhere (BLAS sgemm, half the memory traffic of float64);
* every intermediate lives in a buffer allocated once in :func:`make_state` and is written
  with ``out=`` -- the loop allocates nothing proportional to the model per step;
* softmax and crossentropy are fused: the logits' gradient is ``(p - onehot(y)) / n``;
* each activation's derivative is taken from its output (relu: ``h > 0``, tanh: ``1 - h²``,
  sigmoid: ``h (1 - h)``), with no gradient with respect to the input;
* the optimizer (Keras 3's RMSprop or Adam) updates weights and slots in place.

It trains any :class:`~peers.common.ModelSpec`: the book's model and the second one.
"""

from __future__ import annotations

import numpy as np

from .common import (BETA_1, BETA_2, CLASSES, EPSILON, INPUT_DIM, LEARNING_RATE, RHO,
                     ADAM_EPSILON, adam_alpha, batch_bounds, init_params, model_spec)

F32 = np.float32


def _activate_(h: np.ndarray, act: str) -> None:
    """Apply the hidden activation in place."""
    if act == "relu":
        np.maximum(h, 0, out=h)
    elif act == "tanh":
        np.tanh(h, out=h)
    elif act == "sigmoid":  # 0.5 * (tanh(x / 2) + 1): never overflows, unlike 1 / (1 + e^-x)
        h *= F32(0.5)
        np.tanh(h, out=h)
        h += F32(1.0)
        h *= F32(0.5)
    else:
        raise ValueError(f"numpy loop: no activation {act!r}")


def _backward_(d: np.ndarray, h: np.ndarray, act: str, tmp: np.ndarray) -> None:
    """d *= act'(z), from the activation's output h = act(z); tmp is scratch of d's shape."""
    if act == "relu":
        np.greater(h, 0, out=tmp)  # tmp is a bool mask for relu
        np.multiply(d, tmp, out=d)
    elif act == "tanh":
        np.multiply(h, h, out=tmp)
        np.subtract(F32(1.0), tmp, out=tmp)
        d *= tmp
    else:  # sigmoid
        np.subtract(F32(1.0), h, out=tmp)
        tmp *= h
        d *= tmp


class State:
    """Parameters, optimizer slots and the per-step scratch buffers."""

    def __init__(self, seed: int, max_batch: int | None = None, model=None):
        self.model = model_spec(model or "book")
        self.params = init_params(seed, self.model)
        self.names = tuple(self.params)  # W1, b1, W2, b2, ...
        self.layers = len(self.names) // 2
        self.grads = {k: np.empty_like(v) for k, v in self.params.items()}
        # RMSprop keeps one slot (velocity), Adam two (momentum, velocity) and a step count.
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        if self.model.optimizer == "adam":
            self.momentum = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.iterations = 0
        # One scratch array per parameter shape for the optimizer's temporaries.
        self.opt_tmp = {k: np.empty_like(v) for k, v in self.params.items()}
        self.max_batch = max_batch or self.model.batch_size
        self._alloc_batch_buffers(self.max_batch)

    def _alloc_batch_buffers(self, b: int) -> None:
        self.xb = np.empty((b, INPUT_DIM), F32)
        widths = self.model.sizes[1:-1]
        self.h = [np.empty((b, w), F32) for w in widths]  # each hidden layer's output
        self.dh = [np.empty((b, w), F32) for w in widths]  # its gradient
        # Scratch for the activation's derivative: relu needs a mask, the others a float.
        self.tmp = [np.empty((b, w), np.bool_ if act == "relu" else F32)
                    for w, act in zip(widths, self.model.activations)]
        self.z = np.empty((b, CLASSES), F32)  # logits, then exp, then probabilities/gradient
        self.zy = np.empty(b, F32)
        self.zmax = np.empty((b, 1), F32)
        self.zsum = np.empty((b, 1), F32)
        self.rows = np.arange(b)


def make_state(seed: int = 0, max_batch: int | None = None, model=None) -> State:
    """Fresh model + optimizer state with buffers for batches of up to ``max_batch`` rows
    (default: the model's batch size)."""
    return State(seed, max_batch, model)


def _rmsprop_(state: State) -> None:
    """v <- rho*v + (1-rho)*g^2 ; w <- w - lr*g/sqrt(v+eps), all in place."""
    for k in state.names:
        w, g, v, t = state.params[k], state.grads[k], state.velocity[k], state.opt_tmp[k]
        v *= F32(RHO)
        np.multiply(g, g, out=t)
        t *= F32(1.0 - RHO)
        v += t
        np.add(v, F32(EPSILON), out=t)
        np.sqrt(t, out=t)
        np.divide(g, t, out=t)
        t *= F32(LEARNING_RATE)
        w -= t


def _adam_(state: State) -> None:
    """Keras 3 Adam, in place: m += (1-b1)(g-m); v += (1-b2)(g²-v);
    w -= alpha*m/(sqrt(v)+eps) with alpha = lr*sqrt(1-b2^t)/(1-b1^t)."""
    state.iterations += 1
    alpha = F32(adam_alpha(state.iterations))
    for k in state.names:
        w, g, t = state.params[k], state.grads[k], state.opt_tmp[k]
        m, v = state.momentum[k], state.velocity[k]
        np.subtract(g, m, out=t)
        t *= F32(1.0 - BETA_1)
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= F32(1.0 - BETA_2)
        v += t
        np.sqrt(v, out=t)
        t += F32(ADAM_EPSILON)
        np.divide(m, t, out=t)
        t *= alpha
        w -= t


def train_step(state: State, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> float:
    """Forward, backward and update on the rows ``idx`` of (x, y); returns the batch's mean loss."""
    n = len(idx)
    p, g, acts = state.params, state.grads, state.model.activations
    xb = state.xb[:n]
    hs, dhs, tmps = [h[:n] for h in state.h], [d[:n] for d in state.dh], state.tmp
    z, zy, zmax, zsum, rows = (state.z[:n], state.zy[:n], state.zmax[:n], state.zsum[:n],
                               state.rows[:n])

    np.take(x, idx, axis=0, out=xb)
    yb = y[idx]  # a batch of small ints; not worth a buffer

    # Forward: h_i = act_i(h_{i-1} @ W_i + b_i); z = h_last @ W_L + b_L.
    below = xb
    for i, (h, act) in enumerate(zip(hs, acts), start=1):
        np.matmul(below, p[f"W{i}"], out=h)
        h += p[f"b{i}"]
        _activate_(h, act)
        below = h
    last = state.layers
    np.matmul(below, p[f"W{last}"], out=z)
    z += p[f"b{last}"]

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
    z *= F32(1.0 / n)

    # Backward, last layer first; no gradient for the input.
    delta = z
    for i in range(last, 0, -1):
        below = hs[i - 2] if i > 1 else xb
        np.matmul(below.T, delta, out=g[f"W{i}"])
        np.sum(delta, axis=0, out=g[f"b{i}"])
        if i > 1:
            d = dhs[i - 2]
            np.matmul(delta, p[f"W{i}"].T, out=d)
            _backward_(d, hs[i - 2], acts[i - 2], tmps[i - 2][:n])
            delta = d

    if state.model.optimizer == "adam":
        _adam_(state)
    else:
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
    """Logits for x, in chunks so evaluation does not build a (10000, 512) temporary."""
    p = state.params
    out = np.empty((len(x), CLASSES), F32)
    for s in range(0, len(x), chunk):
        h = x[s:s + chunk]
        for i, act in enumerate(state.model.activations, start=1):
            h = h @ p[f"W{i}"] + p[f"b{i}"]
            _activate_(h, act)
        out[s:s + chunk] = h @ p[f"W{state.layers}"] + p[f"b{state.layers}"]
    return out


def evaluate(state: State, x: np.ndarray, y: np.ndarray) -> float:
    """Classification accuracy on (x, y); softmax is monotone so argmax of logits suffices."""
    return float(np.mean(predict_logits(state, x).argmax(axis=1) == y))


class _Runner:
    def __init__(self, data, batch_size: int, seed: int, model):
        self.data, self.batch_size = data, batch_size
        self.state = make_state(seed, batch_size, model)
        self.rng = np.random.default_rng(seed + 1)
        self.info = f"numpy {np.__version__}"

    def train_epoch(self) -> float:
        return train_epoch(self.state, self.data.x_train, self.data.y_train, self.batch_size,
                           self.rng)

    def evaluate(self) -> float:
        return evaluate(self.state, self.data.x_test, self.data.y_test)


def build(data, batch_size: int, seed: int, model="book") -> _Runner:
    """Harness entry point (see peers.common)."""
    return _Runner(data, batch_size, seed, model)
