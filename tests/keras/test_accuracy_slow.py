"""The long acceptance checks (full MNIST / Fashion-MNIST, 5 epochs): run with --runslow.

The same code is the script ``bench/accuracy_check.py``, which also reports the figures.
"""

import os
import runpy

import pytest

from ._helpers import DATASETS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
check = runpy.run_path(os.path.join(ROOT, "bench", "accuracy_check.py"), run_name="tests")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not DATASETS or not os.path.exists(os.path.join(DATASETS, "mnist.npz")),
                    reason="needs mnist.npz in $CHAINRULE_DATASETS")
def test_mnist_test_accuracy_after_5_epochs():
    mean_accuracy, per_seed = check["mnist_check"]([0, 1, 2])
    assert mean_accuracy >= 0.978, per_seed


@pytest.mark.skipif(not DATASETS or not os.path.isdir(os.path.join(DATASETS, "fashion-mnist")),
                    reason="needs fashion-mnist/ in $CHAINRULE_DATASETS")
def test_fashion_mnist_train_loss_after_5_epochs():
    for loss in check["fashion_check"]([0]):
        assert 0.285 <= loss <= 0.300
