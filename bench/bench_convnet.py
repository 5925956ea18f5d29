#!/usr/bin/env python3
"""Train two small convnets with chainrule and its peers side by side: ms per training step.

* **chapter8**: the book's first convnet (*Deep Learning with Python*, chapter 8), as in
  ``chainrule/examples/mnist_convnet.py``: Conv2D 32, 64, 128 (3x3, relu, "valid"), a
  MaxPooling2D(2) after the first two, Flatten, Dense(10, softmax); sparse categorical
  crossentropy, RMSprop, batch 64; MNIST.
* **second**: a convnet nothing was tuned for: Conv2D(24, 5x5, stride 2, "same", tanh),
  Conv2D(48, 3x3, "same", elu), AveragePooling2D(2), Conv2D(96, 3x3, "valid", tanh), Flatten,
  Dense(10) logits with ``SparseCategoricalCrossentropy(from_logits=True)``, Adam, batch 128;
  Fashion-MNIST (no pixel is zero in every image of a batch).

Entries (each in a worker process of its own; a peer whose library is missing is reported
as skipped):

* ``torch``: PyTorch eager, NCHW (its native layout), autograd, the Keras update rules written
  with ``_foreach`` kernels (see ``peers/torch_loop.py`` for why);
* ``keras-jax``, ``keras-tf``: Keras 3's ``fit`` on JAX and on TensorFlow, Keras's defaults
  (``jit_compile="auto"``);
* ``chainrule-fit``, ``chainrule-jit``: the same Keras code on ``chainrule.keras`` with
  ``jit_compile=False`` and ``True``; ``chainrule-jit@PATH`` (and ``-fit@PATH``) imports
  chainrule from the checkout at PATH instead, to time two versions in the same rounds;
  ``chainrule-jit+adapt`` turns on ``kernels.adapt_threads`` (the BLAS drops to one thread
  while other processes keep stalling its second).

Every entry starts from the same weights (glorot-uniform kernels, zero biases, drawn once
here and set with ``set_weights``, or copied into torch's tensors). A *round* is one call of
``fit(..., epochs=1)`` over the first ``--steps`` batches of the training set (each entry's own
shuffle); rounds are interleaved (round 1 of every entry, then round 2, in an order that
rotates), only one worker computes at a time, and round 1 is warm-up (compilation). Reported:
median, min and max ms/step over the timed rounds, and the *paired* ratio to the fastest peer:
in each round, this entry's time over that peer's time in the same round, median and range.
Pairing matters on a shared machine: two rounds seconds apart see the same neighbours.

``--breakdown`` instead times where chainrule's step goes (compiled and eager, in this
process): matrix products (the BLAS calls), layout changes (im2col and col2im around the
products, reshapes and transposes), pooling, and the rest (element-wise loops, the optimizer,
the loss, and for eager ``fit`` the dispatch and the tape).

Usage (from the repository root; peers from a venv of their own, see bench/README.md):

    python bench/bench_convnet.py --model chapter8 --rounds 6 --steps 100
    python bench/bench_convnet.py --only chainrule-jit,torch --rounds 3 --steps 20
    python bench/bench_convnet.py --breakdown --model both --steps 50
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
for _p in (REPO_ROOT, HERE):
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

import numpy as np  # noqa: E402

from peers.common import Unavailable, raw_arrays  # noqa: E402

# ----------------------------------------------------------------------------- the models

# (kind, arguments): "conv" (filters, kernel, strides, padding, activation), "maxpool" and
# "avgpool" (size); then Flatten and the output Dense(10).
MODELS = {
    "chapter8": dict(
        layers=[("conv", 32, 3, 1, "valid", "relu"), ("maxpool", 2),
                ("conv", 64, 3, 1, "valid", "relu"), ("maxpool", 2),
                ("conv", 128, 3, 1, "valid", "relu")],
        output="softmax", optimizer="rmsprop", batch_size=64, dataset="mnist"),
    "second": dict(
        layers=[("conv", 24, 5, 2, "same", "tanh"), ("conv", 48, 3, 1, "same", "elu"),
                ("avgpool", 2), ("conv", 96, 3, 1, "valid", "tanh")],
        output="logits", optimizer="adam", batch_size=128, dataset="fashion_mnist"),
}
PEERS = ("torch", "keras-jax", "keras-tf")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
ENTRIES = PEERS + ("chainrule-fit", "chainrule-jit")


def describe(model: str) -> str:
    spec = MODELS[model]
    parts = []
    for layer in spec["layers"]:
        if layer[0] == "conv":
            _, f, k, s, pad, act = layer
            parts.append(f"Conv2D {f} {k}x{k}{f' /{s}' if s > 1 else ''} {pad} {act}")
        else:
            parts.append(f"{'Max' if layer[0] == 'maxpool' else 'Average'}Pooling2D {layer[1]}")
    parts.append(f"Dense 10 {spec['output']}")
    return f"{', '.join(parts)}; {spec['optimizer']}; batch {spec['batch_size']}"


def _spatial_after(model: str) -> tuple[int, int]:
    """(side, channels) of the last conv's output for 28x28x1 inputs."""
    side, channels = 28, 1
    for layer in MODELS[model]["layers"]:
        if layer[0] == "conv":
            _, f, k, s, pad, _ = layer
            side = -(-side // s) if pad == "same" else (side - k) // s + 1
            channels = f
        else:
            side //= layer[1]
    return side, channels


def init_weights(model: str, seed: int) -> list[np.ndarray]:
    """Keras's layout and order (kernel, bias per layer): glorot-uniform kernels with
    Keras's fans (receptive field x channels), zero biases."""
    rng = np.random.default_rng(seed)
    weights, channels = [], 1
    for layer in MODELS[model]["layers"]:
        if layer[0] != "conv":
            continue
        _, f, k, _, _, _ = layer
        limit = np.sqrt(6.0 / (k * k * channels + k * k * f))
        weights += [rng.uniform(-limit, limit, (k, k, channels, f)).astype(np.float32),
                    np.zeros(f, np.float32)]
        channels = f
    side, channels = _spatial_after(model)
    fan_in = side * side * channels
    limit = np.sqrt(6.0 / (fan_in + 10))
    weights += [rng.uniform(-limit, limit, (fan_in, 10)).astype(np.float32),
                np.zeros(10, np.float32)]
    return weights


def build_keras_model(keras, model: str, weights, jit_compile=None):
    """The model on ``keras`` (Keras 3 or chainrule.keras), compiled, with ``weights``."""
    spec = MODELS[model]
    layers = keras.layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for layer in spec["layers"]:
        if layer[0] == "conv":
            _, f, k, s, pad, act = layer
            x = layers.Conv2D(f, k, strides=s, padding=pad, activation=act)(x)
        elif layer[0] == "maxpool":
            x = layers.MaxPooling2D(layer[1])(x)
        else:
            x = layers.AveragePooling2D(layer[1])(x)
    x = layers.Flatten()(x)
    if spec["output"] == "softmax":
        outputs = layers.Dense(10, activation="softmax")(x)
        loss = "sparse_categorical_crossentropy"
    else:
        outputs = layers.Dense(10)(x)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    net = keras.Model(inputs, outputs)
    net.set_weights(weights)
    optimizer = keras.optimizers.Adam() if spec["optimizer"] == "adam" else "rmsprop"
    options = {} if jit_compile is None else {"jit_compile": jit_compile}
    net.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], **options)
    return net


# ----------------------------------------------------------------------------- the entries

class KerasEntry:
    def __init__(self, keras, model, weights, x, y, jit_compile=None, info=""):
        self.net = build_keras_model(keras, model, weights, jit_compile)
        self.x, self.y, self.batch = x, y, MODELS[model]["batch_size"]
        self.info = info

    def round(self) -> float:
        history = self.net.fit(self.x, self.y, epochs=1, batch_size=self.batch, verbose=0)
        return float(history.history["loss"][-1])


class TorchEntry:
    """The same network in PyTorch, channels first; the Keras update rules."""

    def __init__(self, model, weights, x, y, seed):
        try:
            import torch
        except ImportError as exc:
            raise Unavailable(f"not installed ({exc})") from None
        self.torch = torch
        spec = MODELS[model]
        self.spec, self.batch = spec, spec["batch_size"]
        self.x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        self.y = torch.from_numpy(y.astype(np.int64))
        params = []
        for w in weights[:-2]:
            params.append(w.transpose(3, 2, 0, 1) if w.ndim == 4 else w)  # (out, in, kh, kw)
        side, channels = _spatial_after(model)
        # Keras flattens (h, w, c); channels-first flattens (c, h, w): permute the rows.
        dense = weights[-2].reshape(side, side, channels, 10).transpose(2, 0, 1, 3)
        params += [dense.reshape(-1, 10).T, weights[-1]]  # F.linear's (out, in)
        self.params = [torch.from_numpy(np.ascontiguousarray(p)).requires_grad_()
                       for p in params]
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.momentum = [torch.zeros_like(p) for p in self.params]
        self.iterations = 0
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"

    def _forward(self, h):
        F = self.torch.nn.functional
        acts = {"relu": F.relu, "tanh": self.torch.tanh, "elu": F.elu}
        p = iter(self.params)
        for layer in self.spec["layers"]:
            if layer[0] == "conv":
                _, f, k, s, pad, act = layer
                w, b = next(p), next(p)
                if pad == "same" and s > 1:  # TF's "same": the extra row and column after
                    total = max(k - s, 0) if h.shape[-1] % s == 0 else max(k - h.shape[-1] % s, 0)
                    h = F.pad(h, (total // 2, total - total // 2, total // 2, total - total // 2))
                    h = F.conv2d(h, w, b, stride=s)
                else:
                    h = F.conv2d(h, w, b, stride=s, padding=0 if pad == "valid" else "same")
                h = acts[act](h)
            elif layer[0] == "maxpool":
                h = F.max_pool2d(h, layer[1])
            else:
                h = F.avg_pool2d(h, layer[1])
        w, b = next(p), next(p)
        return F.linear(h.flatten(1), w, b)

    def _update(self, grads):
        torch = self.torch
        from peers.common import (ADAM_EPSILON, BETA_1, BETA_2, EPSILON, LEARNING_RATE, RHO,
                                  adam_alpha)
        if self.spec["optimizer"] == "rmsprop":
            torch._foreach_mul_(self.velocity, RHO)
            torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - RHO)
            denom = torch._foreach_add(self.velocity, EPSILON)
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(self.params, grads, denom, value=-LEARNING_RATE)
        else:
            self.iterations += 1
            torch._foreach_lerp_(self.momentum, grads, 1.0 - BETA_1)
            torch._foreach_mul_(self.velocity, BETA_2)
            torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - BETA_2)
            denom = torch._foreach_sqrt(self.velocity)
            torch._foreach_add_(denom, ADAM_EPSILON)
            torch._foreach_addcdiv_(self.params, self.momentum, denom,
                                    value=-adam_alpha(self.iterations))

    def round(self) -> float:
        torch = self.torch
        F = torch.nn.functional
        n = len(self.x)
        perm = torch.randperm(n, generator=self.gen)
        total = torch.zeros((), dtype=torch.float64)
        for start in range(0, n, self.batch):
            idx = perm[start:start + self.batch]
            xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            loss = F.cross_entropy(self._forward(xb), yb)
            grads = torch.autograd.grad(loss, self.params)
            with torch.no_grad():
                self._update(grads)
                total += loss.detach() * len(idx)
        return float(total) / n


def make_entry(name: str, model: str, x, y, seed: int):
    name = name.partition("@")[0]  # chainrule-jit@/path: see serve
    name, adapt = name.removesuffix("+adapt"), name.endswith("+adapt")
    weights = init_weights(model, seed)
    if name == "torch":
        return TorchEntry(model, weights, x, y, seed)
    if name.startswith("keras-"):
        backend = {"keras-jax": "jax", "keras-tf": "tensorflow"}[name]
        os.environ["KERAS_BACKEND"] = backend
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import importlib
            importlib.import_module("jax" if backend == "jax" else "tensorflow")
            import keras
        except ImportError as exc:
            raise Unavailable(f"not installed ({exc})") from None
        keras.utils.set_random_seed(seed)
        return KerasEntry(keras, model, weights, x, y,
                          info=f"keras {keras.__version__} on {keras.backend.backend()}")
    if name.startswith("chainrule-"):
        import chainrule
        from chainrule import keras
        from chainrule.primitives import kernels
        chainrule.random.set_seed(seed)
        if adapt:
            kernels.adapt_threads(True)
        jit = name == "chainrule-jit"
        return KerasEntry(keras, model, weights, x, y, jit_compile=jit,
                          info=f"chainrule from {os.path.dirname(chainrule.__file__)}, "
                               f"kernels {kernels.backend()}"
                               f"{', adapt_threads on' if adapt else ''}")
    raise ValueError(f"unknown entry {name!r}; known: {', '.join(ENTRIES)}")


def known(name: str) -> bool:
    base, _, other = name.partition("@")
    chainrule = base.removesuffix("+adapt").startswith("chainrule-")
    return base.removesuffix("+adapt") in ENTRIES and \
        (chainrule or (not other and not base.endswith("+adapt")))


def training_images(model: str, steps: int, seed: int):
    """The first ``steps`` batches of the model's data set: (n, 28, 28, 1) float32 in [0, 1]
    and the labels; random images (said so) when the data set is not here."""
    arrays, source, synthetic = raw_arrays(MODELS[model]["dataset"], seed)
    n = steps * MODELS[model]["batch_size"]
    x = np.divide(arrays["x_train"][:n, :, :, None], np.float32(255), dtype=np.float32)
    return x, arrays["y_train"][:n].astype(np.uint8), source, synthetic


# ----------------------------------------------------------------------------- workers

def serve(name: str, model: str, steps: int, seed: int) -> None:
    """Worker: build the entry, then answer each "round" line with one JSON line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries' chatter must not reach the pipe
    other = name.partition("@")[2]  # chainrule-jit@/path: chainrule from that checkout,
    if other:  # before anything (the data loader) imports it
        sys.path.insert(0, other)
    x, y, _, _ = training_images(model, steps, seed)
    try:
        entry = make_entry(name, model, x, y, seed)
        out.write(json.dumps({"ready": True, "info": entry.info}) + "\n")
    except Unavailable as exc:
        out.write(json.dumps({"ready": False, "skipped": str(exc)}) + "\n")
        out.flush()
        return
    out.flush()
    for line in sys.stdin:
        if line.strip() != "round":
            break
        t0, c0 = time.perf_counter(), os.times()
        loss = entry.round()
        seconds, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        out.write(json.dumps({"seconds": seconds, "cpu_s": cpu, "loss": loss}) + "\n")
        out.flush()


def python_for(name: str, peer_python: str | None) -> str:
    return peer_python if (peer_python and name in PEERS) else sys.executable


class Worker:
    def __init__(self, name, model, steps, seed, python):
        self.name = name
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", name, "--model", model,
             "--steps", str(steps), "--seed", str(seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        hello = self._read()
        self.ready = bool(hello and hello.get("ready"))
        self.info = (hello or {}).get("info") or (hello or {}).get("skipped") or "worker failed"

    def _read(self):
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def round(self):
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=60)


def spread(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def paired(times, reference):
    """Per timed round, ``times[i] / reference[i]``: median and range (None where either
    round is missing)."""
    ratios = [a / b for a, b in zip(times, reference) if a is not None and b is not None]
    return spread(ratios)


def run_model(model, names, rounds, steps, seed, peer_python, settle):
    workers = []
    for name in names:
        w = Worker(name, model, steps, seed, python_for(name, peer_python))
        workers.append(w)
        print(f"  {name}: {w.info}", file=sys.stderr)
    live = [w for w in workers if w.ready]
    times = {w.name: [] for w in live}
    cpu = {w.name: [] for w in live}
    losses = {w.name: [] for w in live}
    for r in range(rounds):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for w in order:
            time.sleep(settle)
            answer = w.round()
            if answer is None:
                raise RuntimeError(f"worker {w.name} died")
            times[w.name].append(answer["seconds"] * 1e3 / steps)
            cpu[w.name].append(answer["cpu_s"] * 1e3 / steps)
            losses[w.name].append(answer["loss"])
        print(f"  round {r + 1}: " + ", ".join(f"{w.name} {times[w.name][-1]:.1f}"
                                                for w in live), file=sys.stderr)
    for w in workers:
        w.close()
    timed = {k: v[1:] if len(v) > 1 else v for k, v in times.items()}
    stats = {k: spread(v) for k, v in timed.items()}
    peers = [n for n in PEERS if n in stats]
    fastest = min(peers, key=lambda n: stats[n]["median"]) if peers else None
    results = []
    for w in workers:
        row = {"name": w.name, "info": w.info, "ready": w.ready}
        if w.ready:
            row.update(ms_per_step=stats[w.name], warmup_ms=times[w.name][0],
                       cpu_ms_per_step=spread(cpu[w.name][1:] or cpu[w.name]),
                       rounds_ms=times[w.name], losses=losses[w.name])
            if fastest:
                row["vs_fastest_peer"] = paired(timed[w.name], timed[fastest])
        results.append(row)
    return {"model": model, "describe": describe(model), "steps": steps, "rounds": rounds,
            "fastest_peer": fastest, "results": results}


def report(block) -> str:
    fastest = block["fastest_peer"]
    lines = [f"### {block['model']}: {block['describe']}",
             f"{block['rounds']} rounds of {block['steps']} steps, round 1 warm-up; "
             f"ratios paired per round against the fastest peer ({fastest or 'none ran'})", "",
             "| entry | ms/step median (min-max) | x fastest peer (min-max) | CPU ms/step | "
             "warm-up ms/step | last loss |", "|---|---|---|---|---|---|"]
    for r in block["results"]:
        if not r["ready"]:
            lines.append(f"| {r['name']} | skipped: {r['info']} | | | | |")
            continue
        s, q = r["ms_per_step"], r.get("vs_fastest_peer")
        ratio = f"{q['median']:.2f}x ({q['min']:.2f}-{q['max']:.2f})" if q else "-"
        lines.append(f"| {r['name']} | {s['median']:.1f} ({s['min']:.1f}-{s['max']:.1f}) | "
                     f"{ratio} | {r['cpu_ms_per_step']['median']:.1f} | {r['warmup_ms']:.1f} | "
                     f"{r['losses'][-1]:.4f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- breakdown

CATEGORIES = ("products", "layout changes", "pooling", "the rest")
_LAYOUT = {"conv", "conv_transpose", "conv_filter_grad", "reshape", "transpose", "pad",
           "concat", "broadcast_to", "expand_dims", "squeeze", "copy", "slice", "gather"}
_POOLING = {"max_pool", "max_pool_scatter", "max_pool_gather", "avg_pool",
            "avg_pool_transpose"}
_PRODUCTS = {"matmul", "dense"}


def category(op_name: str) -> str:
    if op_name in _PRODUCTS:
        return "products"
    if op_name in _POOLING:
        return "pooling"
    if op_name in _LAYOUT:
        return "layout changes"
    return "the rest"


class SelfTimer:
    """Self time per category: time inside a timed call minus the timed calls within it
    (the BLAS product inside a convolution counts as a product, the im2col around it as a
    layout change)."""

    def __init__(self, clock):
        self.totals = dict.fromkeys(CATEGORIES, 0.0)
        self.stack = []
        self.clock = clock

    def wrap(self, cat, func):
        clock = self.clock

        def timed(*args, **kwargs):
            self.stack.append(0.0)
            t0 = clock()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = clock() - t0
                inner = self.stack.pop()
                self.totals[cat] += elapsed - inner
                if self.stack:
                    self.stack[-1] += elapsed
        return timed

    def reset(self):
        self.totals = dict.fromkeys(CATEGORIES, 0.0)


def breakdown(model: str, steps: int, seed: int, rounds: int) -> dict:
    """Where chainrule's compiled and eager step time goes, by category (ms/step)."""
    from chainrule.compiler import execute
    from chainrule.compiler.program import Loop
    from chainrule.primitives import table

    # On one thread, this thread's CPU time: what the step costs, whatever the neighbours do.
    one_thread = os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    clock = time.thread_time if one_thread else time.perf_counter
    timer = SelfTimer(clock)
    original_step, original_matmul = execute._step, np.matmul
    forwards = {name: prim.forward for name, prim in table.PRIMITIVES.items()}

    def step(op, buffers, variables):
        name = "loop" if isinstance(op.prim, Loop) else op.prim.name
        return timer.wrap(category(name), original_step(op, buffers, variables))
    try:
        np.matmul = timer.wrap("products", np.matmul)  # every BLAS product, whoever calls it
        execute._step = step
        for name, prim in table.PRIMITIVES.items():  # eager dispatch calls each forward
            if category(name) != "the rest":
                prim.forward = timer.wrap(category(name), prim.forward)
        return _timed_modes(model, steps, seed, rounds, timer, clock)
    finally:
        np.matmul, execute._step = original_matmul, original_step
        for name, forward in forwards.items():
            table.PRIMITIVES[name].forward = forward


def _timed_modes(model, steps, seed, rounds, timer, clock):
    import chainrule
    from chainrule import keras
    x, y, _, _ = training_images(model, steps, seed)
    out = {"clock": "CPU time of the main thread" if clock is time.thread_time else "wall clock"}
    for jit in (True, False):
        chainrule.random.set_seed(seed)
        net = build_keras_model(keras, model, init_weights(model, seed), jit_compile=jit)
        batch = MODELS[model]["batch_size"]
        net.fit(x[:2 * batch], y[:2 * batch], epochs=1, batch_size=batch, verbose=0)
        best = None
        for _ in range(rounds):
            timer.reset()
            t0 = clock()
            net.fit(x, y, epochs=1, batch_size=batch, verbose=0)
            total = (clock() - t0) * 1e3 / steps
            parts = {k: v * 1e3 / steps for k, v in timer.totals.items()}
            parts["the rest"] = total - sum(v for k, v in parts.items() if k != "the rest")
            if best is None or total < best["total"]:
                best = {"total": total, **parts}
        out["compiled" if jit else "eager"] = best
    return out


def breakdown_report(model, parts) -> str:
    lines = [f"### where chainrule's step goes: {model} (fastest of the rounds, ms/step, "
             f"{parts['clock']})", "", "| fit | total | " + " | ".join(CATEGORIES) + " |",
             "|---|---|" + "---|" * len(CATEGORIES)]
    for mode in ("compiled", "eager"):
        p = parts[mode]
        cells = " | ".join(f"{p[c]:.1f} ({100 * p[c] / p['total']:.0f}%)" for c in CATEGORIES)
        lines.append(f"| {mode} | {p['total']:.1f} | {cells} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=list(MODELS) + ["both"], default="both")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per entry (1: warm-up)")
    parser.add_argument("--steps", type=int, default=100, help="steps per round")
    parser.add_argument("--only", default=None, help="comma-separated subset of the entries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-python", default=os.environ.get("BENCH_PEER_PYTHON"),
                        help="interpreter for the peers (a venv with torch, jax, keras, "
                             "tensorflow); default: this one")
    parser.add_argument("--threads", type=int, default=None,
                        help="thread pools of every library set to N in the workers (OpenBLAS, "
                             "OpenMP/torch, MKL, numba, TensorFlow's intra- and inter-op pools, "
                             "XLA's); default: each library's own choice")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="pause before each round (the previous worker's threads go quiet)")
    parser.add_argument("--breakdown", action="store_true",
                        help="time chainrule's step by category instead (in this process)")
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # the pools are sized when each library loads: start again with the variables set
        n = str(args.threads)
        for var in THREAD_VARIABLES:
            os.environ[var] = n
        eigen = "true" if args.threads > 1 else "false"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_cpu_multi_thread_eigen={eigen}"
                                   f" intra_op_parallelism_threads={n}").strip()
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])
    if args.worker:
        serve(args.worker, args.model, args.steps, args.seed)
        return 0
    models = list(MODELS) if args.model == "both" else [args.model]
    blocks = []
    if args.breakdown:
        for model in models:
            parts = breakdown(model, args.steps, args.seed, max(args.rounds - 1, 1))
            blocks.append({"model": model, "breakdown": parts})
            print(breakdown_report(model, parts), "\n", flush=True)
    else:
        names = args.only.split(",") if args.only else list(ENTRIES)
        unknown = [n for n in names if not known(n)]
        if unknown:
            parser.error(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
        for model in models:
            _, _, source, synthetic = training_images(model, 1, args.seed)
            print(f"{model}: data {source}{' (SYNTHETIC)' if synthetic else ''}",
                  file=sys.stderr)
            block = run_model(model, names, args.rounds, args.steps, args.seed,
                              args.peer_python, args.settle)
            block["data"] = source
            blocks.append(block)
            print(report(block), "\n", flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"blocks": blocks, "argv": sys.argv[1:], "when": time.time()}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
