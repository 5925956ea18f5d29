"""Sequential and Model: structure, summary, compile/fit/evaluate/predict contracts,
overriding train_step, and the softmax shortcut."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers, losses, metrics, optimizers
from chainrule.keras.diagnostics import TrainingCheckWarning

from ._helpers import blobs


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.utils.clear_session()


def book_model():
    return keras.Sequential([layers.Dense(512, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def classifier(classes=3, hidden=16):
    model = keras.Sequential([layers.Dense(hidden, activation="relu"),
                              layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


BOOK_SUMMARY = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 512)            │       401,920 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         5,130 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 407,050 (1.55 MB)
 Trainable params: 407,050 (1.55 MB)
 Non-trainable params: 0 (0.00 B)"""


def test_summary_of_the_book_model():
    model = book_model()
    lines = []
    model.summary(print_fn=lines.append)
    assert "0 (unbuilt)" in lines[0] and "?" in lines[0]
    model.build((None, 784))
    text = []
    model.summary(print_fn=text.append)
    assert text[0] == BOOK_SUMMARY
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 784), np.float32), np.zeros(4, np.uint8), verbose=0)
    after = []
    model.summary(print_fn=after.append)
    assert after[0].endswith(" Optimizer params: 407,052 (1.55 MB)")


def test_input_and_input_shape_build_immediately():
    m = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10)])
    assert m.built and m.count_params() == 7850 and len(m.layers) == 1
    m2 = keras.Sequential([layers.Dense(4, input_shape=(3,))])
    assert m2.built and m2.layers[0].kernel.shape == (3, 4)


def test_sequential_structure():
    model = keras.Sequential()
    a, b = layers.Dense(4), layers.Dense(2)
    model.add(a)
    model.add(b)
    assert model.layers == [a, b]
    model(np.ones((1, 3), np.float32))
    assert [w.name for w in model.weights] == ["dense/kernel", "dense/bias", "dense_1/kernel",
                                               "dense_1/bias"]
    assert model.trainable_weights == model.weights
    assert model.pop() is b and model.layers == [a]
    with pytest.raises(TypeError, match="Sequential.add takes a Layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="unique names"):
        model.add(layers.Dense(3, name="dense"))


def test_fit_returns_history_with_sorted_keys():
    x, y = blobs(200)
    model = classifier()
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0, validation_split=0.25)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    params = {k: history.params[k] for k in ("verbose", "epochs", "steps")}
    assert params == {"verbose": 0, "epochs": 3, "steps": 5}  # 150 samples / 32
    assert model.history is history
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_validation_data_and_evaluate_agree():
    x, y = blobs(200)
    model = classifier()
    history = model.fit(x, y, epochs=2, batch_size=50, verbose=0, validation_data=(x[:60], y[:60]))
    loss, acc = model.evaluate(x[:60], y[:60], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc)
    as_dict = model.evaluate(x[:60], y[:60], verbose=0, return_dict=True)
    assert as_dict == {"accuracy": pytest.approx(acc), "loss": pytest.approx(loss)}


def test_evaluate_without_metrics_returns_a_scalar():
    x, y = blobs(50)
    model = keras.Sequential([layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    assert model.metrics_names == ["loss"]


def test_evaluate_loss_matches_the_loss_function():
    x, y = blobs(100)
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)
    probs = model.predict(x, verbose=0)
    expected = float(np.mean(losses.sparse_categorical_crossentropy(y, cr.constant(probs)).numpy()))
    loss, acc = model.evaluate(x, y, batch_size=100, verbose=0)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx(float((probs.argmax(1) == y).mean()))


def test_predict_batches_and_returns_float32_numpy():
    x, _ = blobs(70)
    model = classifier()
    out = model.predict(x, batch_size=32, verbose=0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (70, 3)
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-6)


def test_on_batch_methods():
    x, y = blobs(64)
    model = classifier()
    loss, acc = model.train_on_batch(x, y)
    assert isinstance(loss, float) and 0 <= acc <= 1
    assert set(model.test_on_batch(x, y, return_dict=True)) == {"accuracy", "loss"}


def test_the_same_seed_gives_the_same_training():
    x, y = blobs(120)

    def run():
        keras.utils.set_random_seed(3)
        keras.utils.clear_session()
        return classifier().fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert run() == run()


def test_shuffle_false_visits_batches_in_order():
    seen = []

    class Spy(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            seen.append(data[0].numpy()[:, 0].copy())
            return super().train_step(data)

    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    model = Spy()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x, batch_size=4, shuffle=False, verbose=0)
    assert [s.tolist() for s in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_subclassed_model_with_custom_train_step():
    x, y = blobs(128)

    class CustomModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(16, activation="relu")
            self.out = layers.Dense(3, activation="softmax")
            self.steps = 0

        def call(self, inputs):
            return self.out(self.hidden(inputs))

        def train_step(self, data):
            x, y = data
            with cr.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            self.steps += 1
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: cr.constant(m.result()) for m in self.metrics}  # tensors are fine

    model = CustomModel()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[metrics.SparseCategoricalAccuracy()])
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    assert model.steps == 16
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(model.weights) == 4 and model.layers == [model.hidden, model.out]


@pytest.mark.parametrize("loss,last,y_kind,metric", [
    ("binary_crossentropy", "sigmoid", "binary", "accuracy"),
    (losses.BinaryCrossentropy(from_logits=True), None, "binary", metrics.BinaryAccuracy()),
    ("categorical_crossentropy", "softmax", "onehot", "accuracy"),
    ("mse", None, "regression", "mae"),
    (losses.MeanAbsoluteError(), None, "regression", metrics.MeanSquaredError()),
])
def test_each_loss_trains(loss, last, y_kind, metric):
    x, labels = blobs(240, classes=2 if y_kind == "binary" else 3)
    if y_kind == "binary":
        y, units = labels.reshape(-1, 1).astype(np.float32), 1
    elif y_kind == "onehot":
        y, units = keras.utils.to_categorical(labels, 3), 3
    else:
        y, units = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32), 1
    model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(units, activation=last)])
    model.compile(optimizer=optimizers.Adam(0.01), loss=loss, metrics=[metric])
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]


def test_softmax_output_carries_its_logits_to_the_loss_only():
    """A softmax layer's output remembers its logits; the cross-entropy uses them (one exact
    op), and training matches the clipped-probabilities formula wherever it is unclipped."""
    x, y = blobs(96, classes=4)

    class Untagged(layers.Layer):  # a softmax the loss cannot see through
        def call(self, inputs):
            return cr.nn.softmax(inputs)

    def train(last):
        keras.utils.set_random_seed(11)
        keras.utils.clear_session()
        model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(4), last])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model, model.fit(x, y, epochs=3, batch_size=32, verbose=0).history

    fused_model, fused = train(layers.Activation("softmax"))
    plain_model, plain = train(Untagged())
    out = fused_model(cr.constant(x[:5]))
    assert keras.activations.logits_of(out) is not None
    assert keras.activations.logits_of(plain_model(cr.constant(x[:5]))) is None
    np.testing.assert_allclose(fused["loss"], plain["loss"], rtol=1e-5)
    assert fused["accuracy"] == plain["accuracy"]
    for a, b in zip(fused_model.weights, plain_model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_models_have_no_softmax_code_of_their_own():
    for cls in (keras.Model, keras.Sequential, layers.Dense, layers.Activation):
        assert not any("logits" in name or "softmax" in name for name in vars(cls))


def test_float64_data_is_cast_once():
    x, y = blobs(64)
    model = classifier()
    with pytest.warns(TrainingCheckWarning, match=r"x is float64, but chainrule computes in "
                      r"float32: fit made a float32 copy of all of x"):
        model.fit(x.astype(np.float64), y, verbose=0)
    assert all(w.dtype == np.float32 for w in model.weights)
    assert model.predict(x.astype(np.float64), verbose=0).dtype == np.float32


def test_get_set_weights_and_config():
    model = classifier()
    model.build((None, 4))
    values = model.get_weights()
    model.set_weights([np.zeros_like(v) for v in values])
    assert all(not w.numpy().any() for w in model.weights)
    clone = keras.Sequential.from_config(model.get_config())
    assert clone.built and [l.get_config()["units"] for l in clone.layers] == [16, 3]


def test_functional_model_with_a_non_symbolic_output_is_refused_clearly():
    with pytest.raises(TypeError, match="every entry must be a symbolic tensor"):
        keras.Model(inputs=keras.Input(shape=(3,)), outputs=None)
