"""Mistakes get errors that name the argument or layer and the shapes involved."""

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers

from ._helpers import blobs


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.utils.clear_session()


def model():
    m = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_x_and_y_of_different_lengths():
    x, y = blobs(50)
    with pytest.raises(ValueError) as e:
        model().fit(x, y[:49], verbose=0)
    message = str(e.value)
    assert "fit: x and y must have the same number of samples" in message
    assert "(50, 4)" in message and "(49,)" in message
    with pytest.raises(ValueError, match="evaluate: x and y"):
        model().evaluate(x[:10], y[:9], verbose=0)


def test_feature_count_differs_from_the_built_model():
    x, y = blobs(50)
    m = model()
    m.fit(x, y, verbose=0)
    with pytest.raises(ValueError) as e:
        m.predict(np.zeros((5, 6), np.float32), verbose=0)
    message = str(e.value)
    assert "layer 'dense'" in message and "expected axis -1 of input shape to have value 4" in message
    assert "(5, 6)" in message
    built = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(3)])
    built.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"value 784.*\(32, 780\)"):
        built.fit(np.zeros((64, 780), np.float32), np.zeros((64, 3), np.float32), verbose=0)


def test_label_out_of_range_for_the_sparse_loss():
    x, y = blobs(50)
    y = y.copy()
    y[7] = 3  # the model has 3 classes: 0, 1, 2
    with pytest.raises(ValueError) as e:
        model().fit(x, y, batch_size=50, verbose=0)
    message = str(e.value)
    assert "sparse_categorical_crossentropy: label 3 is out of range" in message
    assert "3 classes" in message and "[0, 2]" in message


@pytest.mark.parametrize("kwargs,expected", [
    ({"optimizer": "rmsprp", "loss": "mse"}, ["Unknown optimizer 'rmsprp'", "'adam'", "'sgd'"]),
    ({"optimizer": "sgd", "loss": "sparse_categorical"}, ["Unknown loss 'sparse_categorical'",
                                                          "'sparse_categorical_crossentropy'"]),
    ({"optimizer": "sgd", "loss": "mse", "metrics": ["acuracy"]},
     ["Unknown metric 'acuracy'", "'accuracy'", "'mae'"]),
])
def test_unknown_names_list_the_valid_ones(kwargs, expected):
    with pytest.raises(ValueError) as e:
        keras.Sequential([layers.Dense(1)]).compile(**kwargs)
    for text in expected:
        assert text in str(e.value)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_batch_size_must_be_positive(batch_size):
    x, y = blobs(20)
    with pytest.raises(ValueError, match=f"fit: batch_size must be a positive integer; "
                                         f"received batch_size={batch_size}"):
        model().fit(x, y, batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match="predict: batch_size"):
        model().predict(x, batch_size=batch_size, verbose=0)


def test_empty_data():
    with pytest.raises(ValueError, match=r"fit: x is empty \(shape \(0, 4\)\)"):
        model().fit(np.zeros((0, 4), np.float32), np.zeros(0, np.uint8), verbose=0)
    with pytest.raises(ValueError, match="predict: x is empty"):
        model().predict(np.zeros((0, 4), np.float32), verbose=0)


def test_fit_before_compile_and_missing_pieces():
    x, y = blobs(20)
    with pytest.raises(RuntimeError, match="call model.compile"):
        keras.Sequential([layers.Dense(1)]).fit(x, y)
    m = keras.Sequential([layers.Dense(1)])
    m.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="compiled without a loss"):
        m.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="the data has no targets \\(y is None\\)"):
        model().fit(x, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model().fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="verbose must be"):
        model().fit(x, y, verbose=3)


def test_ragged_list_as_x_names_x_the_dimension_and_the_fix():
    model = keras.Sequential([layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"fit: x is ragged: dimension 1 has different lengths "
                                         r"\(2, 3\).*pad the rows to one length") as info:
        model.fit([[1.0, 2.0, 3.0], [4.0, 5.0]], [[0.0, 0.0], [1.0, 1.0]], verbose=0)
    assert "inhomogeneous" not in str(info.value)  # NumPy's wording is not what the user sees
    with pytest.raises(ValueError, match=r"predict: x is ragged: dimension 2 has different"):
        model.predict([[[1.0], [2.0]], [[1.0, 2.0], [3.0]]], verbose=0)
    with pytest.raises(ValueError, match=r"y is ragged: at dimension 1, some entries are "
                                         r"sequences and some are scalars"):
        model.fit([[1.0], [2.0]], [[0.0, 1.0], 2.0], verbose=0)


@pytest.mark.parametrize("built", [True, False])
def test_predicting_one_example_without_a_batch_axis_says_to_add_one(built):
    m = model()
    if built:
        m.build((None, 4))
    one = blobs(1)[0][0]  # shape (4,): one example, no batch axis
    with pytest.raises(ValueError, match="found ndim=1") as e:
        m.predict(one, verbose=0)
    assert "add a batch axis: x[None] or np.expand_dims(x, 0)" in str(e.value)
    assert m.predict(one[None], verbose=0).shape == (1, 3)  # what it says works


@pytest.mark.parametrize("kwargs, meant", [
    ({"loss": "sparse_crossentropy"}, "sparse_categorical_crossentropy"),
    ({"loss": "SparseCrossentropy"}, "SparseCategoricalCrossentropy"),
    ({"loss": "mean_abs_error"}, "mean_absolute_error"),
    ({"loss": "mse", "metrics": ["sparse_accuracy"]}, "sparse_categorical_accuracy"),
    ({"loss": "mse", "metrics": ["categorical_acc"]}, "categorical_accuracy")])
def test_unknown_names_suggest_the_name_holding_their_words(kwargs, meant):
    with pytest.raises(ValueError, match=f"Did you mean '{meant}'\\?"):
        keras.Sequential([layers.Dense(3)]).compile(optimizer="rmsprop", **kwargs)
