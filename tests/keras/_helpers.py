"""Shared helpers for the Keras tests: finite differences and small synthetic data."""

import os

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
