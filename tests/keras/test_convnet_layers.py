"""Convolution, pooling, reshaping and rescaling layers: values against the ops and plain
NumPy, Keras's shapes, names and parameter counts in summary(), config round trips, saving,
errors that name the layer and the fix, and compiled training equal to eager bit for bit."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers

from ._helpers import mnist_subset
from .test_jit import BACKENDS, assert_same_run, run, traces

rng = np.random.default_rng(0)


def chapter8_model():
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def test_summary_of_the_chapter8_convnet_as_keras_prints_it():
    keras.utils.clear_session()
    lines = []
    chapter8_model().summary(print_fn=lines.append)
    rows = [line for line in lines[0].splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert cells == [
        ["input_layer (InputLayer)", "(None, 28, 28, 1)", "0"],
        ["conv2d (Conv2D)", "(None, 26, 26, 32)", "320"],
        ["max_pooling2d (MaxPooling2D)", "(None, 13, 13, 32)", "0"],
        ["conv2d_1 (Conv2D)", "(None, 11, 11, 64)", "18,496"],
        ["max_pooling2d_1 (MaxPooling2D)", "(None, 5, 5, 64)", "0"],
        ["conv2d_2 (Conv2D)", "(None, 3, 3, 128)", "73,856"],
        ["flatten (Flatten)", "(None, 1152)", "0"],
        ["dense (Dense)", "(None, 10)", "11,530"]]
    assert " Total params: 104,202 (407.04 KB)" in lines[0]


def test_conv_layers_compute_conv_plus_bias_then_activation():
    x = rng.normal(size=(2, 9, 8, 3)).astype(np.float32)
    conv = layers.Conv2D(5, (3, 2), strides=2, padding="same", dilation_rate=1,
                         activation="relu", bias_initializer="ones")
    y = conv(x)
    expected = np.maximum(tf.nn.conv2d(x, conv.kernel, 2, "SAME").numpy() + 1.0, 0)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert conv.kernel.shape == (3, 2, 3, 5) and y.shape == conv.compute_output_shape((2, 9, 8, 3))
    grouped = layers.Conv1D(4, 3, groups=2, use_bias=False)
    assert grouped(x[:, 0, :, :2]).shape == (2, 6, 4) and grouped.kernel.shape == (3, 1, 4)
    # causal: output t sees steps up to t only
    causal = layers.Conv1D(1, 3, padding="causal", kernel_initializer="ones", use_bias=False)
    steps = np.arange(5, dtype=np.float32).reshape(1, 5, 1)
    assert causal(steps).numpy().ravel().tolist() == [0, 1, 3, 6, 9]


def test_channels_first_layers_match_channels_last_on_transposed_data():
    x = rng.normal(size=(2, 7, 7, 3)).astype(np.float32)
    last = layers.Conv2D(4, 3, padding="same")
    first = layers.Conv2D(4, 3, padding="same", data_format="channels_first")
    last(x)
    first(x.transpose(0, 3, 1, 2))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(x.transpose(0, 3, 1, 2)).numpy(),
                               last(x).numpy().transpose(0, 3, 1, 2), rtol=1e-6)
    pool = layers.MaxPooling2D(data_format="channels_first")
    np.testing.assert_array_equal(pool(x.transpose(0, 3, 1, 2)).numpy(),
                                  layers.MaxPooling2D()(x).numpy().transpose(0, 3, 1, 2))


@pytest.mark.parametrize("padding, output_padding, size", [
    ("valid", None, 11), ("same", None, 10), ("valid", 1, 12), ("same", 1, 10)])
def test_conv2d_transpose_output_sizes_as_keras(padding, output_padding, size):
    layer = layers.Conv2DTranspose(4, 3, strides=2, padding=padding, output_padding=output_padding)
    y = layer(np.ones((1, 5, 5, 2), np.float32))
    assert y.shape == (1, size, size, 4) == layer.compute_output_shape((1, 5, 5, 2))
    assert layer.kernel.shape == (3, 3, 4, 2)


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    x = rng.normal(size=(1, 8, 8, 2)).astype(np.float32)
    up = layers.Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False)
    y = up(x)
    z = rng.normal(size=y.shape).astype(np.float32)
    down = tf.nn.conv2d(z, up.kernel, 2, "SAME").numpy()
    np.testing.assert_allclose(np.vdot(y.numpy(), z), np.vdot(x, down), rtol=1e-4)


def test_pooling_layers():
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    assert layers.MaxPooling2D()(x).shape == (2, 3, 3, 3)
    assert layers.MaxPooling2D(3, strides=2, padding="same")(x).shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(layers.MaxPooling2D((7, 6))(x).numpy()[:, 0, 0],
                                  x.max(axis=(1, 2)))
    np.testing.assert_allclose(layers.AveragePooling2D((7, 6))(x).numpy()[:, 0, 0],
                               x.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)),
                               rtol=1e-5)
    np.testing.assert_array_equal(layers.GlobalMaxPooling2D()(x).numpy(), x.max(axis=(1, 2)))
    assert layers.GlobalMaxPooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    seq = x[:, 0]
    assert layers.MaxPooling1D(2)(seq).shape == (2, 3, 3)
    np.testing.assert_allclose(layers.GlobalAveragePooling1D()(seq).numpy(), seq.mean(axis=1),
                               rtol=1e-5)
    np.testing.assert_array_equal(layers.GlobalMaxPooling1D()(seq).numpy(), seq.max(axis=1))


def test_reshaping_layers_and_rescaling():
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    assert layers.Reshape((4, -1))(x).shape == (2, 4, 6)
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(x).numpy(),
                                  x.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(layers.UpSampling1D(2)(x[:, 0]).numpy(),
                                  x[:, 0].repeat(2, axis=1))
    np.testing.assert_array_equal(layers.ZeroPadding2D(((1, 2), (0, 1)))(x).numpy(),
                                  np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
    assert layers.ZeroPadding1D(2)(x[:, 0]).shape == (2, 8, 2)
    pixels = np.array([[0, 51, 255]], np.uint8)
    np.testing.assert_allclose(layers.Rescaling(1 / 255, offset=-0.5)(pixels).numpy(),
                               [[-0.5, -0.3, 0.5]], rtol=1e-6)
    with pytest.raises(ValueError, match="cannot be reshaped"):
        layers.Reshape((5, 5))(x)


def test_upsampling_gradient_sums_each_block():
    x = tf.Variable(np.ones((1, 2, 2, 1), np.float32))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layers.UpSampling2D(2)(x) * np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1))
    assert tape.gradient(y, x).numpy().ravel().tolist() == [10.0, 18.0, 42.0, 50.0]


ALL = [layers.Conv1D(4, 3, padding="causal", dilation_rate=2),
       layers.Conv2D(6, (3, 2), strides=(2, 1), padding="same", groups=2, activation="relu",
                     kernel_regularizer="l2"),
       layers.Conv3D(2, 2, data_format="channels_first"),
       layers.Conv1DTranspose(3, 2, strides=2),
       layers.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, use_bias=False),
       layers.MaxPooling1D(3, strides=1, padding="same"), layers.MaxPooling2D((2, 3)),
       layers.AveragePooling2D(2, padding="same"), layers.AveragePooling1D(),
       layers.GlobalAveragePooling1D(), layers.GlobalAveragePooling2D(keepdims=True),
       layers.GlobalMaxPooling1D(), layers.GlobalMaxPooling2D(data_format="channels_first"),
       layers.Reshape((-1, 2)), layers.UpSampling2D((1, 2)), layers.UpSampling1D(3),
       layers.ZeroPadding2D((1, 2)), layers.ZeroPadding1D((1, 0)),
       layers.Rescaling(0.5, offset=1.0)]


@pytest.mark.parametrize("layer", ALL, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == config
    rank = getattr(layer, "rank", None) or 2
    shape = (2,) + (8,) * rank + (4,) if not isinstance(layer, layers.Conv3D) else (1, 4, 5, 5, 5)
    if isinstance(layer, layers.Reshape):
        shape = (2, 3, 4)
    y = layer(np.ones(shape, np.float32))
    clone(np.ones(shape, np.float32))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(np.ones(shape, np.float32)).numpy(), y.numpy())
    assert tuple(y.shape) == tuple(layer.compute_output_shape(shape))


def test_a_convnet_saves_and_loads(tmp_path):
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)), layers.Rescaling(2.0), layers.ZeroPadding2D(1),
        layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2DTranspose(2, 2, strides=2), layers.UpSampling2D(), layers.AveragePooling2D(),
        layers.GlobalMaxPooling2D(), layers.Reshape((2, 1)), layers.Flatten(),
        layers.Dense(3, activation="softmax")])
    x = rng.normal(size=(4, 8, 8, 1)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(x, np.array([0, 1, 2, 1], np.uint8), verbose=0)
    model.save(tmp_path / "convnet.chainrule")
    loaded = keras.models.load_model(tmp_path / "convnet.chainrule")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("layer, shape, message", [
    (layers.Conv2D(8, 3, name="c"), (28, 28, 1),
     r"'c' \(Conv2D\).*expected ndim=4.*found ndim=3"),
    (layers.Conv2D(8, 3, name="c"), (4, 28, 28),
     r"'c' \(Conv2D\).*ndim=4.*add a channels axis: x\[\.\.\., None\]"),
    (layers.Conv2D(8, 5, name="c"), (4, 3, 3, 2),
     r"'c' \(Conv2D\).*window \(5, 5\) is larger than the input's spatial shape \(3, 3\).*"
     r"padding='same'"),
    (layers.MaxPooling2D(3, name="p"), (4, 2, 2, 8), r"'p' \(MaxPooling2D\).*padding='same'"),
    (layers.Conv2D(8, 3, name="c"), (4, 1, 28, 28),
     r"'c' \(Conv2D\).*looks channels-first.*tf\.transpose\(x, \(0, 2, 3, 1\)\).*"
     r"data_format='channels_first'"),
])
def test_bad_input_names_the_layer_and_the_fix(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, np.float32))


def test_channels_first_data_after_building_names_the_fix():
    conv = layers.Conv2D(8, 3, name="c")
    conv(np.zeros((2, 28, 28, 3), np.float32))
    with pytest.raises(ValueError, match="looks channels-first"):
        conv(np.zeros((2, 3, 28, 28), np.float32))


def small_convnet():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(8, 3, activation="relu", padding="same"), layers.AveragePooling2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_compiled_convnet_training_equals_eager_bit_for_bit(backend_name):
    from chainrule.primitives import kernels
    previous = kernels.use(backend_name)
    try:
        (x, y), (x_test, y_test) = mnist_subset(300, 100)
        data = ((x.reshape(-1, 28, 28, 1), y), (x_test.reshape(-1, 28, 28, 1), y_test))
        eager = run(False, small_convnet, data, epochs=2, batch_size=64)
        compiled = run(True, small_convnet, data, epochs=2, batch_size=64)
        assert_same_run(eager, compiled)
        # 300 examples in batches of 64: two batch shapes, each traced once and compiled
        assert traces(compiled["model"]) == 2
    finally:
        kernels.use(previous)


def test_compiler_fuses_the_bias_and_activation_after_a_convolution():
    from chainrule.compiler.execute import compile as compile_graph
    from chainrule.compiler.program import Loop
    from chainrule.primitives import kernels
    if kernels.numba_module() is None:
        pytest.skip("fusion needs numba")
    conv = layers.Conv2D(4, 3, activation="relu")
    f = tf.function(lambda x: conv(x))
    x = tf.constant(rng.normal(size=(2, 6, 6, 1)).astype(np.float32))
    eager = conv(x).numpy()
    compiled = compile_graph(f.get_graph(x))
    loops = [op.prim for op in compiled.program.ops if isinstance(op.prim, Loop)]
    assert [[m.prim.name for m in loop.members] for loop in loops] == [["add", "relu"]]
    np.testing.assert_array_equal(compiled(x.numpy())[0], eager)
