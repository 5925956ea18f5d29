"""Seconds per MNIST epoch for the book's model: eager vs captured replay vs compiled.

The training step is written by hand (Dense 512 relu -> Dense 10, sparse softmax
cross-entropy on the logits, RMSprop with epsilon inside the root, updates through
Variable.assign*), so it needs only the core, not chainrule.keras. Each mode starts from
the same weights and sees the same batches; the script also checks that the compiled run
ends at the same weights as the eager one.

    python bench/bench_compiled_step.py [--rounds 5] [--steps 40]
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(os.environ.get("CHAINRULE_DATASETS")
                     or os.path.join(_REPO, "..", "shared", "datasets"), "mnist.npz")


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


def batches(x, y, size=128):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


def make_step(model, mode):
    if mode == "eager":
        return model.train_step
    return cr.function(model.train_step, jit_compile=(mode == "compiled"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per mode")
    parser.add_argument("--steps", type=int, default=40, help="steps per round")
    parser.add_argument("--modes", default="eager,replay,compiled")
    args = parser.parse_args()
    data = np.load(MNIST, allow_pickle=False)
    x = data["x_train"].reshape(-1, 784).astype(np.float32) / 255
    y = data["y_train"]
    all_batches = list(batches(x, y))
    steps_per_epoch = len(all_batches)
    modes = args.modes.split(",")
    models = {mode: Model() for mode in modes}
    steps = {mode: make_step(models[mode], mode) for mode in modes}

    # Same weights, same batches: the graph modes must end where eager does.
    for i in range(10):
        for mode in modes:
            steps[mode](*all_batches[i])
    for mode in modes:
        diff = max(float(np.max(np.abs(a.numpy() - b.numpy())))
                   for a, b in zip(models[mode].params, models[modes[0]].params))
        print(f"{mode:9s} max |weights - {modes[0]} weights| after 10 steps: {diff:.3g}")

    # The host may be shared: interleave the modes round by round and keep each one's best.
    best = {mode: float("inf") for mode in modes}
    position = 10
    for _ in range(args.rounds):
        chunk = [all_batches[(position + k) % steps_per_epoch] for k in range(args.steps)]
        position += args.steps
        for mode in modes:
            start = time.perf_counter()
            for xb, yb in chunk:
                steps[mode](xb, yb)
            best[mode] = min(best[mode], (time.perf_counter() - start) / args.steps)
    for mode in modes:
        print(f"{mode:9s} {best[mode] * 1e3:7.2f} ms/step  ~{best[mode] * steps_per_epoch:6.2f} "
              f"s/epoch ({steps_per_epoch} steps; best of {args.rounds} rounds of {args.steps})")


if __name__ == "__main__":
    main()
