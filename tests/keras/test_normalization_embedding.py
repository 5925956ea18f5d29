"""BatchNormalization, Embedding and the depthwise and separable convolutions: values against
plain NumPy, Keras's weights, names and counts, training against inference, config round trips,
saving in both formats, derivatives against finite differences (float64), and compiled
training equal to eager bit for bit."""

import json
import os

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers
from chainrule.testing import check_grads

from ._helpers import mnist_subset
from .test_jit import BACKENDS, assert_same_run, run, traces

rng = np.random.default_rng(0)


def summary_rows(model):
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines[0].splitlines() if line.startswith("│")]
    return [[c.strip() for c in row.strip("│").split("│")] for row in rows], lines[0]


# -- BatchNormalization ------------------------------------------------------------------------

def test_batch_norm_training_uses_the_batch_and_moves_the_statistics():
    x = rng.normal(3.0, 2.0, size=(16, 5)).astype(np.float32)
    bn = layers.BatchNormalization(gamma_initializer="ones", beta_initializer="zeros")
    y = bn(x, training=True).numpy()
    mean, var = x.mean(0), x.var(0)  # the biased variance, as Keras
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99 + 0.01 * var, rtol=1e-5)
    # inference (the default for a call, predict and evaluate): the moving statistics
    moving_mean, moving_var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(bn(x).numpy(), (x - moving_mean) / np.sqrt(moving_var + 1e-3),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)  # not moved by inference


def test_batch_norm_axis_center_scale_and_weights():
    x = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    bn = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=0.1, center=False,
                                   gamma_initializer="constant")
    y = bn(x, training=True).numpy()
    mean, var = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 0.1) * 0.0, atol=1e-6)
    assert [w.name.split("/")[1] for w in bn.weights] == ["gamma", "moving_mean",
                                                          "moving_variance"]
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean.ravel(), rtol=1e-5)
    plain = layers.BatchNormalization(scale=False, center=False)
    plain(x)
    assert [w.name.split("/")[1] for w in plain.weights] == ["moving_mean", "moving_variance"]
    assert plain.trainable_weights == []


def test_batch_norm_in_summary_counts_the_moving_statistics_as_non_trainable():
    keras.utils.clear_session()
    model = keras.Sequential([keras.Input(shape=(8, 8, 3)), layers.Conv2D(16, 3, use_bias=False),
                              layers.BatchNormalization(), layers.Activation("relu"),
                              layers.GlobalAveragePooling2D(), layers.Dense(2)])
    rows, text = summary_rows(model)
    assert rows[1] == ["batch_normalization (BatchNormalization)", "(None, 6, 6, 16)", "64"]
    assert " Total params: 530 (2.07 KB)" in text
    assert " Trainable params: 498 (1.95 KB)" in text
    assert " Non-trainable params: 32 (128.00 B)" in text


def test_fit_trains_in_training_mode_and_predict_uses_the_moving_statistics():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), layers.BatchNormalization(),
                              layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(5.0, 3.0, size=(64, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    bn = model.layers[0]
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    # three steps on the one batch: moving = m * (1 - 0.99 ** 3), variance likewise
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0) * (1 - 0.99 ** 3), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               0.99 ** 3 + x.var(0) * (1 - 0.99 ** 3), rtol=1e-4)
    before = bn.moving_mean.numpy()
    expected = model(x, training=False).numpy()
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    model.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_a_frozen_batch_norm_runs_in_inference_mode():
    x = rng.normal(2.0, 1.0, size=(8, 3)).astype(np.float32)
    bn = layers.BatchNormalization()
    bn(x)
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    np.testing.assert_array_equal(bn(x, training=True).numpy(), bn(x, training=False).numpy())
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3, np.float32))


def test_batch_norm_gradient_matches_finite_differences():
    x = rng.normal(size=(6, 3))
    bn = layers.BatchNormalization(dtype="float64", beta_initializer="ones")
    bn(x)

    bn.gamma.assign([0.5, 1.5, 2.0])
    # through the batch's statistics (a non-symmetric target: a plain sum has gradient 0)
    check_grads(lambda x: bn(x, training=True) * np.arange(1.0, 4.0), x, order=2)

    def normalised(x, gamma, beta):
        mean, variance = tf.nn.moments(x, [0])
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3) ** 3

    check_grads(normalised, x, np.array([0.5, 1.5, 2.0]), np.array([0.1, -0.2, 0.3]))
    check_grads(lambda x: bn(x, training=False) ** 2, x)


def test_batch_norm_errors_name_the_layer():
    bn = layers.BatchNormalization(name="bn")
    bn(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"'bn' \(BatchNormalization\).*expected ndim=4"):
        bn(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"'bn' \(BatchNormalization\).*axis -1.*value 3"):
        bn(np.zeros((2, 4, 4, 5), np.float32))
    with pytest.raises(ValueError, match="synchronized"):
        layers.BatchNormalization(synchronized=True)


# -- Embedding --------------------------------------------------------------------------------

def test_embedding_looks_up_rows_for_indices_of_any_rank():
    keras.utils.set_random_seed(0)
    embed = layers.Embedding(10, 4)
    for shape in [(5,), (2, 3), (2, 3, 2)]:
        ids = rng.integers(0, 10, shape)
        out = embed(ids)
        assert out.shape == shape + (4,) and out.dtype == tf.float32
        np.testing.assert_array_equal(out.numpy(), embed.embeddings.numpy()[ids])
    table = embed.embeddings.numpy()
    assert table.min() >= -0.05 and table.max() <= 0.05 and np.std(table) > 0.01
    np.testing.assert_array_equal(embed(np.array([1.0, 3.0])).numpy(), table[[1, 3]])
    assert embed.compute_output_shape((None, 7)) == (None, 7, 4)
    assert [w.name.split("/")[1] for w in embed.weights] == ["embeddings"]


def test_embedding_gradient_adds_the_rows_back():
    embed = layers.Embedding(6, 3)
    ids = np.array([[0, 2, 2], [5, 0, 2]])
    with tf.GradientTape() as tape:
        out = embed(ids)
        loss = tf.reduce_sum(out * np.arange(18.0, dtype=np.float32).reshape(2, 3, 3))
    grad = tape.gradient(loss, embed.embeddings).numpy()
    expected = np.zeros((6, 3), np.float32)
    np.add.at(expected, ids.ravel(), np.arange(18.0).reshape(6, 3))
    np.testing.assert_array_equal(grad, expected)
    table = rng.normal(size=(6, 3))
    check_grads(lambda t: tf.nn.embedding_lookup(t, ids) ** 2, table, order=2)


def test_gather_with_tensor_indices_is_traced_as_data():
    params = np.arange(24.0).reshape(2, 3, 4)
    for axis in (0, 1, 2):
        ids = np.array([[2, 0], [1, 1]]) % params.shape[axis]
        np.testing.assert_array_equal(tf.gather(params, tf.constant(ids), axis=axis).numpy(),
                                      np.take(params, ids, axis=axis))
    step = tf.function(lambda i: tf.gather(tf.constant(params), i, axis=1))
    assert step(tf.constant([2])).numpy()[0, 0, 0] == 8.0
    assert step(tf.constant([0])).numpy()[0, 0, 0] == 0.0  # not the first call's indices
    check_grads(lambda p: tf.gather(p, tf.constant([[1, 1], [0, 2]]), axis=1) ** 2, params)


def test_embedding_refusals_are_clear():
    with pytest.raises(ValueError, match="mask_zero must be True or False; received "
                                         "mask_zero='yes'"):
        layers.Embedding(10, 2, mask_zero="yes")
    embed = layers.Embedding(10, 2, name="words")
    with pytest.raises(IndexError, match=r"'words' \(Embedding\).*index 10 is out of range.*"
                                         r"input_dim=10"):
        embed(np.array([[1, 10]]))
    with pytest.raises(IndexError, match="index -1"):
        embed(np.array([-1]))


def text_model():
    return keras.Sequential([keras.Input(shape=(12,), dtype="int32"),
                             layers.Embedding(50, 8), layers.Conv1D(4, 3, activation="relu"),
                             layers.GlobalAveragePooling1D(), layers.Dense(3, activation="softmax")])


def text_data():
    data = np.random.default_rng(3)
    x, y = data.integers(0, 50, (300, 12)), data.integers(0, 3, 300)
    return (x, y), (x[:100], y[:100])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_compiled_embedding_training_equals_eager_bit_for_bit(backend_name):
    from chainrule.primitives import kernels
    previous = kernels.use(backend_name)
    try:
        eager = run(False, text_model, text_data(), epochs=2, batch_size=64, optimizer="adam")
        compiled = run(True, text_model, text_data(), epochs=2, batch_size=64, optimizer="adam")
        assert_same_run(eager, compiled)
        assert traces(compiled["model"]) == 2  # the indices are data: one trace per shape
    finally:
        kernels.use(previous)


# -- depthwise and separable convolutions -----------------------------------------------------

def depthwise_reference(x, kernel):
    """Each channel with its own filters, by loops over the window (valid padding)."""
    kh, kw, channels, multiplier = kernel.shape
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, channels * multiplier))
    for c in range(channels):
        for m in range(multiplier):
            for i in range(kh):
                for j in range(kw):
                    out[..., c * multiplier + m] += (x[:, i:i + out.shape[1], j:j + out.shape[2], c]
                                                     * kernel[i, j, c, m])
    return out


def test_depthwise_and_separable_convolutions_against_loops():
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    depthwise = layers.DepthwiseConv2D((3, 2), depth_multiplier=2, bias_initializer="ones")
    y = depthwise(x).numpy()
    assert depthwise.kernel.shape == (3, 2, 3, 2) and depthwise.bias.shape == (6,)
    np.testing.assert_allclose(y, depthwise_reference(x, depthwise.kernel.numpy()) + 1,
                               rtol=1e-5, atol=1e-5)
    separable = layers.SeparableConv2D(5, 3, depth_multiplier=2, activation="relu")
    z = separable(x).numpy()
    inner = depthwise_reference(x, separable.depthwise_kernel.numpy())
    expected = np.maximum(inner @ separable.pointwise_kernel.numpy()[0, 0], 0)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)
    assert [w.name.split("/")[1] for w in separable.weights] == [
        "depthwise_kernel", "pointwise_kernel", "bias"]
    same = layers.DepthwiseConv2D(3, strides=2, padding="same")
    assert same(x).shape == (2, 4, 3, 3) == same.compute_output_shape((2, 7, 6, 3))
    one_d = layers.SeparableConv1D(4, 3, padding="same")
    assert one_d(x[:, 0]).shape == (2, 6, 4) and one_d.pointwise_kernel.shape == (1, 3, 4)
    assert layers.DepthwiseConv1D(2)(x[:, 0]).shape == (2, 5, 3)


def test_channels_first_depthwise_matches_channels_last():
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    last = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2)
    first = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2,
                                   data_format="channels_first")
    last(x)
    first(x.transpose(0, 3, 1, 2))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(x.transpose(0, 3, 1, 2)).numpy(),
                               last(x).numpy().transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-6)


def test_depthwise_and_separable_gradients_match_finite_differences():
    x = rng.normal(size=(1, 5, 4, 2))
    depthwise = rng.normal(size=(3, 2, 2, 2))
    pointwise = rng.normal(size=(1, 1, 4, 3))
    check_grads(lambda x, k: tf.nn.depthwise_conv2d(x, k, [1, 2, 1, 1], "SAME"), x, depthwise)
    check_grads(lambda x, d, p: tf.nn.separable_conv2d(x, d, p, 1, "VALID"), x, depthwise,
                pointwise, order=2)


@pytest.mark.parametrize("layer, shape, message", [
    (layers.DepthwiseConv2D(3, name="d"), (28, 28, 1),
     r"'d' \(DepthwiseConv2D\).*expected ndim=4.*found ndim=3"),
    (layers.SeparableConv2D(4, 3, name="s"), (4, 28, 28),
     r"'s' \(SeparableConv2D\).*add a channels axis"),
    (layers.SeparableConv2D(4, 5, name="s"), (4, 3, 3, 2),
     r"'s' \(SeparableConv2D\).*window \(5, 5\) is larger than the input's spatial shape"),
    (layers.DepthwiseConv2D(3, name="d"), (4, 1, 32, 32),
     r"'d' \(DepthwiseConv2D\).*looks channels-first.*data_format='channels_first'"),
    (layers.DepthwiseConv1D(3, name="d"), (4, 28, 28, 1),
     r"'d' \(DepthwiseConv1D\).*expected ndim=3"),
])
def test_bad_input_names_the_layer_and_the_fix(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, np.float32))


def test_channels_first_data_after_building_names_the_fix():
    conv = layers.SeparableConv2D(8, 3, name="s")
    conv(np.zeros((2, 28, 28, 3), np.float32))
    with pytest.raises(ValueError, match=r"'s' \(SeparableConv2D\).*looks channels-first"):
        conv(np.zeros((2, 3, 28, 28), np.float32))


def test_separable_summary_as_keras_prints_it():
    keras.utils.clear_session()
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)),
                              layers.SeparableConv2D(64, 3, padding="same", use_bias=False),
                              layers.DepthwiseConv2D(3, depth_multiplier=2),
                              layers.BatchNormalization()])
    rows, text = summary_rows(model)
    assert rows == [["separable_conv2d (SeparableConv2D)", "(None, 32, 32, 64)", "219"],
                    ["depthwise_conv2d (DepthwiseConv2D)", "(None, 30, 30, 128)", "1,280"],
                    ["batch_normalization (BatchNormalization)", "(None, 30, 30, 128)", "512"]]
    assert " Non-trainable params: 256 (1.00 KB)" in text


def bn_convnet():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(4, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.SeparableConv2D(6, 3, strides=2, padding="same", depth_multiplier=2),
        layers.DepthwiseConv2D(3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dropout(0.3), layers.BatchNormalization(),
        layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_compiled_batch_norm_convnet_training_equals_eager_bit_for_bit(backend_name):
    from chainrule.primitives import kernels
    previous = kernels.use(backend_name)
    try:
        (x, y), (x_test, y_test) = mnist_subset(300, 100)
        data = ((x.reshape(-1, 28, 28, 1), y), (x_test.reshape(-1, 28, 28, 1), y_test))
        eager = run(False, bn_convnet, data, epochs=2, batch_size=64)
        compiled = run(True, bn_convnet, data, epochs=2, batch_size=64)
        assert_same_run(eager, compiled)  # the moving statistics are among the weights
        moving = compiled["model"].layers[1].moving_mean.numpy()
        assert np.abs(moving).max() > 0  # updated inside the compiled step
        assert traces(compiled["model"]) == 2
    finally:
        kernels.use(previous)


NEW = [layers.BatchNormalization(momentum=0.9, epsilon=0.01, center=False,
                                 gamma_regularizer="l2"),
       layers.Embedding(20, 3, embeddings_initializer="ones"),
       layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
       layers.DepthwiseConv1D(2, strides=2, use_bias=False),
       layers.SeparableConv2D(5, (3, 2), dilation_rate=2, pointwise_regularizer="l1"),
       layers.SeparableConv1D(3, 3, depth_multiplier=3)]


@pytest.mark.parametrize("layer", NEW, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == config
    shape = (2, 8, 4) if getattr(layer, "rank", 2) == 1 else (2, 8, 8, 4)
    x = np.ones(shape, np.float32)
    if isinstance(layer, layers.Embedding):
        x = np.arange(10).reshape(2, 5)
    y = layer(x, training=True)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))


def saved_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,), dtype="int32")
    x = layers.Embedding(30, 4)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Reshape((6, 4, 1))(x)
    x = layers.SeparableConv2D(3, 2)(x)
    x = layers.DepthwiseConv2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = np.random.default_rng(1).integers(0, 30, (32, 6))
    model.fit(ids, np.arange(32) % 2, epochs=1, verbose=0)
    return model, ids


def test_the_new_layers_save_and_load(tmp_path):
    model, ids = saved_model()
    model.save(tmp_path / "m.chainrule")
    loaded = keras.models.load_model(tmp_path / "m.chainrule")
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_new_layers_in_keras_weights_h5_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    model, ids = saved_model()
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        bn = f["layers/batch_normalization/vars"]
        assert [bn[str(i)].shape for i in range(4)] == [(4,)] * 4
        np.testing.assert_array_equal(bn["2"][()], model.layers[2].moving_mean.numpy())
        assert f["layers/embedding/vars/0"].shape == (30, 4)
        assert [f[f"layers/separable_conv2d/vars/{i}"].shape for i in range(3)] == [
            (2, 2, 1, 1), (1, 1, 1, 3), (3,)]
        assert f["layers/depthwise_conv2d/vars/0"].shape == (2, 2, 3, 1)
    clone, _ = saved_model()
    for w in clone.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    clone.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(clone.predict(ids, verbose=0), model.predict(ids, verbose=0))


def test_embedding_and_inference_batch_norm_export_to_onnx(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(7,), dtype="int32")
    x = layers.BatchNormalization()(layers.Embedding(20, 4)(inputs))
    x = layers.RandomFlip()(layers.Reshape((2, 2, 1))(layers.GlobalAveragePooling1D()(x)))
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.Flatten()(x)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = np.random.default_rng(0).integers(0, 20, (16, 7))
    model.fit(ids, np.arange(16) % 3, verbose=0)  # moves the moving statistics off 0 and 1
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (feed,) = session.get_inputs()
    (out,) = session.run(None, {feed.name: ids[:5].astype(np.int32)})
    np.testing.assert_allclose(out, model.predict(ids[:5], verbose=0), rtol=1e-5, atol=1e-6)
    ops = [node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    # the lookup is one Gather; the flip, identity at inference, leaves no Where behind
    assert ops[0] == "Gather" and ops.count("Gather") == 1 and "Where" not in ops


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def keras_convnet():
    """The model of fixtures/make_keras_convnet.py, in chainrule."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,), dtype="int32")
    x = layers.BatchNormalization()(layers.Embedding(30, 4)(inputs))
    x = layers.RandomFlip()(layers.Reshape((6, 4, 1))(x))
    x = layers.SeparableConv2D(3, 2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(layers.DepthwiseConv2D(2, depth_multiplier=2)(x))
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(x))


def test_a_keras_written_convnet_loads_and_predicts_what_keras_printed():
    pytest.importorskip("h5py")
    with open(os.path.join(FIXTURES, "convnet_predictions.json")) as f:
        printed = json.load(f)
    model = keras.models.load_model(os.path.join(FIXTURES, "convnet.keras"))
    assert [type(layer).__name__ for layer in model.layers[1:6]] == [
        "Embedding", "BatchNormalization", "Reshape", "RandomFlip", "SeparableConv2D"]
    bn = model.get_layer("batch_normalization")
    assert np.abs(bn.moving_mean.numpy()).max() > 0  # moved by Keras: read from the file
    rows, text = summary_rows(model)  # as Keras 3.15 printed this model's summary
    assert [row[2] for row in rows] == ["0", "120", "16", "0", "0", "10", "30", "0", "14"]
    assert rows[5][1:] == ["(None, 5, 3, 3)", "10"] and rows[6][1] == "(None, 4, 2, 6)"
    assert " Total params: 190 (760.00 B)" in text and " Trainable params: 182 (728.00 B)" in text
    assert " Non-trainable params: 8 (32.00 B)" in text
    # (Keras recorded the flip's training=True in its node: predict still runs inference)
    np.testing.assert_allclose(model.predict(np.array(printed["ids"]), verbose=0),
                               printed["predictions"], rtol=1e-5, atol=1e-6)
    # and the same architecture built in chainrule reads the file's weights
    again = keras_convnet()
    import h5py
    import io
    import zipfile
    with zipfile.ZipFile(os.path.join(FIXTURES, "convnet.keras")) as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
        from chainrule.keras import weights_h5
        weights_h5.load_from(again, f, "convnet.keras", skip=("optimizer",))
    for a, b in zip(again.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_files_for_the_keras_convnet_check(tmp_path):
    """Writes what ``make_keras_convnet.py --check FILE`` loads into Keras 3 (the folder from
    CHAINRULE_KERAS_CHECK_DIR; a temporary one otherwise)."""
    pytest.importorskip("h5py")
    folder = os.environ.get("CHAINRULE_KERAS_CHECK_DIR") or str(tmp_path)
    model = keras_convnet()
    bn = model.get_layer("batch_normalization")
    ids = np.random.default_rng(1).integers(0, 30, (8, 6))
    for _ in range(3):
        model(ids, training=True)
    bn.gamma.assign(np.linspace(0.5, 1.5, 4, dtype=np.float32))
    model.save_weights(os.path.join(folder, "convnet.weights.h5"))
    with open(os.path.join(folder, "convnet.json"), "w") as f:
        json.dump(model.predict(ids, verbose=0).tolist(), f)
    assert os.path.getsize(os.path.join(folder, "convnet.weights.h5")) > 0
