"""Seconds per MNIST epoch for the book's model: eager vs captured replay vs compiled.

The training step is written by hand (Dense 512 relu -> Dense 10, sparse softmax
cross-entropy on the logits, RMSprop with epsilon inside the root, updates through
Variable.assign*), so it needs only the core, not chainrule.keras. Each mode starts from
the same weights and sees the same batches; the script also checks that the compiled run
ends at the same weights as the eager one.

    python benchmarks/bench_compiled_step.py [--epochs 1] [--steps N]
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr

MNIST = os.environ.get("CHAINRULE_MNIST", "/work/shared/datasets/mnist.npz")


class Model:
    """The book's two Dense layers and an RMSprop state, as plain Variables."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)

        def glorot(fan_in, fan_out):
            limit = np.sqrt(6 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)

        self.params = [cr.Variable(glorot(784, 512)), cr.Variable(np.zeros(512, np.float32)),
                       cr.Variable(glorot(512, 10)), cr.Variable(np.zeros(10, np.float32))]
        self.slots = [cr.Variable(np.zeros(p.shape, np.float32)) for p in self.params]

    def train_step(self, x, y, lr=1e-3, rho=0.9, eps=1e-7):
        w1, b1, w2, b2 = self.params
        with cr.GradientTape() as tape:
            hidden = cr.nn.relu(cr.matmul(x, w1) + b1)
            logits = cr.matmul(hidden, w2) + b2
            loss = cr.reduce_mean(cr.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, self.params)
        for p, g, v in zip(self.params, grads, self.slots):
            v.assign(rho * v + (1 - rho) * g * g)
            p.assign_sub(lr * g / cr.sqrt(v + eps))
        return loss


def batches(x, y, size=128, steps=None):
    count = 0
    for start in range(0, len(x), size):
        if steps is not None and count == steps:
            return
        yield x[start:start + size], y[start:start + size]
        count += 1


def run(mode, x, y, epochs, steps):
    model = Model()
    if mode == "eager":
        step = model.train_step
    else:
        step = cr.function(model.train_step, jit_compile=(mode == "compiled"))
    # Warm-up: one step of each batch shape (tracing happens here for the graph modes).
    warm = Model()
    warm_step = warm.train_step if mode == "eager" else cr.function(warm.train_step,
                                                                      jit_compile=(mode == "compiled"))
    for xb, yb in batches(x, y, steps=1):
        warm_step(xb, yb)
    times, loss = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in batches(x, y, steps=steps):
            loss = step(xb, yb)
        times.append(time.perf_counter() - start)
    return model, times, float(loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: all)")
    parser.add_argument("--modes", default="eager,replay,compiled")
    args = parser.parse_args()
    data = np.load(MNIST, allow_pickle=False)
    x = data["x_train"].reshape(-1, 784).astype(np.float32) / 255
    y = data["y_train"]
    results = {}
    for mode in args.modes.split(","):
        model, times, loss = run(mode, x, y, args.epochs, args.steps)
        results[mode] = model
        print(f"{mode:9s} {min(times):7.2f} s/epoch (best of {len(times)})  last loss {loss:.4f}")
    if "eager" in results and "compiled" in results:
        diff = max(float(np.max(np.abs(a.numpy() - b.numpy())))
                   for a, b in zip(results["eager"].params, results["compiled"].params))
        print(f"max |eager - compiled| over the weights after training: {diff:.3g}")


if __name__ == "__main__":
    main()
