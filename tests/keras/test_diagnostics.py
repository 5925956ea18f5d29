"""fit's first-batch checks, diagnostics, run info, reproducibility and model.check_gradients."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.diagnostics import TrainingCheckWarning, diagnose
from chainrule.testing import GradientCheckError

RNG = np.random.default_rng(0)
X = RNG.random((64, 5)).astype("float32")
Y = RNG.integers(0, 3, 64)


def classifier(last="softmax", units=3, loss="sparse_categorical_crossentropy", metrics=None,
               optimizer="rmsprop"):
    model = keras.Sequential([layers.Dense(8, activation="relu"),
                              layers.Dense(units, activation=last)])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def check_messages(model, x, y, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(x, y, batch_size=16, verbose=0, **kwargs)
        except ValueError:
            pass  # some mistakes also stop the loss; the warning came first
    return [str(w.message) for w in caught if w.category is TrainingCheckWarning]


# -- first-batch checks ------------------------------------------------------------------------

def test_pixels_left_in_0_255_are_flagged_with_the_fix():
    messages = check_messages(classifier(), (X * 255).astype("uint8"), Y)
    assert len(messages) == 1
    assert "integers (uint8, values 0.." in messages[0]
    assert "Fix: x = x.astype('float32') / 255" in messages[0]
    whole = check_messages(classifier(), np.round(X * 255), Y)
    assert len(whole) == 1 and "whole numbers in 1..254 fed to a classifier" in whole[0]
    assert "Fix: x = x.astype('float32') / 255" in whole[0]


def test_float64_inputs_are_flagged():
    messages = check_messages(classifier(), X.astype("float64"), Y)
    assert len(messages) == 1 and messages[0].startswith("x is float64")
    assert "Fix: x = x.astype('float32') once, before fit" in messages[0]


def test_from_logits_on_a_softmax_output_is_flagged():
    model = classifier(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    (message,) = check_messages(model, X, Y)
    assert "from_logits=True, but the model ends in a softmax" in message
    assert "Fix: loss=keras.losses.SparseCategoricalCrossentropy() (from_logits=False)" in message


def test_from_logits_on_a_sigmoid_output_is_flagged():
    model = classifier(last="sigmoid", units=1,
                       loss=keras.losses.BinaryCrossentropy(from_logits=True))
    (message,) = check_messages(model, X, (Y > 0).astype("float32"))
    assert "ends in a sigmoid" in message and "BinaryCrossentropy()" in message


def test_logits_fed_to_a_probability_loss_are_flagged():
    (message,) = check_messages(classifier(last=None), X, Y)
    assert "expects probabilities, but the model's outputs range over" in message
    assert "Fix: loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), or add " \
           "activation='softmax'" in message


def test_integer_labels_with_categorical_crossentropy_are_flagged():
    (message,) = check_messages(classifier(loss="categorical_crossentropy"), X, Y)
    assert "categorical_crossentropy expects one-hot labels of shape" in message
    assert "Fix: loss='sparse_categorical_crossentropy', or y = keras.utils.to_categorical(y, 3)" in message


def test_one_hot_labels_with_a_sparse_loss_are_flagged():
    (message,) = check_messages(classifier(), X, keras.utils.to_categorical(Y, 3))
    assert "y looks one-hot (shape (16, 3))" in message
    assert "Fix: loss='categorical_crossentropy', or y = y.argmax(axis=-1)" in message


def test_accuracy_that_means_binary_accuracy_on_many_units_is_flagged():
    model = classifier(loss="binary_crossentropy", metrics=["accuracy"])
    (message,) = check_messages(model, X, keras.utils.to_categorical(Y, 3))
    assert "the metric 'accuracy' is binary accuracy on an output of 3 units" in message
    assert "metrics=['sparse_categorical_accuracy']" in message
    explicit = classifier(loss="categorical_crossentropy", metrics=["binary_accuracy"])
    (message,) = check_messages(explicit, X, keras.utils.to_categorical(Y, 3))
    assert "the metric 'binary_accuracy' is binary accuracy" in message


def test_a_learning_rate_whose_first_step_exceeds_the_weights_is_flagged():
    model = classifier(optimizer=keras.optimizers.SGD(learning_rate=100.0))
    messages = check_messages(model, X, Y)
    assert len(messages) == 1
    assert "the first update changed the weights of layer 'dense" in messages[0]
    assert "the learning rate 100 is too large" in messages[0]
    assert "Fix: compile(optimizer=SGD(learning_rate=" in messages[0]


def test_a_healthy_run_gets_no_warning_and_checks_false_silences_them():
    assert check_messages(classifier(metrics=["accuracy"]), X, Y) == []
    assert check_messages(classifier(), (X * 255).astype("uint8"), Y, checks=False) == []


def test_the_checks_do_not_change_the_training():
    results = []
    for checks in (True, False):
        keras.utils.set_random_seed(3)
        model = classifier()
        model.fit(X, Y, batch_size=16, epochs=2, verbose=0, checks=checks)
        results.append([w.numpy() for w in model.weights])
    assert all(np.array_equal(a, b) for a, b in zip(*results))


# -- diagnostics -------------------------------------------------------------------------------

def test_diagnostics_are_recorded_per_layer_and_step(tmp_path, capsys):
    model = classifier()
    history = model.fit(X, Y, batch_size=16, epochs=2, diagnostics=True, verbose=2)
    d = history.diagnostics
    first, second = (layer.name for layer in model.layers)
    assert set(d["grad_norm"]) == set(d["update_ratio"]) == {first, second}
    assert set(d["dead_relu"]) == {first}  # only the first layer has a relu
    assert all(len(v) == 8 for v in d["grad_norm"].values())  # 2 epochs x 4 steps
    assert len(d["logit_scale"]) == 8 and d["epoch_steps"] == [4, 8]
    assert all(0 <= f <= 1 for f in d["dead_relu"][first])
    assert all(r > 0 for r in d["update_ratio"][second])
    assert history.diagnosis.startswith("diagnostics:")
    assert history.diagnosis in capsys.readouterr().out
    path = history.plot(str(tmp_path / "diagnostics.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_diagnosis_names_dead_units_and_large_updates():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(32, activation="relu", bias_initializer=keras.initializers.Constant(-10.0)),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(1e-9), loss="sparse_categorical_crossentropy")
    history = model.fit(X, Y, batch_size=16, diagnostics=True, verbose=0, checks=False)
    assert "100% of the ReLU units of layer 'dense" in history.diagnosis
    assert "are tiny" in history.diagnosis and "raise the learning rate" in history.diagnosis


def test_diagnose_names_vanishing_and_exploding_gradients():
    d = {"grad_norm": {"dense": [1e-9] * 4, "dense_1": [5e4] * 4}, "update_ratio": {},
         "dead_relu": {}, "logit_scale": [1.0] * 4, "epoch_steps": [4]}
    text = diagnose(d)
    assert "vanishing gradients in layer 'dense' (gradient norm 1e-09)" in text
    assert "exploding gradients in layer 'dense_1' (gradient norm 5e+04)" in text
    d["update_ratio"] = {"dense": [0.5] * 4}
    assert "the updates of layer 'dense' are large, 0.5 of the weights" in diagnose(d)


def test_diagnostics_run_eagerly_and_restore_compilation():
    model = classifier()
    compiled = model._jit
    model.fit(X, Y, batch_size=16, verbose=0, diagnostics=True)
    assert model._jit is compiled and "_apply" not in vars(model.optimizer)
    assert cr.recording.recorders() == []


# -- reproducibility -----------------------------------------------------------------------------

def test_set_random_seed_gives_bit_identical_weights_and_is_recorded():
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(42)
        model = classifier(metrics=["accuracy"])
        history = model.fit(X, Y, batch_size=16, epochs=3, verbose=0, validation_split=0.25)
        runs.append(([w.numpy() for w in model.weights], history))
    (w1, h1), (w2, h2) = runs
    assert all(a.tobytes() == b.tobytes() for a, b in zip(w1, w2))
    assert h1.history == h2.history
    params = h1.params
    assert params["seed"] == 42
    assert params["versions"]["numpy"] == np.__version__ and "python" in params["versions"]
    assert params["versions"]["chainrule"] == cr.__version__
    assert isinstance(params["blas"], str) and params["blas"]
    assert params["cpu_count"] >= 1


# -- gradient checks of a model --------------------------------------------------------------------

def test_check_gradients_passes_for_a_model_and_puts_it_back():
    model = classifier()
    model.fit(X, Y, batch_size=16, verbose=0)
    before = [w.numpy() for w in model.weights]
    report = model.check_gradients(X[:8], Y[:8])
    assert report.relative_error < 1e-6
    assert all(w.dtype == np.float32 and np.array_equal(w.numpy(), b)
               for w, b in zip(model.weights, before))
    assert all(layer.dtype == np.float32 for layer in model.layers)


class BadSquare(layers.Layer):
    """x² with a derivative that is off by a factor of 3."""

    def call(self, inputs):
        @cr.custom_gradient
        def bad_square(x):
            return x * x, lambda dy: dy * 6.0 * x
        return bad_square(inputs)


def test_check_gradients_names_a_wrong_rule_inside_a_model():
    model = keras.Sequential([layers.Dense(4), BadSquare(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    with pytest.raises(GradientCheckError, match=r"'custom_gradient\(bad_square\)'") as caught:
        model.check_gradients(X[:8], Y[:8])
    assert caught.value.relative_error == pytest.approx(2 / 3, rel=1e-4)
