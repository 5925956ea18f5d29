"""Pictures: training curves and sample grids are real PNG files."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from chainrule.plotting import plot_history, plot_samples  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_history_draws_each_metric(tmp_path):
    logs = {"accuracy": [0.9, 0.95], "loss": [0.3, 0.1], "val_accuracy": [0.92, 0.94],
            "val_loss": [0.25, 0.2]}
    path = plot_history(logs, tmp_path / "h.png", title="t")
    with open(path, "rb") as f:
        assert f.read(8) == PNG


def test_plot_history_without_metrics_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no metrics"):
        plot_history({}, tmp_path / "h.png")


def test_plot_samples_with_predictions(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (7, 784)).astype(np.uint8)  # flattened images are unflattened
    labels = np.arange(7) % 10
    predictions = np.eye(10)[[0, 1, 2, 3, 4, 5, 9]]  # the last one is wrong
    path = plot_samples(images, labels, tmp_path / "s.png", predictions=predictions)
    with open(path, "rb") as f:
        assert f.read(8) == PNG
    assert list(tmp_path.iterdir()) == [tmp_path / "s.png"]  # no temporary file left
