"""``.keras`` files that chainrule writes are Keras 3's: Keras itself loads them (run in a
subprocess on its numpy backend, by fixtures/check_keras_loads.py) and predicts what
chainrule does, with the same weights and optimizer state; chainrule loads them back bit
for bit and trains on exactly as the original would."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule import keras
from chainrule.examples.mnist_convnet import build_model
from chainrule.keras import layers, optimizers

pytest.importorskip("h5py")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
rng = np.random.default_rng(0)


def sequential_dense():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                              layers.Dropout(0.3), layers.Dense(8, activation="tanh"),
                              layers.Activation("gelu"), layers.Dense(5, activation="elu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.RMSprop(momentum=0.5, centered=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(32, 6)).astype("float32")
    return model, [x], x, rng.integers(0, 3, 32)


def functional_two_in_two_out():
    title, body = keras.Input((5,), name="title"), keras.Input((4,), name="body")
    body_net = keras.Sequential([layers.Dense(6, activation="sigmoid")], name="body_net")
    features = layers.Concatenate()([title, body_net(body)])  # a model inside the model
    features = layers.Dropout(0.2)(layers.Dense(8, activation="relu")(features))
    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(3, activation="softmax", name="department")(
        layers.Add()([features, layers.Dense(8)(title)]))
    model = keras.Model([title, body], [priority, department])
    model.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"])
    x = [rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 4)).astype("float32")]
    y = [rng.integers(0, 2, (16, 1)).astype("float32"),
         np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]]
    return model, x, x, y


def convnet_layers():
    model = keras.Sequential([
        keras.Input((10, 10, 2)), layers.Rescaling(1 / 255.0, offset=-0.5),
        layers.Conv2D(4, 3, activation="relu", padding="same", strides=2),
        layers.ZeroPadding2D(((1, 0), (0, 1))), layers.MaxPooling2D(2),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same"), layers.UpSampling2D(2),
        layers.AveragePooling2D(2, padding="same"), layers.Conv2D(4, 2, dilation_rate=2),
        layers.Reshape((-1, 4)), layers.Conv1D(3, 3, padding="same"),
        layers.GlobalAveragePooling1D(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    x = rng.uniform(0, 255, (16, 10, 10, 2)).astype("float32")
    return model, [x], x, rng.integers(0, 2, 16)


def chapter_8_convnet():
    model = build_model(28, 28)
    x = rng.random((16, 28, 28, 1), np.float32)
    return model, [x], x, rng.integers(0, 10, 16)


def conv1d_and_3d_pooling():
    model = keras.Sequential([keras.Input((12, 3)), layers.Conv1D(4, 3, dilation_rate=2),
                              layers.MaxPooling1D(2), layers.ZeroPadding1D(1),
                              layers.UpSampling1D(2), layers.GlobalMaxPooling1D(),
                              layers.Dense(1)])
    schedule = optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    model.compile(optimizer=optimizers.Adam(schedule, amsgrad=True), loss="mse")
    x = rng.normal(size=(16, 12, 3)).astype("float32")
    return model, [x], x, rng.normal(size=(16, 1)).astype("float32")


def adagrad():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softplus"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adagrad", loss="binary_crossentropy")
    x = rng.normal(size=(16, 4)).astype("float32")
    return model, [x], x, rng.integers(0, 2, (16, 1)).astype("float32")


def every_other_layer():
    """The layers the cases above leave out, a regularizer, other initializers, a loss
    object and metric objects."""
    volume, image, steps = (keras.Input((4, 4, 4, 1), name="volume"),
                            keras.Input((2, 6, 6), name="image"), keras.Input((5, 3), name="steps"))
    v = layers.Conv3D(2, 2, padding="same", kernel_initializer="he_normal")(volume)
    v = layers.Concatenate()([layers.GlobalMaxPooling3D()(layers.MaxPooling3D(2)(v)),
                              layers.GlobalAveragePooling3D()(layers.AveragePooling3D(1)(v))])
    i = layers.Conv2D(3, 3, data_format="channels_first", kernel_regularizer="l2")(image)
    i = layers.Average()([layers.GlobalMaxPooling2D(data_format="channels_first")(i),
                          layers.GlobalAveragePooling2D(data_format="channels_first")(i)])
    t = layers.Conv1DTranspose(2, 2, strides=2)(steps)
    t = layers.Flatten()(layers.PReLU()(layers.AveragePooling1D(2)(t)))
    t = layers.Dense(4, bias_initializer=keras.initializers.Constant(0.1))(t)
    a = layers.Dense(4)(v)
    b = layers.Dense(4, kernel_regularizer=keras.regularizers.L1L2(0.01, 0.01))(i)
    mixed = [layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.1)(a),
             layers.LeakyReLU(0.2)(b), layers.ELU(0.5)(t)]
    merged = layers.Concatenate()([layers.Subtract()(mixed[:2]), layers.Multiply()(mixed[1:]),
                                   layers.Maximum()(mixed), layers.Minimum()(mixed)])
    logits = layers.Dense(3)(merged)
    model = keras.Model([volume, image, steps], [logits, layers.Softmax()(logits)])
    model.compile(optimizer=optimizers.SGD(0.01), metrics=[["accuracy"], []],
                  loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), None])
    x = [rng.normal(size=shape).astype("float32")
         for shape in ((8, 4, 4, 4, 1), (8, 2, 6, 6), (8, 5, 3))]
    return model, x, x, [rng.integers(0, 3, 8), np.zeros((8, 3), "float32")]


def masked_text():
    """Embedding(mask_zero=True): the mask reaches the pooling, which averages the kept
    steps only, on padded sequences."""
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              layers.Embedding(20, 6, mask_zero=True),
                              layers.Dense(4, activation="relu"),
                              layers.GlobalAveragePooling1D(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.integers(1, 20, (16, 7))
    x[np.arange(7)[None, :] >= rng.integers(1, 8, (16, 1))] = 0  # padded after 1 to 7 words
    return model, [x], x, rng.integers(0, 3, 16)


def masking_layer():
    """Masking: the all-zero steps are left out of the mean."""
    model = keras.Sequential([keras.Input((6, 3)), layers.Masking(0.0),
                              layers.Dense(4, activation="tanh"), layers.GlobalAveragePooling1D(),
                              layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    x = rng.normal(size=(16, 6, 3)).astype("float32")
    x[rng.random((16, 6)) < 0.4] = 0.0
    x[:, 0] = 1.0  # (at least one step kept)
    return model, [x], x, rng.normal(size=(16, 1)).astype("float32")


def attention_and_normalization():
    """Keras 3's transformer and normalization layers, and the small ones that reshape,
    crop, repeat or add noise."""
    tokens, other = keras.Input((6, 8), name="tokens"), keras.Input((4, 8), name="other")
    norm = layers.Normalization()
    norm.adapt(rng.normal(2.0, 3.0, (20, 6, 8)).astype("float32"))
    x = layers.GaussianNoise(0.1)(norm(tokens))
    x = layers.LayerNormalization()(layers.Add()([
        x, layers.MultiHeadAttention(2, 3, dropout=0.1)(x, x, use_causal_mask=True)]))
    cross = layers.MultiHeadAttention(2, 4, value_dim=2, use_bias=False, output_shape=5)(
        x, other)
    x = layers.GroupNormalization(groups=4, epsilon=0.01)(layers.SpatialDropout1D(0.2)(x))
    x = layers.EinsumDense("abc,cd->abd", output_shape=(6, 5), bias_axes="d",
                           activation="relu")(x)
    x = layers.RMSNormalization()(layers.Add()([x, cross]))
    x = layers.LayerNormalization(axis=[1, 2], center=False)(x)
    x = layers.Attention(use_scale=True)([x, layers.Cropping1D((1, 0))(x)])
    a = layers.AdditiveAttention()([x, x])
    x = layers.Dot(axes=2, normalize=True)([layers.UnitNormalization()(x), a])
    x = layers.Permute((2, 1))(x)
    x = layers.Flatten()(layers.ZeroPadding1D(1)(x))
    out = layers.Dense(3)(layers.Identity()(layers.GaussianDropout(0.1)(x)))
    model = keras.Model([tokens, other], out)
    model.compile(optimizer="adam", loss="mse")
    x = [rng.normal(size=(8, 6, 8)).astype("float32"), rng.normal(size=(8, 4, 8)).astype("float32")]
    return model, x, x, rng.normal(size=(8, 3)).astype("float32")


def uncompiled():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2, activation="softsign")])
    x = rng.normal(size=(4, 4)).astype("float32")
    return model, [x], None, None


CASES = {"sequential_dense": sequential_dense, "functional": functional_two_in_two_out,
         "convnet_layers": convnet_layers, "chapter_8_convnet": chapter_8_convnet,
         "conv1d_adam_schedule": conv1d_and_3d_pooling, "adagrad": adagrad,
         "every_other_layer": every_other_layer, "masked_text": masked_text,
         "masking_layer": masking_layer,
         "attention_and_normalization": attention_and_normalization,
         "uncompiled": uncompiled}


def written(folder):
    """Trains and saves every case into ``folder``; returns ``{name: (model, inputs,
    fit_x, fit_y)}`` and writes cases.json and each case's arrays for the Keras check."""
    models, manifest = {}, {}
    for name, make in CASES.items():
        keras.utils.set_random_seed(len(name))
        model, inputs, fit_x, fit_y = make()
        if fit_x is not None:
            model.fit(fit_x, fit_y, epochs=2, batch_size=8, verbose=0)
        model.save(folder / f"{name}.keras")
        outputs = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        arrays = {f"input_{i}": x for i, x in enumerate(inputs)}
        arrays.update({f"output_{i}": y for i, y in enumerate(outputs)})
        # each weight by its layer's name and its place in the layer (Keras keeps the
        # layers of a functional model in another order than chainrule)
        weights = {f"{layer.name}_{j}": w for layer in model.layers
                   for j, w in enumerate(layer.trainable_weights)}
        arrays.update({f"weight_{key}": w.numpy() for key, w in weights.items()})
        case = {"inputs": len(inputs), "outputs": len(outputs), "weights": len(weights)}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            slots = sorted({s for own in optimizer._slots.values() for s in own})
            case.update(optimizer=type(optimizer).__name__, slots=slots,
                        iterations=int(optimizer.iterations),
                        learning_rate=float(optimizer.learning_rate.numpy()))
            for slot in slots:
                for key, w in weights.items():
                    arrays[f"slot_{slot}_{key}"] = optimizer.slot(w, slot).numpy()
        np.savez(folder / f"{name}.npz", **arrays)
        manifest[name] = case
        models[name] = (model, inputs, fit_x, fit_y)
    (folder / "cases.json").write_text(json.dumps(manifest, indent=1))
    return models


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    keep = os.environ.get("CHAINRULE_KERAS_CHECK_DIR")
    folder = tmp_path_factory.mktemp("keras_files")
    if keep:
        os.makedirs(keep, exist_ok=True)
        folder = type(folder)(keep)
    return folder, written(folder)


@pytest.mark.parametrize("name", sorted(CASES))
def test_chainrule_loads_its_keras_files_back_and_trains_on_bit_for_bit(saved, name):
    folder, models = saved
    model, inputs, fit_x, fit_y = models[name]
    loaded = keras.models.load_model(folder / f"{name}.keras")
    x = inputs if len(inputs) > 1 else inputs[0]
    np.testing.assert_array_equal(_flat(loaded.predict(x, verbose=0)),
                                  _flat(model.predict(x, verbose=0)))
    if fit_x is None:
        assert getattr(loaded, "optimizer", None) is None
        return
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    # (a schedule's rate is computed from the step counter: Keras keeps no variable for it)
    assert float(loaded.optimizer.learning_rate) == float(model.optimizer.learning_rate)
    for a, b in zip(_state(loaded), _state(model), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.dtype == b.dtype
    for m in (model, loaded):  # the same dropout masks for both
        keras.utils.set_random_seed(7)
        m.fit(fit_x, fit_y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights() + [v.numpy() for v in loaded.optimizer.variables],
                    model.get_weights() + [v.numpy() for v in model.optimizer.variables]):
        np.testing.assert_array_equal(a, b)


def _state(model):
    optimizer = model.optimizer
    return [v for v in optimizer.variables if v is not optimizer._learning_rate]


def _flat(outputs):
    return np.concatenate([np.ravel(o) for o in (outputs if isinstance(outputs, list)
                                                  else [outputs])])


def test_keras_3_loads_them_with_the_same_predictions_weights_and_optimizer_state(saved):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 is not installed (pip install -e '.[test]' installs it)")
    folder, _ = saved
    environment = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, os.path.join(FIXTURES, "check_keras_loads.py"),
                          str(folder)], capture_output=True, text=True, env=environment,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    passed = [line.split(":")[0] for line in run.stdout.splitlines()]
    assert passed == list(CASES), run.stdout
