"""compile() for one output or several (loss, loss_weights, metrics, weighted_metrics) and
fit()'s data arguments (sample_weight, class_weight, steps_per_epoch, validation_*), with
the log names, defaults and errors Keras 3 documents."""

import warnings

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import callbacks, layers

from ._helpers import blobs


def two_heads():
    inputs = keras.Input(shape=(6,), name="features")
    hidden = layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, [layers.Dense(1, name="score")(hidden),
                                layers.Dense(3, activation="softmax", name="kind")(hidden)])


def two_head_data(n=96, seed=0):
    x, labels = blobs(n, 6, 3, seed=seed)
    return x, [x[:, :1] * 0.5, labels]


def classifier():
    return keras.Sequential([layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])


def fit_logs(model, *args, **kwargs):
    return model.fit(*args, verbose=0, **kwargs).history


# -- compile ---------------------------------------------------------------------------------

def test_loss_weights_weight_the_total_but_not_the_per_output_logs():
    x, y = two_head_data()
    results = []
    for weights in (None, [0.5, 2.0], {"score": 0.5, "kind": 2.0}):
        keras.utils.set_random_seed(0)
        model = two_heads()
        model.compile(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=weights,
                      jit_compile=False)
        logs = model.evaluate(x, y, batch_size=96, verbose=0, return_dict=True)
        results.append(logs)
        w = weights if weights is None or isinstance(weights, list) else [0.5, 2.0]
        w = w or [1.0, 1.0]
        assert logs["loss"] == pytest.approx(w[0] * logs["score_loss"] + w[1] * logs["kind_loss"],
                                             rel=1e-6)
    assert results[1] == results[2]  # a list and a dict say the same
    assert results[0]["score_loss"] == results[1]["score_loss"]  # logged unweighted


def test_one_loss_for_every_output_and_a_flat_metric_list_per_output():
    x, y = two_head_data()
    model = two_heads()
    # one metric per output when the list has one entry per output (Keras's rule)
    model.compile(loss="mse", metrics=["mae", "mse"], jit_compile=False)
    y_onehot = [y[0], keras.utils.to_categorical(y[1], 3)]
    logs = fit_logs(model, x, y_onehot, epochs=1)
    assert sorted(logs) == ["kind_loss", "kind_mse", "loss", "score_loss", "score_mae"]


def test_compile_errors_name_the_outputs():
    model = two_heads()
    with pytest.raises(ValueError, match=r"keys \['price'\].*outputs are \['score', 'kind'\]"):
        model.compile(loss={"price": "mse"})
    with pytest.raises(ValueError, match="2 outputs.*needs 2 entries"):
        model.compile(loss=["mse"])
    with pytest.raises(ValueError, match="2 outputs.*needs 2 entries"):
        model.compile(loss="mse", metrics=[["mae"], ["mae"], ["mae"]])
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        model.compile(loss=["msee", "mse"])


def test_targets_as_a_dict_by_output_name():
    x, y = two_head_data()
    keras.utils.set_random_seed(0)
    a = two_heads()
    a.compile(loss=["mse", "sparse_categorical_crossentropy"], jit_compile=False)
    keras.utils.set_random_seed(0)
    b = two_heads()
    b.compile(loss=["mse", "sparse_categorical_crossentropy"], jit_compile=False)
    assert fit_logs(a, x, y, shuffle=False) == \
        fit_logs(b, x, {"kind": y[1], "score": y[0]}, shuffle=False)


def test_metrics_ignore_sample_weight_and_weighted_metrics_use_it():
    x, y = blobs(64, 4, 3, seed=1)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"], jit_compile=False)
    model.fit(x, y, epochs=2, verbose=0)
    weights = (y == 0).astype("float32")  # only class 0 counts
    logs = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss", "weighted_accuracy"]
    predicted = model.predict(x, verbose=0).argmax(1)
    assert logs["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert logs["weighted_accuracy"] == pytest.approx(np.mean(predicted[y == 0] == 0))


def test_evaluate_order_for_one_output_is_compile_order():
    x, y = blobs(32, 4, 3)
    model = classifier()
    model.compile(loss="categorical_crossentropy", metrics=["mse", "accuracy"], jit_compile=False)
    y1 = keras.utils.to_categorical(y, 3)
    logs = model.evaluate(x, y1, verbose=0, return_dict=True)
    assert model.evaluate(x, y1, verbose=0) == [logs["loss"], logs["mse"], logs["accuracy"]]


# -- fit's data arguments -----------------------------------------------------------------------

def test_sample_weight_scales_the_loss_as_sum_over_batch_size():
    x, y = blobs(40, 4, 3)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=False)
    plain = model.evaluate(x, y, batch_size=40, verbose=0)
    doubled = model.evaluate(x, y, batch_size=40, sample_weight=np.full(40, 2.0), verbose=0)
    assert doubled == pytest.approx(2 * plain, rel=1e-6)
    half = np.r_[np.ones(20), np.zeros(20)]
    first_half = model.evaluate(x[:20], y[:20], batch_size=20, verbose=0)
    # zero weights still count in the denominator (Keras's sum_over_batch_size)
    assert model.evaluate(x, y, batch_size=40, sample_weight=half, verbose=0) == \
        pytest.approx(first_half / 2, rel=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_class_weight_is_sample_weight_by_label(jit):
    x, y = blobs(90, 4, 3, seed=2)
    class_weight = {0: 1.0, 1: 3.0}  # class 2 is not listed: weight 1
    runs = []
    for kwargs in ({"class_weight": class_weight},
                   {"sample_weight": np.where(y == 1, 3.0, 1.0)}):
        keras.utils.set_random_seed(0)
        model = classifier()
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      jit_compile=jit)
        runs.append((fit_logs(model, x, y, epochs=2, batch_size=30, **kwargs),
                     [w.numpy() for w in model.weights]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_class_weight_reads_one_hot_targets_and_refuses_what_keras_refuses():
    from chainrule.keras.utils.batching import class_weight_to_sample_weights
    one_hot = keras.utils.to_categorical([2, 0, 1], 3)
    np.testing.assert_array_equal(class_weight_to_sample_weights(one_hot, {2: 5.0}),
                                  [5.0, 1.0, 1.0])
    np.testing.assert_array_equal(class_weight_to_sample_weights(np.array([[1], [0]]), {1: 2}),
                                  [2.0, 1.0])
    x, y = blobs(20, 4, 3)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight`"):
        model.fit(x, y, class_weight={0: 2.0}, sample_weight=np.ones(20), verbose=0)
    heads = two_heads()
    heads.compile(loss=["mse", "sparse_categorical_crossentropy"])
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        heads.fit(*two_head_data(), class_weight={0: 2.0}, verbose=0)


class BatchCounter(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.counts = getattr(self, "counts", []) + [0]

    def on_train_batch_end(self, batch, logs=None):
        self.counts[-1] += 1


def test_steps_per_epoch_continues_and_ends_early_when_data_run_out():
    x, y = blobs(100, 4, 3)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=False)
    counter = BatchCounter()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(x, y, batch_size=10, epochs=4, steps_per_epoch=4, verbose=0,
                            callbacks=[counter])
    # 10 batches per pass: 4, 4, then the 2 left (with the warning), then a new pass
    assert counter.counts == [4, 4, 2, 4]
    assert history.params["steps"] == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        counter = BatchCounter()
        model.fit(x, y, epochs=2, steps_per_epoch=5, verbose=0, callbacks=[counter])
    assert counter.counts == [5, 5]  # no batch_size: 100 / 5 = 20 per batch, one pass each


def test_validation_arguments():
    x, y = blobs(100, 4, 3, seed=4)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    history = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    # validation_steps: the first batches of validation_batch_size only, every time
    history = model.fit(x, y, epochs=1, validation_data=(x, y), validation_steps=2,
                        validation_batch_size=10, verbose=0)
    expected = model.evaluate(x[:20], y[:20], batch_size=10, verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == expected["loss"]
    assert history.history["val_accuracy"][0] == expected["accuracy"]
    # validation_data with sample weights, and validation_split with sample_weight
    w = np.r_[np.ones(50), np.zeros(50)]
    history = model.fit(x, y, epochs=1, validation_data=(x, y, w), batch_size=100, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x, y, sample_weight=w, batch_size=100, verbose=0)[0], rel=1e-6)
    history = model.fit(x, y, epochs=1, validation_split=0.5, sample_weight=w, shuffle=False,
                        batch_size=50, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(0.0, abs=1e-7)  # the zero half
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        model.fit(x, y, validation_data=(x,), verbose=0)


def test_evaluate_and_predict_steps():
    x, y = blobs(100, 4, 3)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=False)
    assert model.evaluate(x, y, batch_size=10, steps=3, verbose=0) == \
        model.evaluate(x[:30], y[:30], batch_size=10, verbose=0)
    assert model.predict(x, batch_size=10, steps=3, verbose=0).shape == (30, 3)
