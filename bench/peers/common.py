"""What every peer shares: the models, their optimizers' constants, data, initialisation.

Each peer module exposes one function, ``build(data, batch_size, seed, model=BOOK)``, returning
an object with:

* ``info`` -- a short string (library versions, backend, thread count) for the report;
* ``train_epoch()`` -- one shuffled pass over the training set; returns the epoch's mean
  training loss the way Keras reports it (each batch's loss, computed before that batch's
  update, averaged with the batch size as weight);
* ``evaluate()`` -- test-set accuracy in [0, 1], or ``None`` when the entry does not learn.

``model`` is a :class:`ModelSpec` (or its name): which network and optimizer to train. Every
entry starts from the same weights, :func:`init_params` ``(seed, model)``.

``build`` raises :class:`Unavailable` when the peer cannot run here (library not installed,
chainrule API not written yet); the harness reports that as "skipped", not as a failure.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

INPUT_DIM = 784
CLASSES = 10

# RMSprop, Keras 3 defaults: epsilon is added to the velocity INSIDE the square root.
LEARNING_RATE = 1e-3
RHO = 0.9
EPSILON = 1e-7

# Adam, Keras 3 defaults, in Keras's "epsilon hat" form (see adam_alpha).
BETA_1 = 0.9
BETA_2 = 0.999
ADAM_EPSILON = 1e-7


@dataclass(frozen=True)
class ModelSpec:
    """A stack of Dense layers ending in ``CLASSES`` outputs, with its loss and optimizer.

    ``hidden`` lists the hidden layers as (units, activation), activation one of relu, tanh,
    sigmoid. ``output`` is "softmax" (the model outputs probabilities and the loss is the
    string "sparse_categorical_crossentropy") or "logits" (no activation, and
    ``SparseCategoricalCrossentropy(from_logits=True)``); both are the same arithmetic, which
    the hand-written peers compute fused from the logits. ``optimizer`` is "rmsprop" or "adam",
    with the constants above.
    """

    name: str
    hidden: tuple
    output: str
    optimizer: str
    batch_size: int

    @property
    def sizes(self) -> tuple:
        """Widths from input to output: (784, 512, 10) for the book model."""
        return (INPUT_DIM, *(units for units, _ in self.hidden), CLASSES)

    @property
    def activations(self) -> tuple:
        return tuple(act for _, act in self.hidden)

    def describe(self) -> str:
        layers = [f"Dense {u} {a}" for u, a in self.hidden]
        layers.append(f"Dense {CLASSES} {self.output}")
        loss = "SCCE(from_logits=True)" if self.output == "logits" else "SCCE"
        return f"{', '.join(layers)}; {loss}; {self.optimizer}; batch {self.batch_size}"


# Chapter 2 of Deep Learning with Python: the model everything here was first tuned for.
BOOK = ModelSpec("book", ((512, "relu"),), "softmax", "rmsprop", 128)
# A network nothing was tuned for: other activations, logits, Adam, a smaller batch.
SECOND = ModelSpec("second", ((256, "tanh"), (256, "sigmoid")), "logits", "adam", 64)
# Two more, held out: chosen after the tuning of the two above was done and never tuned for;
# they are reported so a gain on the named networks can be checked on networks it was not
# made for. third: a wide first layer, softmax with Adam, a large batch with a short last one;
# fourth: three hidden layers, logits with RMSprop, Keras's default batch of 32, where the
# per-step overhead weighs most.
THIRD = ModelSpec("third", ((1024, "relu"), (128, "tanh")), "softmax", "adam", 256)
FOURTH = ModelSpec("fourth", ((300, "relu"), (300, "relu"), (100, "tanh")), "logits",
                   "rmsprop", 32)
MODELS = {m.name: m for m in (BOOK, SECOND, THIRD, FOURTH)}
# What --model both and --model held-out name.
MODEL_GROUPS = {"both": ("book", "second"), "held-out": ("third", "fourth"),
                "all": tuple(MODELS)}


def model_spec(model) -> ModelSpec:
    """A ModelSpec from itself or its name."""
    if isinstance(model, ModelSpec):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}") from None


def adam_alpha(step: int) -> float:
    """Adam's step size at step ``step`` (1 for the first update), both bias corrections folded
    in: the update is ``w -= alpha * m / (sqrt(v) + epsilon)`` with the uncorrected v."""
    return LEARNING_RATE * math.sqrt(1.0 - BETA_2 ** step) / (1.0 - BETA_1 ** step)


class Unavailable(Exception):
    """The peer cannot run in this environment; the message says why."""


@dataclass
class Data:
    """Training and test arrays in the layout every peer consumes."""

    x_train: np.ndarray  # (60000, 784) float32 in [0, 1], C-contiguous
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 784) float32
    y_test: np.ndarray  # (10000,) uint8
    source: str  # where it came from, for the report
    synthetic: bool


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASETS = ("mnist", "fashion_mnist")
_FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def datasets_dir() -> str:
    """Folder holding the data sets: $CHAINRULE_DATASETS, else ``../shared/datasets``.

    The default is taken relative to the repository root rather than the current directory,
    so ``python bench/bench_mlp.py`` and ``cd bench && python bench_mlp.py`` find the same file.
    """
    return os.environ.get("CHAINRULE_DATASETS",
                          os.path.join(REPO_ROOT, "..", "shared", "datasets"))


def raw_arrays(dataset: str = "mnist", seed: int = 0) -> tuple[dict, str, bool]:
    """The data set's uint8 arrays (Keras layout), where they came from, and whether synthetic.

    Real files are read with chainrule's own loaders (``chainrule.keras.datasets``), asked only
    for a local copy: without one, this returns random uint8 images of the same shape instead
    of letting the loader try a download. Such data keeps timings meaningful (same shapes, same
    work per step) but its accuracy is chance level, so the harness flags it loudly.
    """
    if dataset == "mnist":
        path = os.path.join(datasets_dir(), "mnist.npz")
        present = os.path.exists(path)
    elif dataset == "fashion_mnist":
        path = os.path.join(datasets_dir(), "fashion-mnist")
        present = all(os.path.exists(os.path.join(path, f)) for f in _FASHION_FILES)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if present:
        import importlib
        loader = importlib.import_module(f"chainrule.keras.datasets.{dataset}")
        (x_train, y_train), (x_test, y_test) = loader.load_data(path=path)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        return arrays, f"{dataset} ({os.path.abspath(path)})", False
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, CLASSES, 60000, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, CLASSES, 10000, dtype=np.uint8)}
    return arrays, f"synthetic (no {dataset} at {path})", True


def prepare(arrays: dict, source: str, synthetic: bool) -> Data:
    """Flatten the images and scale them to [0, 1] in float32."""

    def prep(x: np.ndarray) -> np.ndarray:
        # Divide in float32 so no float64 copy of the 188 MB training set is ever made.
        return np.divide(x.reshape(len(x), -1), np.float32(255.0), dtype=np.float32)

    return Data(prep(arrays["x_train"]), arrays["y_train"].astype(np.uint8),
                prep(arrays["x_test"]), arrays["y_test"].astype(np.uint8),
                source=source, synthetic=synthetic)


def load_data(dataset: str = "mnist", seed: int = 0) -> Data:
    """The data set ready for the peers (see :func:`raw_arrays` for where it comes from)."""
    return prepare(*raw_arrays(dataset, seed))


def save_staged(path: str, dataset: str, seed: int, train_rows: int | None = None
                ) -> tuple[str, bool]:
    """Write the data set's uint8 arrays to one uncompressed ``.npz`` for the workers.

    The harness reads the data set once and every worker loads this file: a worker then holds
    only NumPy and its own library, not the loader, and starts without decompressing anything.
    ``train_rows`` keeps only the first rows of the training set (quick checks). Returns the
    source description and whether the data are synthetic.
    """
    arrays, source, synthetic = raw_arrays(dataset, seed)
    if train_rows:
        arrays["x_train"], arrays["y_train"] = (arrays["x_train"][:train_rows],
                                                arrays["y_train"][:train_rows])
    np.savez(path, **arrays, source=np.array(source), synthetic=np.array(synthetic))
    return source, synthetic


def load_staged(path: str) -> Data:
    """What :func:`save_staged` wrote, ready for the peers."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        source, synthetic = str(f["source"]), bool(f["synthetic"])
    return prepare(arrays, source, synthetic)


def limit_steps(data: Data, steps: int | None, batch_size: int) -> Data:
    """The data with the training set cut to its first ``steps`` batches (for quick checks)."""
    if not steps:
        return data
    n = steps * batch_size
    return Data(data.x_train[:n], data.y_train[:n], data.x_test, data.y_test,
                data.source, data.synthetic)


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras' default kernel initialiser: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def init_params(seed: int, model=None) -> dict[str, np.ndarray]:
    """The model's parameters as float32 NumPy arrays: glorot kernels, zero biases.

    Keys W1, b1, W2, b2, ... in layer order (the order of Keras' ``get_weights``). Kernels are
    stored (in, out) so the forward pass is ``x @ W + b`` like Keras' Dense. Every entry,
    chainrule's and Keras' included, starts from these arrays.
    """
    sizes = model_spec(model or BOOK).sizes
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = glorot_uniform(rng, fan_in, fan_out)
        params[f"b{i}"] = np.zeros(fan_out, np.float32)
    return params


def layer_params(params: dict) -> list[tuple]:
    """[(W1, b1), (W2, b2), ...] from :func:`init_params`' dict."""
    return [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, len(params) // 2 + 1)]


def batch_bounds(n: int, batch_size: int):
    """(start, stop) pairs covering n samples; the last batch is short (96 for MNIST at 128)."""
    return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
