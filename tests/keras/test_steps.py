"""``steps_per_epoch`` and ``validation_steps`` as in Keras, for arrays, finite Datasets and
endless ones."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.data import Dataset

# Several tests iterate endless Datasets: a regression that never stops fails after 60 s
# (tests/conftest.py) instead of hanging the suite.
pytestmark = pytest.mark.time_limit(60)


class Counter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.train.append(0)
        self.test.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.train[-1] += 1

    def on_test_batch_end(self, batch, logs=None):
        self.test[-1] += 1


def _data(n=80):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _model():
    cr.random.set_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_an_endless_validation_dataset_with_validation_steps_ends():
    x, y = _data()
    val = Dataset.from_tensor_slices((x, y)).batch(10).repeat()
    counter = Counter()
    history = _model().fit(x, y, batch_size=20, epochs=2, validation_data=val,
                           validation_steps=3, verbose=0, callbacks=[counter])
    assert counter.test == [3, 3] and counter.train == [4, 4]
    assert len(history.history["val_loss"]) == 2


def test_a_finite_validation_dataset_validates_only_validation_steps_batches():
    x, y = _data()
    model = _model()
    counter = Counter()
    val = Dataset.from_tensor_slices((x, y)).batch(10)  # 8 batches
    history = model.fit(x, y, batch_size=20, epochs=1, validation_data=val, validation_steps=2,
                        verbose=0, callbacks=[counter])
    assert counter.test == [2]
    # the loss of the first two batches, with the weights after the epoch
    expected = model.evaluate(x[:20], y[:20], batch_size=20, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-6)


def test_an_endless_validation_dataset_without_validation_steps_is_refused():
    x, y = _data()
    val = Dataset.from_tensor_slices((x, y)).batch(10).repeat()
    with pytest.raises(ValueError, match="validation_steps"):
        _model().fit(x, y, epochs=1, validation_data=val, verbose=0)


def test_an_endless_training_dataset_with_steps_per_epoch_trains_that_many_per_epoch():
    x, y = _data()
    data = Dataset.from_tensor_slices((x, y)).batch(10).repeat()
    counter = Counter()
    model = _model()
    model.fit(data, epochs=3, steps_per_epoch=5, verbose=0, callbacks=[counter])
    assert counter.train == [5, 5, 5]
    assert int(model.optimizer.iterations) == 15


def test_steps_per_epoch_on_a_finite_dataset_continues_where_the_last_epoch_stopped():
    x, y = _data()
    batches = Dataset.from_tensor_slices((x, y)).batch(10)  # 8 batches
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)
    counter = Counter()
    model = _model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(batches, epochs=3, steps_per_epoch=3, verbose=0, callbacks=[counter])
    # 3 + 3, then the 2 left end the pass (with Keras's warning); as for arrays
    assert counter.train == [3, 3, 2]
    assert any("ran out of data" in str(w.message) for w in caught)
    # the same as arrays in batches of 10 without shuffling
    reference = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        reference.fit(x, y, batch_size=10, epochs=3, steps_per_epoch=3, shuffle=False,
                      verbose=0)
    for a, b in zip(model.weights, reference.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_evaluate_and_predict_take_steps_from_an_endless_dataset():
    x, y = _data()
    model = _model()
    endless = Dataset.from_tensor_slices((x, y)).batch(10).repeat()
    loss = model.evaluate(endless, steps=2, verbose=0)
    assert loss == pytest.approx(model.evaluate(x[:20], y[:20], verbose=0), rel=1e-6)
    out = model.predict(Dataset.from_tensor_slices(x).batch(10).repeat(), steps=3, verbose=0)
    np.testing.assert_array_equal(out, model.predict(x[:30], batch_size=10, verbose=0))


def test_the_time_limit_ends_a_loop_over_an_endless_dataset():
    from tests.conftest import TimeLimitExceeded, time_limit
    endless = Dataset.from_tensor_slices(np.arange(4.0)).repeat()
    with pytest.raises(TimeLimitExceeded, match="still running after 0.3 s"):
        with time_limit(0.3):
            for _ in endless:
                pass
    with pytest.raises(TimeLimitExceeded):  # the module's limit still counts afterwards
        with time_limit(1):
            with time_limit(0.05):
                pass
            for _ in endless:
                pass
