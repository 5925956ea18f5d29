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


_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASETS = os.environ.get("CHAINRULE_DATASETS") or os.path.join(_REPO, "..", "shared", "datasets")
MNIST = os.path.join(DATASETS, "mnist.npz")


def mnist_subset(n_train=2000, n_test=500):
    """The first images of the real MNIST file, flattened to float32 in [0, 1]; without the
    file, separable synthetic data of the same shapes (so the tests still run)."""
    if not os.path.exists(MNIST):
        x, y = blobs(n_train + n_test, 28 * 28, 10, seed=7)
        x = (x - x.min()) / (x.max() - x.min())
        return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
    with np.load(MNIST, allow_pickle=False) as f:
        x_train, y_train = f["x_train"][:n_train], f["y_train"][:n_train]
        x_test, y_test = f["x_test"][:n_test], f["y_test"][:n_test]
    prep = lambda a: a.reshape(len(a), 28 * 28).astype("float32") / 255  # noqa: E731
    return (prep(x_train), y_train), (prep(x_test), y_test)
