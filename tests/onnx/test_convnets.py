"""Convnets exported to ONNX: the chapter-8 network and the other window, reshaping and
padding layers pass onnx.checker and run in onnxruntime with the outputs of ``predict``
(to 1e-5) at batch sizes other than the one traced."""

import numpy as np
import pytest

from chainrule import keras
from chainrule.examples.mnist_convnet import build_model
from chainrule.keras import layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def exported(model, path):
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path))


def assert_serves_like_predict(model, path, example_shape, batches=(1, 5, 33), seed=0):
    session = exported(model, path)
    (feed,) = session.get_inputs()
    assert feed.shape == ["batch", *example_shape]  # the batch stays dynamic
    rng = np.random.default_rng(seed)
    for batch in batches:
        x = rng.normal(size=(batch, *example_shape)).astype("float32")
        (got,) = session.run(None, {feed.name: x})
        np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def test_the_chapter_8_convnet(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(28, 28)
    rng = np.random.default_rng(1)
    images, labels = rng.random((64, 28, 28, 1), np.float32), rng.integers(0, 10, 64)
    model.fit(images, labels, epochs=1, batch_size=32, verbose=0)  # weights off their start
    ops = assert_serves_like_predict(model, tmp_path / "convnet.onnx", [28, 28, 1])
    assert ops.count("Conv") == 3 and ops.count("MaxPool") == 2 and "Softmax" in ops


def test_conv1d_strides_dilation_same_padding_and_1d_pooling(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((17, 3)),
        layers.Conv1D(4, 3, strides=2, padding="same", activation="tanh"),
        layers.Conv1D(6, 3, dilation_rate=2, padding="same", groups=2),
        layers.AveragePooling1D(2, padding="same"),
        layers.MaxPooling1D(2, strides=1),
        layers.ZeroPadding1D((1, 2)),
        layers.UpSampling1D(3),
        layers.GlobalMaxPooling1D(),
    ])
    ops = assert_serves_like_predict(model, tmp_path / "conv1d.onnx", [17, 3])
    assert {"Conv", "AveragePool", "MaxPool", "Pad", "ReduceMax"} <= set(ops)


def test_transposed_convolutions_padding_upsampling_and_rescaling(tmp_path):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((7, 6, 2))
    x = layers.Rescaling(1 / 255.0, offset=-0.5)(inputs)
    x = layers.ZeroPadding2D(((1, 0), (2, 1)))(x)
    x = layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(4, (2, 3), strides=(1, 2), padding="valid",
                               dilation_rate=1)(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = layers.UpSampling2D((2, 1))(x)
    y = layers.Conv1DTranspose(2, 3, strides=3)(layers.Reshape((-1, 4))(x))
    model = keras.Model(inputs, [layers.GlobalAveragePooling2D()(x), layers.Flatten()(y)])
    session = exported(model, tmp_path / "transposed.onnx")
    x = np.random.default_rng(3).uniform(0, 255, (5, 7, 6, 2)).astype("float32")
    for got, want in zip(session.run(None, {session.get_inputs()[0].name: x}),
                         model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv3d_and_3d_pooling(tmp_path):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([
        keras.Input((5, 6, 4, 2)),
        layers.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="relu"),
        layers.MaxPooling3D((2, 2, 2), padding="same"),
        layers.AveragePooling3D((1, 2, 1)),
        layers.GlobalAveragePooling3D(),
        layers.Dense(2),
    ])
    assert_serves_like_predict(model, tmp_path / "conv3d.onnx", [5, 6, 4, 2])


def test_channels_first_layers(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((2, 9, 8)),
        layers.Conv2D(4, 3, dilation_rate=(2, 1), data_format="channels_first"),
        layers.MaxPooling2D(2, data_format="channels_first"),
        layers.ZeroPadding2D(1, data_format="channels_first"),
        layers.UpSampling2D(2, data_format="channels_first"),
        layers.GlobalMaxPooling2D(data_format="channels_first"),
    ])
    assert_serves_like_predict(model, tmp_path / "first.onnx", [2, 9, 8])


def test_dropout_is_left_out_at_inference(tmp_path):
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Dropout(0.5),
                              layers.Flatten(), layers.Dense(3, activation="softmax")])
    ops = assert_serves_like_predict(model, tmp_path / "dropout.onnx", [6, 6, 1])
    assert not any(op.startswith("Random") for op in ops)
