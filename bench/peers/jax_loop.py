"""JAX peer: one ``jax.jit``-compiled train step (forward, ``jax.value_and_grad``, the update).

The training set is put on the device once; each step receives only the batch's row indices
and gathers inside the compiled function, so no batch is copied from Python per step.
Parameters and optimizer state are donated to the step, letting XLA update them in place.
The step returns a running loss sum that stays on the device, so the host never waits on a
step until the epoch ends (JAX dispatches asynchronously). The Keras 3 RMSprop and Adam rules
are written out (a few lines each) rather than taken from optax, keeping the peer
dependency-free and on the Keras arithmetic (optax's ``adam`` adds eps to the bias-corrected
``sqrt(v_hat)``, Keras to the uncorrected ``sqrt(v)``). Adam's step size is computed inside
the step from its count, in float32, as Keras does.
"""

from __future__ import annotations

import os

import numpy as np

from .common import (ADAM_EPSILON, BETA_1, BETA_2, EPSILON, LEARNING_RATE, RHO, Unavailable,
                     batch_bounds, init_params, model_spec)


def _import_jax():
    # Only the CPU exists here; saying so up front skips a noisy probe for GPU/TPU plugins.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax  # lazy on purpose: jax is optional
        import jax.numpy as jnp
    except ImportError as exc:
        raise Unavailable(f"not installed ({exc})") from None
    return jax, jnp


def _updates(jax, jnp):
    """The two update rules as pure functions: (params, slots, grads) -> (params, slots)."""
    tree = jax.tree.map

    def rmsprop(params, slots, grads):
        velocity = tree(lambda v, g: RHO * v + (1.0 - RHO) * g * g, slots["velocity"], grads)
        params = tree(lambda p, g, v: p - LEARNING_RATE * g / jnp.sqrt(v + EPSILON),
                      params, grads, velocity)
        return params, {"velocity": velocity}

    def adam(params, slots, grads):
        t = slots["step"] + 1.0
        alpha = LEARNING_RATE * jnp.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)
        m = tree(lambda m, g: m + (1.0 - BETA_1) * (g - m), slots["momentum"], grads)
        v = tree(lambda v, g: v + (1.0 - BETA_2) * (g * g - v), slots["velocity"], grads)
        params = tree(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + ADAM_EPSILON), params, m, v)
        return params, {"momentum": m, "velocity": v, "step": t}

    return {"rmsprop": rmsprop, "adam": adam}


class _Runner:
    def __init__(self, data, batch_size: int, seed: int, model):
        jax, jnp = _import_jax()
        spec = model_spec(model)
        self.jax, self.jnp = jax, jnp
        self.batch_size = batch_size
        self.x = jax.device_put(data.x_train)
        self.y = jax.device_put(data.y_train.astype(np.int32))
        self.x_test = jax.device_put(data.x_test)
        self.y_test = np.asarray(data.y_test)
        self.params = {k: jax.device_put(v) for k, v in init_params(seed, spec).items()}
        def zeros():  # a fresh set per slot: donated buffers must not be shared
            return {k: jnp.zeros_like(v) for k, v in self.params.items()}

        self.slots = {"velocity": zeros()}
        if spec.optimizer == "adam":
            self.slots.update(momentum=zeros(), step=jnp.zeros((), jnp.float32))
        self.rng = np.random.default_rng(seed + 1)
        self.info = f"jax {jax.__version__} ({jax.default_backend()})"
        acts = [getattr(jax.nn, act) if act != "tanh" else jnp.tanh for act in spec.activations]
        layers = len(spec.sizes) - 1
        update = _updates(jax, jnp)[spec.optimizer]

        def forward(params, h):
            for i, act in enumerate(acts, start=1):
                h = act(h @ params[f"W{i}"] + params[f"b{i}"])
            return h @ params[f"W{layers}"] + params[f"b{layers}"]  # logits

        def loss_fn(params, xb, yb):
            logp = jax.nn.log_softmax(forward(params, xb))
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def step(params, slots, total, x, y, idx):
            xb, yb = x[idx], y[idx]
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)  # grads w.r.t. params only
            params, slots = update(params, slots, grads)
            return params, slots, total + loss * idx.shape[0]

        # Two shapes get compiled: full batches and the short last one.
        self._step = jax.jit(step, donate_argnums=(0, 1, 2))
        self._predict = jax.jit(lambda params, x: jnp.argmax(forward(params, x), axis=1))

    def train_epoch(self) -> float:
        jnp = self.jnp
        n = self.x.shape[0]
        perm = self.rng.permutation(n).astype(np.int32)
        total = jnp.zeros((), jnp.float32)
        for start, stop in batch_bounds(n, self.batch_size):
            self.params, self.slots, total = self._step(
                self.params, self.slots, total, self.x, self.y, perm[start:stop])
        return float(total) / n  # float() waits for the last step: the epoch's time is honest

    def evaluate(self) -> float:
        pred = np.asarray(self._predict(self.params, self.x_test))
        return float(np.mean(pred == self.y_test))


def build(data, batch_size: int, seed: int, model="book") -> _Runner:
    """Harness entry point (see peers.common); raises Unavailable without jax."""
    return _Runner(data, batch_size, seed, model)
