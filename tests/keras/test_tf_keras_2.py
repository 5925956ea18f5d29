"""TF-Keras 2 spellings that TensorFlow's Keras guides use: losses from ``add_loss`` alone,
``add_metric``, layers called on several tensors, ``input_dim``, ``keras.backend``."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers


class ActivityRegularization(layers.Layer):
    """No weights of its own: its only effect is the loss it adds."""

    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * tf.reduce_sum(inputs))
        return inputs


def test_fit_with_add_loss_only_and_no_trainable_weights():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, ActivityRegularization()(inputs))
    x = np.ones((2, 3), "float32")
    model.compile(optimizer="adam")  # no loss: add_loss is all there is
    history = model.fit(x, x, verbose=0)
    assert history.history["loss"] == [pytest.approx(0.06)]
    model.compile(optimizer="adam", loss="mse")  # both: they add up
    assert model.fit(x, x, verbose=0).history["loss"] == [pytest.approx(0.06)]


def test_fit_with_add_loss_only_trains_and_needs_no_targets():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, ActivityRegularization(1.0)(layers.Dense(2)(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    losses = model.fit(x, epochs=3, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0]  # minimising the sum pushes the outputs down
    assert np.isfinite(model.evaluate(x, verbose=0))


def test_a_compiled_loss_without_targets_says_so_before_training():
    model = keras.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="has no targets"):
        model.fit(np.ones((4, 2), "float32"), verbose=0)


def test_add_metric_logs_the_epoch_mean_of_each_batch_value():
    class Report(layers.Layer):
        def call(self, inputs):
            self.add_metric(tf.reduce_mean(inputs), name="mean_input", aggregation="mean")
            return inputs

    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, layers.Dense(1)(Report()(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1.0], [3.0], [5.0], [7.0], [10.0], [20.0]], "float32")
    history = model.fit(x, np.zeros((6, 1), "float32"), batch_size=2, shuffle=False,
                        epochs=2, verbose=0)
    # batch means 2, 6, 15; their mean, every epoch (reset at each epoch's start; the
    # functional model's shape probe at construction does not count)
    assert history.history["mean_input"] == [pytest.approx(23 / 3)] * 2
    logs = model.evaluate(x[:2], np.zeros((2, 1)), return_dict=True, verbose=0)
    assert logs["mean_input"] == pytest.approx(2.0)
    assert [m.name for m in model.metrics][-1] == "mean_input"


def test_add_metric_needs_a_name_and_a_known_aggregation():
    layer = layers.Layer()
    with pytest.raises(ValueError, match="needs a name"):
        layer.add_metric(tf.constant(1.0))
    with pytest.raises(ValueError, match="aggregation must be None or 'mean'"):
        layer.add_metric(tf.constant(1.0), name="m", aggregation="sum")


class LogisticEndpoint(layers.Layer):
    """Targets and logits in, a loss and an accuracy added, probabilities out."""

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.accuracy_fn = keras.metrics.BinaryAccuracy()

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        self.add_metric(self.accuracy_fn(targets, logits, sample_weights), name="accuracy")
        return tf.nn.sigmoid(logits)


def test_a_layer_called_on_two_tensors_eagerly_reports_its_metric_object():
    layer = LogisticEndpoint()
    out = layer(tf.ones((2, 2)), tf.ones((2, 2)))
    assert out.shape == (2, 2)
    assert [m.name for m in layer.metrics] == ["binary_accuracy"]
    assert float(layer.metrics[0].result()) == 1.0
    assert len(layer.losses) == 1


@pytest.mark.parametrize("by_keyword", [False, True])
def test_functional_layer_with_tensor_arguments_by_position_or_keyword(by_keyword):
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    dense = layers.Dense(10)
    logits = dense(inputs)
    endpoint = LogisticEndpoint(name="predictions")
    if by_keyword:
        predictions = endpoint(logits=logits, targets=targets)
    else:
        predictions = endpoint(targets, logits)
    node = predictions._keras_history.layer._inbound_nodes[0]
    assert node.args is targets and node.kwargs["logits"] is logits
    assert {id(t) for t in node.input_tensors} == {id(targets), id(logits)}
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    assert float(endpoint.accuracy_fn.count) == 0  # the shape probe is not counted
    model.compile(optimizer="adam")  # no loss: the endpoint adds it
    rng = np.random.default_rng(1)
    data = {"inputs": rng.random((8, 3)), "targets": (rng.random((8, 10)) > 0.5) * 1.0}
    history = model.fit(data, epochs=2, batch_size=8, verbose=0)
    assert sorted(history.history) == ["binary_accuracy", "loss"]
    assert 0.0 <= history.history["binary_accuracy"][-1] <= 1.0
    # the logits reach the endpoint from the Dense layer: its kernel trains
    kernel = dense.kernel.numpy().copy()
    model.fit(data, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(kernel, dense.kernel.numpy())
    # and the call is saved with its tensors by name
    clone = keras.Model.from_config(model.get_config(),
                                    custom_objects={"LogisticEndpoint": LogisticEndpoint})
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-6)


def test_extra_positional_tensors_beyond_call_parameters_are_refused():
    class One(layers.Layer):
        def call(self, inputs):
            return inputs

    a = keras.Input(shape=(2,))
    with pytest.raises(TypeError, match="pass the extra ones by keyword"):
        One()(a, a)


def test_a_layer_without_positional_inputs_takes_calls_first_parameter():
    layer = LogisticEndpoint()
    out = layer(targets=np.ones((2, 2), "float32"), logits=np.zeros((2, 2), "float32"))
    np.testing.assert_allclose(out.numpy(), 0.5)
    with pytest.raises(TypeError, match="called without inputs"):
        layer(logits=np.zeros((2, 2)))


def test_from_config_when_get_config_leaves_out_the_name():
    class CustomDense(layers.Layer):
        def __init__(self, units=3):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units))

        def call(self, inputs):
            return tf.matmul(inputs, self.w)

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    model = keras.Model(inputs, CustomDense(2)(CustomDense(3)(inputs)))
    clone = keras.Model.from_config(model.get_config(),
                                    custom_objects={"CustomDense": CustomDense})
    assert [w.shape for w in clone.weights] == [(4, 3), (3, 2)]


def test_input_dim_and_get_layer_and_dtype_numbers():
    model = keras.Sequential([layers.Dense(2, input_dim=5, name="first"), layers.Dense(1)])
    assert model.built and model.layers[0].kernel.shape == (5, 2)
    assert model.get_layer("first") is model.layers[0]
    assert model.get_layer(index=1) is model.layers[1]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    assert tf.zeros(1, 1).dtype == tf.float32  # TensorFlow's DataType number 1
    assert tf.zeros(2, 3).dtype == tf.int32
    with pytest.raises(TypeError, match="DataType numbers"):
        tf.zeros(1, 99)


def test_tensorflow_initializer_names():
    w = tf.Variable(tf.random_normal_initializer(stddev=0.5)(shape=(300, 4), dtype="float32"))
    assert w.shape == (300, 4) and 0.4 < float(np.std(w.numpy())) < 0.6
    assert np.all(tf.zeros_initializer()(shape=(3,), dtype="float32").numpy() == 0)
    assert np.all(tf.ones_initializer()((2,)).numpy() == 1)
    assert np.all(tf.constant_initializer(7.0)((2,)).numpy() == 7)


def test_keras_backend_functions():
    K = keras.backend
    x = tf.constant([[1.0, 3.0]])
    assert float(K.std(x)) == 1.0 and float(K.mean(x)) == 2.0
    assert K.int_shape(x) == (1, 2) and K.floatx() == "float32" and K.epsilon() == 1e-7
    assert K.random_normal((3, 2)).shape == (3, 2)
    opt = keras.optimizers.SGD(0.1)
    assert K.get_value(opt.learning_rate) == pytest.approx(0.1)
    K.set_value(opt.learning_rate, 0.5)
    assert float(opt.learning_rate.numpy()) == 0.5
    with pytest.raises(TypeError, match="expected a Variable"):
        K.set_value(1.0, 2.0)
    assert K.is_keras_tensor(keras.Input((2,))) and not K.is_keras_tensor(x)


def test_a_dataset_of_inputs_alone_reaches_a_custom_train_step():
    seen = []

    class Own(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            seen.append(tuple(data.shape))
            return {"n": tf.constant(float(data.shape[0]))}

    model = Own()
    model.compile(optimizer="sgd")
    ds = tf.data.Dataset.from_tensor_slices(np.ones((10, 3), "float32")).batch(4)
    history = model.fit(ds, epochs=1, verbose=0)
    assert seen == [(4, 3), (4, 3), (2, 3)]
    assert history.history["n"] == [2.0]


def test_no_trainable_weights_means_apply_gradients_does_nothing():
    opt = keras.optimizers.Adam()
    opt.apply_gradients([])
    assert int(opt.iterations.numpy()) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jacobians_through_layers_to_their_input(dtype):
    # the guides' example: a layer's input watched, its Jacobians per example
    x = tf.random.normal([7, 5], dtype=dtype)
    layer1 = layers.Dense(8, activation=tf.nn.elu)
    model = keras.Sequential([layers.Dense(6, activation="tanh")])
    with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = model(layer1(x))
    j = tape.jacobian(y, x)
    jb = tape.batch_jacobian(y, x)
    assert j.shape == (7, 6, 7, 5) and jb.shape == (7, 6, 5)
    np.testing.assert_allclose(jb.numpy(), np.einsum("bxby->bxy", j.numpy()), atol=1e-6)
    np.testing.assert_allclose(np.einsum("bxcy->bxy", j.numpy()), jb.numpy(), atol=1e-6)
    assert np.abs(jb.numpy()).sum() > 0


def test_one_hot_takes_labels_stored_as_whole_floats():
    labels = np.array([0.0, 2.0, 1.0], "float32")  # as the guides' y.astype("float32")
    np.testing.assert_array_equal(tf.one_hot(labels, depth=3).numpy(), np.eye(3)[[0, 2, 1]])
    with pytest.raises(TypeError, match="whole values"):
        tf.one_hot(np.array([0.5]), depth=3)


def test_image_arrays_to_images_and_back(tmp_path):
    pytest.importorskip("PIL")
    x = np.zeros((4, 5, 1), "float32")
    x[1, 2] = 0.5
    img = keras.preprocessing.image.array_to_img(x)  # scaled: 0.5 is the maximum
    assert img.size == (5, 4) and img.mode == "L"
    back = keras.utils.img_to_array(img)
    assert back.shape == (4, 5, 1) and back[1, 2, 0] == 255 and back.sum() == 255
    rgb = np.full((2, 3, 3), 100.0)
    keras.utils.save_img(tmp_path / "a.png", rgb, scale=False)
    loaded = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png"))
    assert loaded.shape == (2, 3, 3) and np.all(loaded == 100)
    with pytest.raises(ValueError, match="rank 3"):
        keras.utils.array_to_img(np.zeros((2, 2)))


def test_symbolic_axes_left_open_stay_open_through_layers():
    ts = keras.Input(shape=(None, 10))
    x = layers.Conv1D(3, 3)(ts)  # a length of 1 would be too short for the kernel
    assert x.shape == (None, None, 3)
    pooled = layers.GlobalMaxPooling1D()(x)
    assert pooled.shape == (None, 3)
    model = keras.Model(ts, layers.Dense(2)(pooled))
    for length in (5, 12):
        assert model.predict(np.zeros((2, length, 10), "float32"), verbose=0).shape == (2, 2)
    fixed = keras.Input(shape=(8, 10))
    assert layers.Conv1D(3, 3)(fixed).shape == (None, 6, 3)


def test_lambda_layer():
    model = keras.Sequential([
        layers.Lambda(lambda x: tf.stack([x, x**2], axis=1)),
        layers.Dense(units=1, kernel_initializer=tf.random.normal)])
    x = np.linspace(-1, 1, 8).astype("float32")
    assert model(x).shape == (8, 1)
    scale = layers.Lambda(lambda x, factor: x * factor, arguments={"factor": 3.0})
    assert scale(np.ones((2, 2), "float32")).numpy().sum() == 12.0
    flagged = layers.Lambda(lambda x, training=None: x + (1.0 if training else 0.0))
    assert float(flagged(tf.zeros((1, 1)), training=True)[0, 0]) == 1.0
    inputs = keras.Input((4,))
    out = layers.Lambda(lambda x: x[:, tf.newaxis])(inputs)
    assert out.shape == (None, 1, 4)
    config = layers.serialize(scale)
    with pytest.raises(ValueError, match="holds Python code"):
        layers.deserialize(config)


def test_metrics_keep_tf_keras_2s_reset_states():
    metric = keras.metrics.Mean()
    metric.update_state([1.0, 3.0])
    metric.reset_states()
    assert float(metric.count) == 0


def test_register_keras_serializable_and_submodules(tmp_path):
    @keras.saving.register_keras_serializable()
    class Doubler(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    inputs = keras.Input((2,))
    inner = keras.Sequential([layers.Dense(3)])
    model = keras.Model(inputs, inner(Doubler()(inputs)))
    assert [type(m).__name__ for m in model.submodules].count("Dense") == 1
    assert len(model.submodules) == 4  # the input layer, Doubler, the Sequential, its Dense
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # no custom_objects needed
    x = np.ones((1, 2), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(TypeError, match="registers classes"):
        keras.saving.register_keras_serializable()(lambda x: x)


def test_optimizer_lr_is_learning_rate():
    opt = keras.optimizers.SGD(0.1)
    assert opt.lr is opt.learning_rate
    keras.backend.set_value(opt.lr, 0.25)
    assert float(opt.learning_rate.numpy()) == 0.25
    opt.lr = 0.5
    assert float(opt.learning_rate.numpy()) == 0.5
