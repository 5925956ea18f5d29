"""Metrics whose state is Variables: updated by every call of a traced function, as the
Keras guide's compiled custom training loop needs."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers, metrics


def data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    return x, y


def custom_loop(wrap):
    """The guide's loop: a train step and a test step that update metrics, over Datasets."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)])
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc = keras.metrics.SparseCategoricalAccuracy()
    val_acc = keras.metrics.SparseCategoricalAccuracy()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc.update_state(y, logits)
        return loss_value

    def test_step(x, y):
        val_acc.update_state(y, model(x, training=False))

    train_step, test_step = wrap(train_step), wrap(test_step)
    x, y = data()
    xv, yv = data(64, seed=1)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(200, seed=3).batch(32)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
    history = []
    for epoch in range(3):
        losses = [float(train_step(xb, yb)) for xb, yb in train]
        for xb, yb in val:
            test_step(xb, yb)
        history.append((float(train_acc.result()), float(val_acc.result()), np.mean(losses)))
        train_acc.reset_state()
        val_acc.reset_state()
    return history, model


@pytest.mark.parametrize("wrap", [tf.function, lambda f: tf.function(f, jit_compile=True)],
                         ids=["function", "jit_compile"])
def test_a_compiled_custom_loop_reports_the_eager_accuracy(wrap):
    eager, eager_model = custom_loop(lambda f: f)
    traced, traced_model = custom_loop(wrap)
    assert all(0.3 < acc <= 1.0 for acc, _, _ in traced)  # not the 0.0 of a frozen metric
    np.testing.assert_allclose(np.array(traced), np.array(eager), rtol=1e-6)
    # and the metric agrees with the predictions themselves
    xv, yv = data(64, seed=1)
    expected = np.mean(np.argmax(traced_model.predict(xv, verbose=0), -1) == yv)
    assert traced[-1][1] == pytest.approx(expected)


def test_metric_state_is_variables_and_traced_updates_are_replayed():
    m = metrics.Mean()
    assert [v.name for v in m.variables] == ["mean/total", "mean/count"]
    update = tf.function(lambda v: m.update_state(v))
    for value in ([1.0, 2.0], [3.0, 6.0], [0.0, 0.0]):
        update(tf.constant(value))
    assert update.tracing_count == 1
    assert float(m.result()) == pytest.approx(2.0) and float(m.count) == 6.0
    m.reset_state()
    assert float(m.result()) == 0.0


def test_custom_metric_with_add_weight_in_a_traced_step():
    class CategoricalTruePositives(keras.metrics.Metric):  # the Keras guide's metric
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_weight(name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = tf.reshape(tf.argmax(y_pred, axis=1), shape=(-1, 1))
            values = tf.cast(y_true, "int32") == tf.cast(y_pred, "int32")
            values = tf.cast(values, "float32")
            if sample_weight is not None:
                values = tf.multiply(values, tf.cast(sample_weight, "float32"))
            self.true_positives.assign_add(tf.reduce_sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    m = CategoricalTruePositives()
    step = tf.function(m.update_state)
    y_pred = np.eye(3, dtype="float32")
    step(tf.constant([[0], [1], [0]]), tf.constant(y_pred))
    step(tf.constant([[0], [1], [2]]), tf.constant(y_pred))
    assert float(m.result()) == 5.0 and step.tracing_count == 1


def test_sample_weights_and_sum():
    m = metrics.Mean()
    m.update_state([1.0, 3.0], sample_weight=[1.0, 3.0])
    assert float(m.result()) == pytest.approx(2.5)
    traced = metrics.Mean()
    tf.function(lambda v, w: traced.update_state(v, w))(tf.constant([1.0, 3.0]), tf.constant([1.0, 3.0]))
    assert float(traced.result()) == pytest.approx(2.5)
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    s.update_state(tf.constant(4.0))
    assert float(s.result()) == 7.0


def test_compiled_fit_metrics_still_match_eager():
    x, y = data()
    logs = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit)
        logs.append(model.fit(x, y, epochs=2, batch_size=32, verbose=0).history)
    assert logs[0] == logs[1]


def test_a_train_step_override_that_updates_metrics_compiles_whole():
    # Keras's "customizing fit" guide: the override updates self.metrics and returns
    # their results. Under jit_compile=True it is traced whole (no eager fallback), and
    # the logs equal the eager run's.
    x, y = data()

    class Custom(keras.Sequential):
        def train_step(self, batch):
            xb, yb = batch
            with tf.GradientTape() as tape:
                y_pred = self(xb, training=True)
                loss = self.compute_loss(y=yb, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(yb, y_pred)
            return {m.name: m.result() for m in self.metrics}

    histories = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = Custom([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit)
        histories.append(model.fit(x, y, epochs=3, batch_size=32, verbose=0).history)
        if jit:
            assert model._jit.eager == {}  # nothing fell back to eager
    assert histories[0] == histories[1]
    assert histories[1]["accuracy"][-1] > 0
