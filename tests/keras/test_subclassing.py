"""Subclassed layers and models as the Keras guides write them: Variables and layers held
in attributes (also in lists and dicts) are weights; subclassed and functional models
nest inside each other; add_loss; train_step overrides that use compute_loss and the
compiled metrics; and each trains compiled exactly as eagerly."""

import warnings

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers


class Linear(layers.Layer):
    """The guide's layer with weights made as plain Variables in __init__."""

    def __init__(self, units=4, input_dim=3):
        super().__init__()
        self.w = tf.Variable(tf.random.normal((input_dim, units)), name="w")
        self.b = tf.Variable(tf.zeros((units,)), trainable=False, name="b")

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b


def test_variables_in_attributes_are_weights():
    layer = Linear()
    assert [w.name for w in layer.weights] == ["w", "b"]
    assert [w.name for w in layer.trainable_weights] == ["w"]
    assert [w.name for w in layer.non_trainable_weights] == ["b"]
    assert layer.count_params() == 16
    assert layer(np.ones((2, 3), "float32")).shape == (2, 4)


class Blocks(keras.Model):
    """Layers and Variables in lists and dicts."""

    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(4, activation="relu"), layers.Dense(4, activation="relu")]
        self.heads = {"out": layers.Dense(1)}
        self.scales = [tf.Variable(1.0, name="scale")]

    def call(self, inputs):
        x = inputs
        for block in self.blocks:
            x = block(x)
        return self.heads["out"](x) * self.scales[0]


def test_layers_and_variables_in_lists_and_dicts_are_tracked():
    model = Blocks()
    model(np.ones((2, 5), "float32"))
    assert len(model.layers) == 3
    assert [w.shape for w in model.weights] == [(), (5, 4), (4,), (4, 4), (4,), (4, 1), (1,)]
    assert len(model.trainable_weights) == 7


def regression_data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 5), dtype=np.float32)
    return x, (x @ np.arange(1, 6, dtype=np.float32)[:, None]) * 0.1


def fit_run(make, jit, epochs=2, data=None, **compile_args):
    x, y = data or regression_data()
    keras.utils.set_random_seed(0)
    model = make()
    model.compile(**{"optimizer": "adam", "loss": "mse", "metrics": ["mae"], **compile_args},
                  jit_compile=jit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0).history
    return model, history, [w.numpy() for w in model.weights], caught


def assert_equal_runs(a, b):
    assert a[1] == b[1]
    assert len(a[2]) == len(b[2])
    for wa, wb in zip(a[2], b[2]):
        np.testing.assert_array_equal(wa, wb)


def test_subclassed_model_compiled_equals_eager():
    eager, jit = fit_run(Blocks, False), fit_run(Blocks, True)
    assert not jit[0]._jit.eager and jit[0]._jit._functions["_measured_gradient_step"].tracing_count == 1
    assert_equal_runs(eager, jit)
    assert eager[1]["loss"][-1] < eager[1]["loss"][0]


def encoder():
    inputs = keras.Input(shape=(5,))
    return keras.Model(inputs, layers.Dense(4, activation="relu")(inputs), name="encoder")


class WithFunctionalInside(keras.Model):
    def __init__(self):
        super().__init__()
        self.encoder = encoder()
        self.head = layers.Dense(1)

    def call(self, inputs):
        return self.head(self.encoder(inputs))


def functional_with_subclassed_inside():
    inputs = keras.Input(shape=(5,))
    features = Blocks()(inputs)  # a subclassed model called on a symbolic tensor
    return keras.Model(inputs, layers.Dense(1)(layers.Concatenate()([features, inputs])))


@pytest.mark.parametrize("make", [WithFunctionalInside, functional_with_subclassed_inside])
def test_subclassed_and_functional_models_mix(make):
    model = make()
    model(np.ones((1, 5), "float32"))
    assert len(model.weights) == (4 if make is WithFunctionalInside else 9)
    assert_equal_runs(fit_run(make, False), fit_run(make, True))


class CustomModel(keras.Model):
    """The "customizing what happens in fit" guide's model (Keras 3 spelling)."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class LegacyCustomModel(keras.Model):
    """The same guide in its TF-Keras 2 spelling: compiled_loss and compiled_metrics."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.compiled_metrics.update_state(y, y_pred)
        self._loss_tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


def built_from_inputs(cls):
    def make():
        inputs = keras.Input(shape=(5,))
        return cls(inputs, layers.Dense(1)(layers.Dense(8, activation="relu")(inputs)))
    return make


@pytest.mark.parametrize("cls", [CustomModel, LegacyCustomModel])
def test_train_step_overrides_match_the_built_in_step(cls):
    model = built_from_inputs(cls)()
    assert isinstance(model, cls) and isinstance(model, keras.models.Functional)
    builtin = fit_run(built_from_inputs(keras.Model), False)
    eager = fit_run(built_from_inputs(cls), False)
    jit = fit_run(built_from_inputs(cls), True)
    assert sorted(eager[1]) == ["loss", "mae"]
    assert set(eager[0].compiled_metrics.result()) == {"mae"}
    # 128 samples in batches of 32: the unweighted batch means equal the built-in ones
    assert_equal_runs(builtin, eager)
    # Metric state lives in Variables, so the override compiles whole: no eager fallback.
    assert_equal_runs(eager, jit)
    assert not any("runs eagerly" in str(w.message) for w in jit[3])


class ActivityRegularization(layers.Layer):
    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * tf.reduce_sum(tf.square(inputs)))
        return inputs


def regularized():
    inputs = keras.Input(shape=(5,))
    hidden = ActivityRegularization()(layers.Dense(4, activation="relu")(inputs))
    return keras.Model(inputs, layers.Dense(1)(hidden))


def test_add_loss_joins_the_compiled_loss():
    model = regularized()
    x, y = regression_data(16)
    out = model(x)
    assert len(model.losses) == 1
    model(x)
    assert len(model.losses) == 1  # kept for one call, not accumulated
    hidden = model.layers[1](x).numpy()  # the Dense before the regularizer
    regularization = 1e-2 * np.sum(np.square(hidden))
    model.compile(loss="mse", jit_compile=False)
    mse = np.mean(np.square(out.numpy() - y))
    assert model.evaluate(x, y, batch_size=16, verbose=0) == pytest.approx(
        mse + regularization, rel=1e-5)
    assert_equal_runs(fit_run(regularized, False), fit_run(regularized, True))


def test_add_loss_alone_trains_without_a_compiled_loss():
    model = regularized()
    model.compile(optimizer="sgd", jit_compile=False)
    x, y = regression_data(32)
    # only the layers before the regularizer shape its loss; the head gets no gradient
    with pytest.warns(UserWarning, match="Gradients do not exist.*dense"):
        history = model.fit(x, y, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    plain = keras.Sequential([layers.Dense(1)])
    plain.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="compiled without a loss"):
        plain.fit(x, y, verbose=0)


class _Flexible(keras.layers.Layer):
    """A layer that makes its weights in build, from the input's last size."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")

    def call(self, x):
        return x @ self.w

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable()
class _TwoStep(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = _Flexible(3)
        self.second = _Flexible(2)

    def call(self, x):
        return self.second(self.first(x))


@pytest.mark.parametrize("name", ["m.chainrule", "m.keras"])
def test_a_subclassed_model_is_built_from_its_saved_shape_on_load(tmp_path, name):
    if name.endswith(".keras"):
        pytest.importorskip("h5py")
    model = _TwoStep()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    expected = model(x).numpy()
    assert model.get_build_config() == {"input_shape": (None, 5)}
    model.save(tmp_path / name)
    again = keras.models.load_model(tmp_path / name)
    assert again.built and len(again.weights) == 2
    assert [w.shape for w in again.weights] == [(5, 3), (3, 2)]
    np.testing.assert_allclose(again(x).numpy(), expected, rtol=1e-6)


def test_build_from_config_builds_an_unbuilt_layer_and_refuses_a_non_shape():
    layer = _Flexible(4)
    assert layer.get_build_config() is None
    layer.build_from_config({"input_shape": [None, 6]})
    assert layer.built and layer.w.shape == (6, 4)
    with pytest.raises(ValueError, match="not a shape"):
        _Flexible(2).build_from_config({"input_shape": [None, "six"]})
