"""The random augmentation layers: exact transforms at fixed factors, Keras's argument forms,
identity outside training, seeds, fill modes, in a model's fit (compiled equal to eager bit
for bit, a fresh draw at every batch) and configs."""

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers
from chainrule.primitives import table as P

from ._helpers import keras_fixture_arrays
from .test_jit import assert_same_run, run, traces

rng = np.random.default_rng(0)
IMAGE = np.arange(5 * 5 * 2, dtype=np.float32).reshape(1, 5, 5, 2)


def test_fixed_factors_give_exact_transforms():
    half_turn = layers.RandomRotation((0.5, 0.5))(IMAGE).numpy()
    np.testing.assert_allclose(half_turn, IMAGE[:, ::-1, ::-1], atol=1e-4)
    quarter = layers.RandomRotation((0.25, 0.25), interpolation="nearest")(IMAGE).numpy()
    np.testing.assert_array_equal(quarter[0], np.rot90(IMAGE[0]))  # counter-clockwise
    np.testing.assert_array_equal(layers.RandomZoom((0.0, 0.0))(IMAGE).numpy(), IMAGE)
    down = layers.RandomTranslation((0.2, 0.2), (-0.4, -0.4), fill_mode="constant",
                                    fill_value=-1.0)(IMAGE).numpy()
    expected = np.full_like(IMAGE, -1.0)
    expected[:, 1:, :3] = IMAGE[:, :4, 2:]  # one row down, two columns left
    np.testing.assert_array_equal(down, expected)
    # zooming in by half reads the middle half, stretched (bilinear): the centre stays
    zoomed = layers.RandomZoom((-0.5, -0.5))(IMAGE).numpy()
    np.testing.assert_array_equal(zoomed[0, 2, 2], IMAGE[0, 2, 2])
    # row 2 holds 20 + 2x at column x; the output column x reads x' = 2 + (x - 2) / 2
    np.testing.assert_array_equal(zoomed[0, 2, :, 0], [22, 23, 24, 25, 26])


@pytest.mark.parametrize("fill_mode, expected", [
    ("reflect", [1, 0, 0, 1, 2, 3, 3, 2]),       # mirrored about the border's outer edge
    ("wrap", [2, 3, 0, 1, 2, 3, 0, 1]),
    ("nearest", [0, 0, 0, 1, 2, 3, 3, 3]),
    ("constant", [9, 9, 0, 1, 2, 3, 9, 9])])
def test_fill_modes(fill_mode, expected):
    row = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    for shift, part in ((-2, slice(0, 4)), (2, slice(4, 8))):
        # output column x reads input column x + shift
        transform = tf.constant([[1, 0, shift, 0, 1, 0, 0, 0]], dtype="float32")
        for interpolation in ("nearest", "bilinear"):
            out = tf.ops.image_transform(row, transform, interpolation, fill_mode, 9.0)
            assert out.numpy().ravel().tolist() == expected[part]


def test_flip_modes_and_probability():
    images = np.repeat(IMAGE, 400, axis=0)
    flipped = layers.RandomFlip("horizontal", seed=1)(images).numpy()
    same = np.all(flipped == images, axis=(1, 2, 3))
    mirrored = np.all(flipped == images[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored) and 150 < mirrored.sum() < 250
    both = layers.RandomFlip(seed=2)(images).numpy()
    kinds = {(bool(np.all(b == images[0, ::-1])), bool(np.all(b == images[0, :, ::-1])),
              bool(np.all(b == images[0, ::-1, ::-1])), bool(np.all(b == images[0])))
             for b in both}
    assert len(kinds) == 4  # none, vertical, horizontal, both
    vertical = layers.RandomFlip("vertical", seed=3)(images).numpy()
    assert np.all(np.all(vertical == images, axis=(1, 2, 3))
                  | np.all(vertical == images[:, ::-1], axis=(1, 2, 3)))


def test_identity_outside_training_and_seeds_repeat():
    for layer in [layers.RandomFlip(), layers.RandomRotation(0.2), layers.RandomZoom(0.3),
                  layers.RandomTranslation(0.1, 0.2), layers.RandomContrast(0.5)]:
        np.testing.assert_array_equal(layer(IMAGE, training=False).numpy(), IMAGE)
        assert not np.array_equal(layer(np.repeat(IMAGE, 8, 0), training=True).numpy(),
                                  np.repeat(IMAGE, 8, 0))
    a, b = layers.RandomRotation(0.3, seed=7), layers.RandomRotation(0.3, seed=7)
    first, second = a(IMAGE).numpy(), a(IMAGE).numpy()
    assert not np.array_equal(first, second)  # each call draws anew
    np.testing.assert_array_equal(b(IMAGE).numpy(), first)
    np.testing.assert_array_equal(b(IMAGE).numpy(), second)


def test_one_image_channels_first_and_integer_pixels():
    rotate = layers.RandomRotation((0.5, 0.5))
    np.testing.assert_allclose(rotate(IMAGE[0]).numpy(), IMAGE[0, ::-1, ::-1], atol=1e-4)
    first = layers.RandomRotation((0.5, 0.5), data_format="channels_first")
    np.testing.assert_allclose(first(IMAGE.transpose(0, 3, 1, 2)).numpy(),
                               IMAGE[:, ::-1, ::-1].transpose(0, 3, 1, 2), atol=1e-4)
    out = layers.RandomFlip("vertical")(IMAGE.astype(np.uint8))
    assert out.dtype == tf.float32


def test_contrast_scales_about_the_mean_and_clips():
    x = rng.uniform(0, 255, size=(6, 4, 4, 3)).astype(np.float32)
    out = layers.RandomContrast((0.5, 0.5), seed=0)(x).numpy()
    mean = x.mean((1, 2), keepdims=True)
    factor = (out - mean) / (x - mean)
    inside = (out > 0) & (out < 255)
    assert np.all(factor[inside] > 0.5 - 1e-3) and np.all(factor[inside] < 1.5 + 1e-3)
    assert out.min() >= 0 and out.max() <= 255


def test_arguments_are_checked_with_the_layer_named():
    with pytest.raises(ValueError, match="RandomFlip: mode must be one of"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="RandomRotation: fill_mode must be one of"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="RandomZoom: height_factor must give lower <= upper"):
        layers.RandomZoom((0.3, 0.1))
    with pytest.raises(ValueError, match="RandomZoom: .*at least -1"):
        layers.RandomZoom(-1.5)
    with pytest.raises(ValueError, match=r"'flip' \(RandomFlip\).*ndim=4.*found ndim=2"):
        layers.RandomFlip(name="flip")(np.zeros((3, 4), np.float32))


def augmented_model():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)), layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1), layers.RandomZoom(0.1, fill_mode="constant"),
        layers.RandomTranslation(0.1, 0.1, interpolation="nearest"),
        layers.RandomContrast(0.2, value_range=(0, 1)),
        layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax")])


def test_compiled_augmented_training_equals_eager_bit_for_bit():
    from ._helpers import mnist_subset
    (x, y), (x_test, y_test) = mnist_subset(300, 100)
    data = ((x.reshape(-1, 28, 28, 1), y), (x_test.reshape(-1, 28, 28, 1), y_test))
    eager = run(False, augmented_model, data, epochs=2, batch_size=64)
    compiled = run(True, augmented_model, data, epochs=2, batch_size=64)
    assert_same_run(eager, compiled)
    assert traces(compiled["model"]) == 2
    model = compiled["model"]
    # predict is unaugmented: it equals the model after the augmentation layers
    inner = keras.Sequential(model.layers[5:])
    np.testing.assert_array_equal(model.predict(data[1][0], verbose=0),
                                  inner.predict(data[1][0], verbose=0))


def test_a_compiled_step_draws_anew_at_every_run():
    flip = layers.RandomRotation(0.4, seed=3)
    step = tf.function(lambda x: flip(x, training=True), jit_compile=True)
    x = tf.constant(np.repeat(IMAGE, 4, 0))
    outs = [step(x).numpy() for _ in range(3)]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    again = layers.RandomRotation(0.4, seed=3)
    for out in outs:
        np.testing.assert_array_equal(again(x, training=True).numpy(), out)


def test_summary_and_config_round_trip():
    keras.utils.clear_session()
    model = augmented_model()
    lines = []
    model.summary(print_fn=lines.append)
    assert "random_flip (RandomFlip)" in lines[0] and "(None, 28, 28, 1)" in lines[0]
    for layer in model.layers[:5]:
        config = layer.get_config()
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == config
        assert layer.weights == []


def test_an_augmented_model_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    model = augmented_model()
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(4), verbose=0)
    model.save(tmp_path / "m.chainrule")
    loaded = keras.models.load_model(tmp_path / "m.chainrule")
    assert [type(layer).__name__ for layer in loaded.layers[:5]] == [
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_geometric_augmentations_match_what_keras_made():
    """fixtures/keras_augmentation.json holds Keras 3's outputs for these fixed factors (made by
    fixtures/make_keras_convnet.py; the two lists must stay the same)."""
    image = (np.arange(7 * 9 * 2, dtype=np.float32).reshape(1, 7, 9, 2) * 1.7) % 23
    fixed = {
        "rotate": layers.RandomRotation((0.1, 0.1)),
        "rotate_constant_nearest": layers.RandomRotation(
            (-0.3, -0.3), fill_mode="constant", interpolation="nearest", fill_value=-1.0),
        "zoom_out": layers.RandomZoom((0.3, 0.3)),
        "zoom_in_wrap": layers.RandomZoom((-0.4, -0.4), (0.2, 0.2), fill_mode="wrap"),
        "translate": layers.RandomTranslation((0.15, 0.15), (-0.25, -0.25)),
        "translate_nearest": layers.RandomTranslation((0.3, 0.3), (0.1, 0.1),
                                                      fill_mode="nearest"),
    }
    made = keras_fixture_arrays("keras_augmentation.json")
    assert sorted(made) == sorted(fixed)
    for name, layer in fixed.items():
        np.testing.assert_allclose(layer(image).numpy(), made[name], rtol=1e-5, atol=1e-4,
                                   err_msg=name)
