#!/usr/bin/env python3
"""Does chainrule.keras train as well as Keras? The chapter's opening example, imports changed.

* MNIST: Dense(512, relu) -> Dense(10, softmax), RMSprop, batch 128, 5 epochs; test accuracy,
  mean over seeds (target >= 0.978).
* Fashion-MNIST: the same model and schedule; the training loss of epoch 5 (target
  0.285-0.300, the range Keras backends, JAX, PyTorch and a NumPy loop give).
* Peak resident memory of one MNIST run (target < 600 MB), measured in a fresh process.

Usage (from the repository root):

    python bench/accuracy_check.py                 # everything (a few minutes on 2 cores)
    python bench/accuracy_check.py --only mnist --seeds 0

Data: through chainrule's loaders (../shared/datasets is used when it exists). Exits with status 1 when a target is missed.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from chainrule import keras  # noqa: E402
from chainrule.keras import layers  # noqa: E402
from chainrule.keras.datasets import fashion_mnist, mnist  # noqa: E402

if os.path.isdir(os.path.join(REPO_ROOT, "..", "shared", "datasets")):
    os.environ.setdefault("CHAINRULE_DATASETS", os.path.join(REPO_ROOT, "..", "shared", "datasets"))


def load_mnist():
    return mnist.load_data()


def load_fashion_mnist():
    return fashion_mnist.load_data()


def chapter_example(data, seed, epochs=5, verbose=0):
    """The chapter's listing, line for line, after its imports; returns (history, test acc)."""
    keras.utils.set_random_seed(seed)
    (train_images, train_labels), (test_images, test_labels) = data
    model = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train_images = train_images.reshape((60000, 28 * 28))
    train_images = train_images.astype("float32") / 255
    test_images = test_images.reshape((10000, 28 * 28))
    test_images = test_images.astype("float32") / 255
    history = model.fit(train_images, train_labels, epochs=epochs, batch_size=128, verbose=verbose)
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=verbose)
    return history.history, test_acc


def mnist_check(seeds):
    data = load_mnist()
    accuracies = []
    for seed in seeds:
        t = time.perf_counter()
        history, acc = chapter_example(data, seed)
        accuracies.append(acc)
        print(f"  MNIST seed {seed}: test accuracy {acc:.4f}, train loss by epoch "
              f"{[round(v, 4) for v in history['loss']]} ({time.perf_counter() - t:.0f} s)", flush=True)
    return statistics.mean(accuracies), accuracies


def fashion_check(seeds):
    data = load_fashion_mnist()
    losses = []
    for seed in seeds:
        history, acc = chapter_example(data, seed)
        losses.append(history["loss"][-1])
        print(f"  Fashion-MNIST seed {seed}: epoch-5 train loss {history['loss'][-1]:.4f}, "
              f"test accuracy {acc:.4f}", flush=True)
    return losses


def peak_memory_mb():
    """Peak RSS of the main job (``python -m chainrule.examples.mnist``, one epoch), run in a
    fresh interpreter."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "chainrule.examples.mnist", "--epochs", "1",
                        "--out", out], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["mnist", "fashion", "memory"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures, ok = {}, True
    if args.only in (None, "mnist"):
        mean_acc, accs = mnist_check(args.seeds)
        figures["mnist_test_accuracy"] = {"mean": mean_acc, "per_seed": accs}
        ok &= mean_acc >= 0.978
        print(f"MNIST: mean test accuracy {mean_acc:.4f} over seeds {args.seeds} "
              f"(target >= 0.978): {'ok' if mean_acc >= 0.978 else 'MISSED'}")
    if args.only in (None, "fashion"):
        losses = fashion_check(args.seeds)
        figures["fashion_train_loss_epoch5"] = losses
        inside = all(0.285 <= v <= 0.300 for v in losses)
        ok &= inside
        print(f"Fashion-MNIST: epoch-5 train loss {[round(v, 4) for v in losses]} "
              f"(target 0.285-0.300): {'ok' if inside else 'MISSED'}")
    if args.only in (None, "memory"):
        mb = peak_memory_mb()
        figures["mnist_peak_rss_mb"] = mb
        ok &= mb < 600
        print(f"Peak memory of the MNIST example: {mb:.0f} MB (target < 600): "
              f"{'ok' if mb < 600 else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
