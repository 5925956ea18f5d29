"""PyTorch eager peer: autograd for the backward pass, the Keras update rules for the step.

Optimizers: torch's own differ from Keras 3's in where epsilon goes. ``torch.optim.RMSprop``
computes ``g / (sqrt(v) + eps)`` where Keras computes ``g / sqrt(v + eps)``, and
``torch.optim.Adam`` adds eps to the bias-corrected ``sqrt(v_hat)`` where Keras adds it to the
uncorrected ``sqrt(v)``. To keep every peer on the same arithmetic this module writes the Keras
rules with torch's multi-tensor (``_foreach``) kernels, and takes gradients with
``torch.autograd.grad`` instead of ``backward()`` + ``.grad``. In an alternating A/B on this
machine the idiomatic ``zero_grad(); loss.backward(); opt.step()`` with
``torch.optim.RMSprop(alpha=0.9, eps=1e-7)`` was 0.2-0.3 s/epoch slower on the book model
(1.3 vs 1.05-1.1 s) and ended at a slightly different loss, so this entry is both
like-for-like and the faster torch. Thread count is torch's default unless the harness's
``--threads`` sets ``OMP_NUM_THREADS``.
"""

from __future__ import annotations

import numpy as np

from .common import (ADAM_EPSILON, BETA_1, BETA_2, EPSILON, LEARNING_RATE, RHO, Unavailable,
                     adam_alpha, batch_bounds, init_params, model_spec)


def _import_torch():
    try:
        import torch  # lazy on purpose: torch is optional
    except ImportError as exc:
        raise Unavailable(f"not installed ({exc})") from None
    return torch


class _Runner:
    def __init__(self, data, batch_size: int, seed: int, model):
        torch = self.torch = _import_torch()
        self.spec = model_spec(model)
        self.batch_size = batch_size
        # from_numpy shares memory with the NumPy arrays: no second copy of the data set.
        self.x = torch.from_numpy(data.x_train)
        self.y = torch.from_numpy(data.y_train.astype(np.int64))
        self.x_test = torch.from_numpy(data.x_test)
        self.y_test = torch.from_numpy(data.y_test.astype(np.int64))
        self.params = [torch.from_numpy(v.copy()).requires_grad_()
                       for v in init_params(seed, self.spec).values()]  # W1, b1, W2, b2, ...
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.momentum = [torch.zeros_like(p) for p in self.params]
        self.iterations = 0
        self.acts = [getattr(torch, act) for act in self.spec.activations]  # relu, tanh, sigmoid
        self._update = self._adam if self.spec.optimizer == "adam" else self._rmsprop
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"

    def _forward(self, h):
        p = self.params
        for i, act in enumerate(self.acts):
            h = act(self.torch.addmm(p[2 * i + 1], h, p[2 * i]))
        return self.torch.addmm(p[-1], h, p[-2])  # logits

    def _rmsprop(self, grads) -> None:
        # Keras 3 RMSprop: v = rho*v + (1-rho)*g^2 ; w -= lr * g / sqrt(v + eps)
        torch = self.torch
        torch._foreach_mul_(self.velocity, RHO)
        torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - RHO)
        denom = torch._foreach_add(self.velocity, EPSILON)
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(self.params, grads, denom, value=-LEARNING_RATE)

    def _adam(self, grads) -> None:
        # Keras 3 Adam: m += (1-b1)(g-m); v += (1-b2)(g^2-v); w -= alpha*m/(sqrt(v)+eps)
        torch = self.torch
        self.iterations += 1
        torch._foreach_lerp_(self.momentum, grads, 1.0 - BETA_1)
        torch._foreach_mul_(self.velocity, BETA_2)
        torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - BETA_2)
        denom = torch._foreach_sqrt(self.velocity)
        torch._foreach_add_(denom, ADAM_EPSILON)
        torch._foreach_addcdiv_(self.params, self.momentum, denom,
                                value=-adam_alpha(self.iterations))

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
                self._update(grads)
                total += loss.detach() * (stop - start)  # no .item(): no sync per step
        return float(total) / n

    def evaluate(self) -> float:
        with self.torch.no_grad():
            pred = self._forward(self.x_test).argmax(dim=1)
        return float((pred == self.y_test).float().mean())


def build(data, batch_size: int, seed: int, model="book") -> _Runner:
    """Harness entry point (see peers.common); raises Unavailable without torch."""
    return _Runner(data, batch_size, seed, model)
