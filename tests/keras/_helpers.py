"""Shared helpers for the Keras tests: finite differences and small synthetic data."""

import io
import json
import os
import zipfile

import numpy as np

import chainrule as cr
from chainrule.testing import numerical_gradient as numeric_gradient  # noqa: F401


def tape_gradient(f, x):
    """The tape's gradient of ``f`` (Tensor -> scalar Tensor) at the float64 array ``x``."""
    v = cr.Variable(np.array(x, dtype=np.float64))
    with cr.GradientTape() as tape:
        y = f(v)
    return tape.gradient(y, v).numpy()


def blobs(n=300, features=4, classes=3, seed=0):
    """Separable Gaussian clusters: float32 features, uint8 labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, features))
    labels = rng.integers(0, classes, n).astype(np.uint8)
    x = (centers[labels] + rng.normal(0, 1, (n, features))).astype(np.float32)
    return x, labels


# Real data only where CHAINRULE_DATASETS says (.ci/run sets it when ../shared is there): a
# fresh clone, like CI's second run, takes the stand-in below, and the tests must hold on both.
DATASETS = os.environ.get("CHAINRULE_DATASETS")
MNIST = os.path.join(DATASETS, "mnist.npz") if DATASETS else None


def mnist_like(n, seed=7):
    """Stand-in for MNIST with its statistics: ten classes, each a fixed pattern of "ink" on
    about a fifth of 784 pixels (real digits ink ~19%), each sample dropping some of it, values
    in [0, 1] and zero elsewhere. Models and learning rates tuned for MNIST train on it the same
    way (dense Gaussian blobs of this size saturate the chapter's softmax instead)."""
    rng = np.random.default_rng(seed)
    templates = rng.random((10, 28 * 28)) < 0.19
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ink = templates[labels] & (rng.random((n, 28 * 28)) < 0.85)
    return (ink * rng.uniform(0.5, 1.0, ink.shape)).astype(np.float32), labels


def mnist_subset(n_train=2000, n_test=500):
    """The first images of the real MNIST file, flattened to float32 in [0, 1]; without the
    file, MNIST-like stand-in data of the same shapes (so the tests still run)."""
    if MNIST is None or not os.path.exists(MNIST):
        x, y = mnist_like(n_train + n_test)
        return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
    with np.load(MNIST, allow_pickle=False) as f:
        x_train, y_train = f["x_train"][:n_train], f["y_train"][:n_train]
        x_test, y_test = f["x_test"][:n_test], f["y_test"][:n_test]
    prep = lambda a: a.reshape(len(a), 28 * 28).astype("float32") / 255  # noqa: E731
    return (prep(x_train), y_train), (prep(x_test), y_test)


def with_saved_weight(path, index, array):
    """Rewrites the model file ``path`` so that its weight #``index`` is ``array`` (its
    manifest entry saying the array's dtype): a file that means something else."""
    with zipfile.ZipFile(path) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    config = json.loads(entries["config.json"])
    config["weights"][index]["dtype"] = array.dtype.name
    with zipfile.ZipFile(io.BytesIO(entries["weights.npz"])) as old:
        arrays = {name: old.read(name) for name in old.namelist()}
    out = io.BytesIO()
    np.save(out, array)
    arrays[f"{index:04d}.npy"] = out.getvalue()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for name, data in arrays.items():
            z.writestr(name, data)
    entries["weights.npz"] = inner.getvalue()
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def keras_fixture_arrays(name):
    """``{key: float32 array}`` from a JSON fixture in tests/keras/fixtures/ (Keras's own
    outputs, written by the scripts there)."""
    with open(os.path.join(os.path.dirname(__file__), "fixtures", name)) as f:
        return {key: np.asarray(value, np.float32) for key, value in json.load(f).items()}
