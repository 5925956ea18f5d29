"""Sample weights given to fit/evaluate as an argument and as the third part of a Dataset's
``(x, y, sample_weight)`` elements: the same numbers either way, eager and compiled."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras

from ._helpers import blobs

X, Y = blobs(96)
W = np.linspace(0, 2, 96).astype(np.float32)


def run(jit, as_dataset):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"], jit_compile=jit)
    if as_dataset:
        data = cr.data.Dataset.from_tensor_slices((X, Y, W)).batch(32)
        history = model.fit(data, epochs=2, verbose=0).history
        result = model.evaluate(data, verbose=0, return_dict=True)
    else:
        history = model.fit(X, Y, sample_weight=W, batch_size=32, epochs=2, shuffle=False,
                            verbose=0).history
        result = model.evaluate(X, Y, sample_weight=W, batch_size=32, verbose=0,
                                return_dict=True)
    return history, result, model


@pytest.mark.parametrize("jit", [False, True])
def test_dataset_elements_with_weights_equal_the_argument(jit):
    by_argument, by_dataset = run(jit, False), run(jit, True)
    assert by_argument[:2] == by_dataset[:2]
    assert by_argument[:2] == run(False, False)[:2]  # compiled == eager
    history = by_dataset[0]
    assert history["weighted_accuracy"] != history["accuracy"]


def test_weights_scale_each_samples_loss():
    _, result, model = run(False, True)
    per_sample = keras.losses.sparse_categorical_crossentropy(
        Y, model.predict(X, verbose=0)).numpy()
    batches = [np.mean(per_sample[i:i + 32] * W[i:i + 32]) for i in range(0, 96, 32)]
    np.testing.assert_allclose(result["loss"], np.mean(batches), rtol=1e-5)


def test_a_bad_element_says_what_it_needs():
    data = cr.data.Dataset.from_tensor_slices((X, Y, W, W)).batch(32)
    model = keras.Sequential([keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"\(x, y, sample_weight\)"):
        model.fit(data, verbose=0)
