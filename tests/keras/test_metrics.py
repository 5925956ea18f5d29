"""Metrics: running means, the accuracy functions, and how "accuracy" is resolved."""

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import metrics


def test_accuracy_resolution_follows_the_shapes():
    probs = np.random.rand(8, 5)
    assert type(metrics.resolve("accuracy", np.zeros(8), probs)) is metrics.SparseCategoricalAccuracy
    assert type(metrics.resolve("acc", np.zeros((8, 1)), probs)) is metrics.SparseCategoricalAccuracy
    assert type(metrics.resolve("accuracy", np.zeros((8, 5)), probs)) is metrics.CategoricalAccuracy
    assert type(metrics.resolve("accuracy", np.zeros((8, 1)), np.random.rand(8, 1))) is metrics.BinaryAccuracy
    assert type(metrics.resolve("accuracy", np.zeros(8), np.random.rand(8, 1))) is metrics.BinaryAccuracy
    assert metrics.resolve("acc", np.zeros(8), probs).name == "acc"
    assert type(metrics.resolve("mae", np.zeros(8), probs)) is metrics.MeanAbsoluteError


def test_shape_resolved_accuracy_decides_on_its_first_batch():
    m = metrics.get("accuracy")
    assert m.name == "accuracy" and float(m.result()) == 0.0
    m.update_state(np.array([1, 0]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert type(m.resolved) is metrics.SparseCategoricalAccuracy and float(m.result()) == 1.0
    m.reset_state()
    m.update_state(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert float(m.result()) == 0.5


def test_sparse_categorical_accuracy_running_mean_and_reset():
    m = metrics.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy"
    m.update_state(np.array([0, 1, 2], np.uint8), np.eye(3))
    m.update_state(np.array([[0]]), np.array([[0.1, 0.9, 0.0]]))
    assert float(m.result()) == pytest.approx(0.75)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_categorical_and_binary_accuracy():
    c = metrics.CategoricalAccuracy()
    c.update_state(np.eye(3), np.array([[0.9, 0.1, 0], [0.9, 0.1, 0], [0, 0.2, 0.8]]))
    assert float(c.result()) == pytest.approx(2 / 3)
    b = metrics.BinaryAccuracy()
    b.update_state(np.array([[1], [0], [1], [0]]), np.array([[0.7], [0.2], [0.4], [0.6]]))
    assert float(b.result()) == pytest.approx(0.5)
    t = metrics.BinaryAccuracy(threshold=0.3)
    t.update_state(np.array([[1]]), np.array([[0.4]]))
    assert float(t.result()) == 1.0


def test_mean_and_regression_metrics():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state(10.0, sample_weight=2)
    assert float(m.result()) == pytest.approx((6 + 20) / 5)
    mse = metrics.MeanSquaredError()
    mse.update_state(np.array([[1.0], [2.0]]), np.array([[2.0], [2.0]]))
    assert float(mse.result()) == pytest.approx(0.5) and mse.name == "mean_squared_error"
    mae = metrics.get("mae")
    mae.update_state(np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]]))
    assert float(mae.result()) == pytest.approx(1.5) and mae.name == "mae"


def test_call_updates_and_returns():
    m = metrics.Accuracy()
    assert float(m(np.array([1, 2]), np.array([1, 3]))) == 0.5


def test_get_unknown_lists_valid_names():
    with pytest.raises(ValueError) as e:
        metrics.get("acuracy")
    message = str(e.value)
    assert "Unknown metric 'acuracy'" in message and "Did you mean 'accuracy'" in message
    assert "'sparse_categorical_accuracy'" in message and "'mse'" in message
    assert isinstance(metrics.get(lambda y, p: np.zeros(len(y))), metrics.MeanMetricWrapper)


def test_mean_absolute_percentage_error_is_kerass():
    y_true = np.array([[1.0, 2.0], [4.0, 0.0]], np.float32)
    y_pred = np.array([[1.5, 2.0], [3.0, 1.0]], np.float32)
    per_sample = 100 * np.mean(np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), 1e-7)), -1)
    metric = keras.metrics.get("mape")
    assert isinstance(metric, keras.metrics.MeanAbsolutePercentageError)
    metric.update_state(y_true[:1], y_pred[:1])
    metric.update_state(y_true[1:], y_pred[1:])
    np.testing.assert_allclose(float(metric.result()), per_sample.mean(), rtol=1e-6)
    loss = keras.losses.MeanAbsolutePercentageError()
    np.testing.assert_allclose(float(loss(y_true, y_pred)), per_sample.mean(), rtol=1e-6)
    assert keras.losses.get("mape") is keras.losses.mean_absolute_percentage_error
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mape"])
    logs = model.fit(y_true, y_true, verbose=0).history
    assert set(logs) == {"loss", "mape"}
