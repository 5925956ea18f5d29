"""PyTorch eager peer: autograd for the backward pass, the Keras RMSprop rule for the update.

Optimizer choice: ``torch.optim.RMSprop`` adds epsilon OUTSIDE the square root
(``g / (sqrt(v) + eps)``) whereas Keras 3 adds it inside (``g / sqrt(v + eps)``). With
eps = 1e-7 the two differ only while v is tiny, but to keep every peer on the same arithmetic
this module implements the Keras rule itself with torch's multi-tensor (``_foreach``) kernels,
and takes gradients with ``torch.autograd.grad`` instead of ``backward()`` + ``.grad``. In an
alternating A/B on this machine the idiomatic ``zero_grad(); loss.backward(); opt.step()`` with
``torch.optim.RMSprop(alpha=0.9, eps=1e-7)`` was 0.2-0.3 s/epoch slower (1.3 vs 1.05-1.1 s) and
ended at a slightly different loss, so this entry is both like-for-like and the faster torch.
Thread count is left at torch's default.
"""

from __future__ import annotations

import numpy as np

from .common import EPSILON, LEARNING_RATE, RHO, Unavailable, batch_bounds, init_params


def _import_torch():
    try:
        import torch  # lazy on purpose: torch is optional
    except ImportError as exc:
        raise Unavailable(f"not installed ({exc})") from None
    return torch


class _Runner:
    def __init__(self, data, batch_size: int, seed: int):
        torch = self.torch = _import_torch()
        self.batch_size = batch_size
        # from_numpy shares memory with the NumPy arrays: no second copy of the data set.
        self.x = torch.from_numpy(data.x_train)
        self.y = torch.from_numpy(data.y_train.astype(np.int64))
        self.x_test = torch.from_numpy(data.x_test)
        self.y_test = torch.from_numpy(data.y_test.astype(np.int64))
        self.params = [torch.from_numpy(v.copy()).requires_grad_()
                       for v in init_params(seed).values()]  # W1, b1, W2, b2
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"

    def _forward(self, xb):
        w1, b1, w2, b2 = self.params
        h = self.torch.relu(self.torch.addmm(b1, xb, w1))
        return self.torch.addmm(b2, h, w2)

    def train_epoch(self) -> float:
        torch = self.torch
        F = torch.nn.functional
        n = len(self.x)
        perm = torch.randperm(n, generator=self.gen)
        total = torch.zeros((), dtype=torch.float64)
        for start, stop in batch_bounds(n, self.batch_size):
            idx = perm[start:stop]
            xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            loss = F.cross_entropy(self._forward(xb), yb)  # log_softmax + nll, fused
            grads = torch.autograd.grad(loss, self.params)
            with torch.no_grad():
                # Keras 3 RMSprop: v = rho*v + (1-rho)*g^2 ; w -= lr * g / sqrt(v + eps)
                torch._foreach_mul_(self.velocity, RHO)
                torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - RHO)
                denom = torch._foreach_add(self.velocity, EPSILON)
                torch._foreach_sqrt_(denom)
                torch._foreach_addcdiv_(self.params, grads, denom, value=-LEARNING_RATE)
                total += loss.detach() * (stop - start)  # no .item(): no sync per step
        return float(total) / n

    def evaluate(self) -> float:
        with self.torch.no_grad():
            pred = self._forward(self.x_test).argmax(dim=1)
        return float((pred == self.y_test).float().mean())


def build(data, batch_size: int, seed: int) -> _Runner:
    """Harness entry point (see peers.common); raises Unavailable without torch."""
    return _Runner(data, batch_size, seed)
