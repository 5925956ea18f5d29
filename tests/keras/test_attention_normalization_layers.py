"""The Keras 3 layers added for issue 22: normalization (Layer, Group, RMS, Unit,
Normalization with adapt), attention (MultiHeadAttention, Attention, AdditiveAttention),
EinsumDense, Dot, and the small reshaping/noise layers: values against NumPy, masks,
derivatives against finite differences (float64), config round trips, Keras's aliases,
a Keras-written file loaded with Keras's predictions, and compiled training equal to
eager bit for bit."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers
from chainrule.testing import check_grads

from .test_jit import assert_same_run, run

rng = np.random.default_rng(0)


def test_layer_group_rms_and_unit_normalization_match_numpy():
    x = rng.normal(2.0, 3.0, (4, 5, 6)).astype(np.float32)
    ln = layers.LayerNormalization(epsilon=1e-3, gamma_initializer="constant")
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(ln(x).numpy(), (x - mean) / np.sqrt(var + 1e-3) * 0.0, atol=1e-6)
    ln2 = layers.LayerNormalization(axis=[2, 1])
    assert ln2.get_config()["axis"] == [2, 1]
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(ln2(x).numpy(), (x - mean) / np.sqrt(var + 1e-3), atol=1e-5)
    assert ln2.get_config()["axis"] == [1, 2] and ln2.gamma.shape == (5, 6)  # Keras's form
    gn = layers.GroupNormalization(groups=3)
    g = x.reshape(4, 5, 3, 2)
    mean, var = g.mean((1, 3), keepdims=True), g.var((1, 3), keepdims=True)
    np.testing.assert_allclose(gn(x).numpy(), ((g - mean) / np.sqrt(var + 1e-3)).reshape(x.shape),
                               atol=1e-5)
    rms = layers.RMSNormalization()
    np.testing.assert_allclose(rms(x).numpy(), x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6),
                               rtol=1e-5)
    assert [w.name.split("/")[1] for w in rms.weights] == ["scale"]
    unit = layers.UnitNormalization()
    np.testing.assert_allclose(unit(x).numpy(), x / np.linalg.norm(x, axis=-1, keepdims=True),
                               rtol=1e-5)
    np.testing.assert_array_equal(unit(np.zeros((2, 3), np.float32)).numpy(), 0.0)
    with pytest.raises(ValueError, match=r"GroupNormalization 'group_norm.*6 channels.*groups=4"):
        layers.GroupNormalization(groups=4, name="group_norm")(x)


def test_normalization_adapts_as_keras_and_inverts():
    data = rng.normal(3.0, 2.0, (50, 4)).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(data)
    assert [w.name.split("/")[1] for w in norm.weights] == ["mean", "variance", "count"]
    assert norm.trainable_weights == [] and norm.count.dtype.name == "int32"
    np.testing.assert_allclose(norm.adapt_mean.numpy(), data.mean(0), rtol=1e-6)
    out = norm(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, rtol=1e-4)
    batched = layers.Normalization()
    batched.adapt([data[:20], data[20:35], data[35:]])  # Keras's running combination
    np.testing.assert_allclose(batched.adapt_variance.numpy(), data.var(0), rtol=1e-5)
    back = layers.Normalization(mean=norm.adapt_mean.numpy(),
                                variance=norm.adapt_variance.numpy(), invert=True)
    np.testing.assert_allclose(back(out).numpy(), data, rtol=1e-5, atol=1e-5)
    whole = layers.Normalization(axis=None)
    whole.adapt(data)
    np.testing.assert_allclose(whole.adapt_mean.numpy(), data.mean(), rtol=1e-5)
    config = layers.Normalization(mean=1.0, variance=4.0).get_config()
    assert (config["axis"], config["mean"], config["variance"]) == ((-1,), 1.0, 4.0)
    assert layers.Normalization().get_config()["mean"] is None
    with pytest.raises(ValueError, match="both mean and variance"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match=r"built for input shape \(50, 4\).*axis 1 must be 4"):
        norm.adapt(np.zeros((3, 5), np.float32))


def _attention_numpy(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def test_multi_head_attention_is_keras_layout_and_math():
    q_in = rng.normal(size=(2, 4, 6)).astype(np.float32)
    v_in = rng.normal(size=(2, 5, 3)).astype(np.float32)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4,
                                    bias_initializer="glorot_uniform")
    mask = rng.random((2, 4, 5)) > 0.3
    mask[:, :, 0] = True
    out, scores = mha(q_in, v_in, attention_mask=mask, return_attention_scores=True)
    assert [tuple(w.shape) for w in mha.weights] == [(6, 2, 3), (2, 3), (3, 2, 3), (2, 3),
                                                     (3, 2, 4), (2, 4), (2, 4, 6), (6,)]
    assert [w.name for w in mha.weights][::2] == [
        "query/kernel", "key/kernel", "value/kernel", "attention_output/kernel"]
    wq, bq, wk, bk, wv, bv, wo, bo = [w.numpy() for w in mha.weights]
    q = np.einsum("btd,dnh->bnth", q_in, wq) + bq[None, :, None]
    k = np.einsum("bsd,dnh->bnsh", v_in, wk) + bk[None, :, None]
    v = np.einsum("bsd,dnh->bnsh", v_in, wv) + bv[None, :, None]
    heads = _attention_numpy(q / np.sqrt(3), k, v, mask[:, None])
    expected = np.einsum("bnth,nho->bto", heads, wo) + bo
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert scores.shape == (2, 2, 4, 5)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(scores.numpy()[~np.broadcast_to(mask[:, None], scores.shape)] == 0)
    # the causal mask is the lower triangle given as attention_mask
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    self_attention = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    np.testing.assert_array_equal(
        self_attention(x, x, use_causal_mask=True).numpy(),
        self_attention(x, x, attention_mask=np.tril(np.ones((4, 4), bool))[None]).numpy())
    config = mha.get_config()
    assert config["attention_axes"] == (1,) and config["value_dim"] == 4
    again = layers.MultiHeadAttention.from_config(config)
    assert again.get_config() == config


def test_attention_and_additive_attention_match_numpy_with_masks():
    q = rng.normal(size=(2, 3, 4)).astype(np.float32)
    v = rng.normal(size=(2, 5, 4)).astype(np.float32)
    value_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    query_mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    att = layers.Attention()
    out = att([q, v], mask=[query_mask, value_mask]).numpy()
    expected = _attention_numpy(q, v, v, value_mask[:, None]) * query_mask[..., None]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    causal = layers.Attention()([q, q], use_causal_mask=True).numpy()
    np.testing.assert_allclose(causal, _attention_numpy(q, q, q, np.tril(np.ones((3, 3), bool))),
                               rtol=1e-5, atol=1e-6)
    add = layers.AdditiveAttention()
    out = add([q, v]).numpy()
    scale = add.scale.numpy()
    scores = (scale * np.tanh(q[:, :, None] + v[:, None])).sum(-1)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(out, (e / e.sum(-1, keepdims=True)) @ v, rtol=1e-5, atol=1e-6)
    assert "score_mode" not in add.get_config()
    with pytest.raises(ValueError, match=r"Attention 'attention.*\[query, value\]"):
        layers.Attention()(q)


def test_einsum_dense_and_dot():
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    layer = layers.EinsumDense("...b,bc->...c", output_shape=5, bias_axes="c",
                               bias_initializer="ones")
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.kernel.numpy() + 1, rtol=1e-5)
    two = layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="e")
    assert two(x).shape == (2, 3, 2, 3) and two.bias.shape == (3,)
    assert two.compute_output_shape((None, 3, 4)) == (None, 3, 2, 3)
    with pytest.raises(ValueError, match="bias axis 'z'"):
        layers.EinsumDense("ab,bc->ac", output_shape=2, bias_axes="z")(x[:, 0])
    y = rng.normal(size=(2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(layers.Dot(axes=2)([x, y]).numpy(), x @ np.swapaxes(y, 1, 2),
                               rtol=1e-5)
    cos = layers.Dot(axes=1, normalize=True)([x[:, 0], y[:, 0]]).numpy()
    a, b = x[:, 0], y[:, 0]
    np.testing.assert_allclose(cos[:, 0], (a * b).sum(1) / np.linalg.norm(a, axis=1)
                               / np.linalg.norm(b, axis=1), rtol=1e-5)
    assert layers.Dot(1).compute_output_shape([(None, 4), (None, 4)]) == (None, 1)


def test_new_layers_gradients_match_finite_differences():
    f64 = {"dtype": "float64"}
    x = rng.normal(size=(2, 3, 4))
    weights = rng.normal(size=(2, 3, 4))
    for layer in (layers.LayerNormalization(**f64), layers.LayerNormalization(axis=[1, 2], **f64),
                  layers.GroupNormalization(groups=2, **f64), layers.RMSNormalization(**f64),
                  layers.UnitNormalization(**f64),
                  layers.EinsumDense("abc,cd->abd", output_shape=(3, 4), bias_axes="d", **f64)):
        layer(x)
        check_grads(lambda t, layer=layer: layer(t) * weights, x)
    mha = layers.MultiHeadAttention(2, 2, **f64)
    check_grads(lambda t: mha(t, t, use_causal_mask=True) * weights, x)
    att, add = layers.Attention(use_scale=True, score_mode="concat", **f64), \
        layers.AdditiveAttention(**f64)
    check_grads(lambda t: att([t, t]) * weights, x)
    check_grads(lambda t: add([t, t[:, :2]]) * weights, x)
    check_grads(lambda t: layers.Dot(2, normalize=True, **f64)([t, t]), x)


def test_small_layers_shapes_values_and_configs():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(layers.Permute((2, 1))(x).numpy(), x.transpose(0, 2, 1))
    np.testing.assert_array_equal(layers.RepeatVector(2)(x[:, 0]).numpy(),
                                  np.repeat(x[:, :1], 2, 1))
    np.testing.assert_array_equal(layers.Cropping1D((1, 1))(x).numpy(), x[:, 1:2])
    img = np.arange(2 * 5 * 6 * 1, dtype=np.float32).reshape(2, 5, 6, 1)
    np.testing.assert_array_equal(layers.Cropping2D(((1, 2), (0, 1)))(img).numpy(),
                                  img[:, 1:3, 0:5])
    vol = np.ones((1, 3, 3, 3, 2), np.float32)
    assert layers.Cropping3D()(vol).shape == (1, 1, 1, 1, 2)
    assert layers.ZeroPadding3D(1)(vol).shape == (1, 5, 5, 5, 2)
    assert layers.UpSampling3D((1, 2, 3))(vol).shape == (1, 3, 6, 9, 2)
    np.testing.assert_array_equal(layers.Identity()(x).numpy(), x)
    for layer in (layers.GaussianNoise(0.5), layers.GaussianDropout(0.5),
                  layers.AlphaDropout(0.5), layers.SpatialDropout1D(0.5)):
        np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: the identity
        assert not np.array_equal(layer(x, training=True).numpy(), x)
    dropped = layers.SpatialDropout1D(0.5)(np.ones((8, 5, 16), np.float32), training=True).numpy()
    assert np.all(dropped.min(1) == dropped.max(1))  # whole channels, along every step
    reg = layers.ActivityRegularization(l1=0.1, l2=0.01)
    reg(x)
    np.testing.assert_allclose(float(reg.losses[0]),
                               (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="leaves nothing"):
        layers.Cropping1D((2, 1))(x)
    assert "trainable" not in layers.SpatialDropout2D(0.1).get_config()  # as Keras's


ALL_NEW = [layers.LayerNormalization(), layers.GroupNormalization(), layers.RMSNormalization(),
           layers.UnitNormalization(), layers.Normalization(axis=(1, 2)),
           layers.EinsumDense("ab,bc->ac", 4, bias_axes="c"), layers.MultiHeadAttention(2, 4),
           layers.Attention(), layers.AdditiveAttention(), layers.Dot(1), layers.Identity(),
           layers.Permute((2, 1)), layers.RepeatVector(3), layers.Cropping1D(),
           layers.Cropping2D(), layers.Cropping3D(), layers.ZeroPadding3D(),
           layers.UpSampling3D(), layers.GaussianNoise(0.1), layers.GaussianDropout(0.1),
           layers.AlphaDropout(0.1), layers.SpatialDropout1D(0.1), layers.SpatialDropout2D(0.1),
           layers.SpatialDropout3D(0.1), layers.ActivityRegularization(0.1),
           layers.Resizing(4, 5, crop_to_aspect_ratio=True), layers.CenterCrop(3, 3),
           layers.RandomCrop(3, 3, seed=1), layers.RandomBrightness(0.2),
           layers.TimeDistributed(layers.Dense(2)), layers.CategoryEncoding(5, "count"),
           layers.Conv3DTranspose(2, 3), layers.Discretization([0.0, 1.0], output_mode="one_hot")]


@pytest.mark.parametrize("layer", ALL_NEW, ids=lambda layer: type(layer).__name__)
def test_configs_round_trip_through_the_registry(layer):
    again = layers.deserialize(layers.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_keras_alias_names_are_the_same_classes():
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D
    restored = layers.deserialize({"class_name": "Convolution2D",
                                   "config": {"filters": 2, "kernel_size": 3}})
    assert type(restored) is layers.Conv2D


def test_summary_of_a_transformer_block_counts_keras_parameters():
    inputs = keras.Input((5, 8))
    x = layers.MultiHeadAttention(2, 3, name="mha")(inputs, inputs)
    x = layers.LayerNormalization(name="ln")(layers.Add()([inputs, x]))
    model = keras.Model(inputs, x)
    lines = []
    model.summary(print_fn=lines.append)
    rows = [[c.strip() for c in line.strip("│").split("│")]
            for line in lines[0].splitlines() if line.startswith("│")]
    assert ["mha (MultiHeadAttention)", "(None, 5, 8)", "218"] == rows[1][:3]
    assert ["ln (LayerNormalization)", "(None, 5, 8)", "16"] == [r for r in rows if
                                                                r[0].startswith("ln")][0][:3]


def transformer():
    inputs = keras.Input((28, 28))
    x = layers.EinsumDense("abc,cd->abd", output_shape=(28, 16), bias_axes="d")(inputs)
    x = layers.LayerNormalization()(layers.Add()([
        x, layers.MultiHeadAttention(2, 8, dropout=0.1)(x, x, use_causal_mask=True)]))
    x = layers.GroupNormalization(4)(layers.RMSNormalization()(x))
    x = layers.GlobalAveragePooling1D()(layers.SpatialDropout1D(0.1)(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def test_compiled_transformer_training_equals_eager_bit_for_bit():
    from ._helpers import mnist_subset
    (x, y), (x_test, y_test) = mnist_subset(192, 64)
    data = ((x.reshape(-1, 28, 28), y), (x_test.reshape(-1, 28, 28), y_test))
    eager = run(False, transformer, data, epochs=1, batch_size=64)
    compiled = run(True, transformer, data, epochs=1, batch_size=64)
    assert_same_run(eager, compiled)


KERAS_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, keras
    from keras import layers
    keras.utils.set_random_seed(3)  # the same weights every run: a fixed case, not a lottery
    rng = np.random.default_rng(3)
    q, v = keras.Input((4, 6)), keras.Input((5, 6))
    norm = layers.Normalization()
    norm.adapt(rng.normal(1.0, 2.0, (30, 4, 6)).astype("float32"))
    x = norm(q)
    x = layers.MultiHeadAttention(2, 3, bias_initializer="glorot_uniform")(x, v)
    x = layers.MultiHeadAttention(3, 2, value_dim=4, output_shape=5)(
        x, x, use_causal_mask=True)
    x = layers.GroupNormalization(groups=5, beta_initializer="glorot_uniform")(
        layers.LayerNormalization(gamma_initializer="glorot_uniform")(x))
    x = layers.EinsumDense("abc,cd->abd", output_shape=(4, 3), bias_axes="d",
                           bias_initializer="glorot_uniform")(layers.RMSNormalization()(x))
    x = layers.Dot(axes=2)([x, layers.AdditiveAttention()([x, x])])
    model = keras.Model([q, v], layers.AvgPool1D(2)(layers.UnitNormalization()(x)))
    model.save(sys.argv[1] + "/keras.keras")
    inputs = [rng.normal(size=(3, 4, 6)).astype("float32"),
              rng.normal(size=(3, 5, 6)).astype("float32")]
    np.savez(sys.argv[1] + "/keras.npz", q=inputs[0], v=inputs[1],
             out=model.predict(inputs, verbose=0))
""")


def test_a_keras_written_file_with_these_layers_loads_with_keras_predictions(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("h5py") is None:
        pytest.skip("Keras 3 (and h5py) are not installed (pip install -e '.[test]')")
    environment = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    made = subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    model = keras.models.load_model(tmp_path / "keras.keras")
    data = np.load(tmp_path / "keras.npz")
    np.testing.assert_allclose(model.predict([data["q"], data["v"]], verbose=0), data["out"],
                               rtol=1e-5, atol=2e-6)


# -- image preprocessing, TimeDistributed, CategoryEncoding, Conv3DTranspose ------------------

def test_resizing_matches_keras_resize_and_crops_to_the_aspect_ratio():
    from ._helpers import keras_fixture_arrays
    made = keras_fixture_arrays("keras_resize.json")  # keras.ops.image.resize's outputs
    for name in [n for n in made if n != "image"]:
        size, how = name.split("_")
        height, width = (int(n) for n in size.split("x"))
        got = layers.Resizing(height, width, interpolation=how)(made["image"][None]).numpy()[0]
        np.testing.assert_allclose(got, made[name], rtol=1e-6, atol=1e-4, err_msg=name)
    image = rng.random((2, 6, 12, 3)).astype(np.float32)
    # the centred 6 x 6 window, then resized: columns 3..8
    np.testing.assert_array_equal(
        layers.Resizing(6, 6, crop_to_aspect_ratio=True)(image).numpy(), image[:, :, 3:9])
    first = layers.Resizing(3, 4, data_format="channels_first")(image.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(first.numpy(), layers.Resizing(3, 4)(image).numpy()
                               .transpose(0, 3, 1, 2), rtol=1e-6)
    with pytest.raises(ValueError, match="interpolation"):
        layers.Resizing(2, 2, interpolation="bicubic")
    check_grads(lambda t: layers.Resizing(4, 7, dtype="float64")(t) ** 2,
                rng.random((1, 3, 5, 2)))


def test_center_crop_random_crop_and_random_brightness():
    image = rng.random((2, 7, 9, 3)).astype(np.float32) * 255
    np.testing.assert_array_equal(layers.CenterCrop(4, 5)(image).numpy(), image[:, 1:5, 2:7])
    assert layers.CenterCrop(10, 3)(image).shape == (2, 10, 3, 3)  # smaller: resized
    crop = layers.RandomCrop(4, 5, seed=1)
    out = crop(image, training=True).numpy()
    starts = [(i, j) for i in range(4) for j in range(5)
              if np.array_equal(image[:, i:i + 4, j:j + 5], out)]
    assert len(starts) == 1  # one window of the images, the same for the batch
    np.testing.assert_array_equal(crop(image, training=False).numpy(),
                                  layers.Resizing(4, 5, crop_to_aspect_ratio=True)(image).numpy())
    bright = layers.RandomBrightness((0.1, 0.2), seed=3)
    shifted = bright(image, training=True).numpy() - image
    unclipped = image + shifted < 255
    per_image = [np.unique(np.round(s[u], 3)) for s, u in zip(shifted, unclipped)]
    assert all(len(p) <= 2 and 25.4 <= p.min() <= 51.1 for p in per_image)
    np.testing.assert_array_equal(bright(image, training=False).numpy(), image)
    assert bright.get_config()["factor"] == (0.1, 0.2)


def test_time_distributed_applies_the_layer_to_each_step_and_saves_as_keras():
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    td = layers.TimeDistributed(layers.Dense(3, activation="tanh"))
    np.testing.assert_allclose(td(x).numpy(), np.tanh(x @ td.layer.kernel.numpy()), rtol=1e-5)
    assert td.compute_output_shape((None, 5, 4)) == (None, 5, 3)
    again = layers.deserialize(layers.serialize(td))
    assert type(again.layer) is layers.Dense and again.layer.units == 3
    from chainrule.keras import weights_h5
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, layers.TimeDistributed(layers.Dense(3))(inputs))
    assert sorted(weights_h5.layout(model)) == [
        "layers/input_layer/vars", "layers/time_distributed/layer/vars",
        "layers/time_distributed/vars", "vars"]
    with pytest.raises(ValueError, match="keras.layers.Layer instance"):
        layers.TimeDistributed(lambda t: t)


def test_category_encoding_modes():
    x = np.array([[0, 1], [0, 0], [1, 2], [3, 1]])
    np.testing.assert_array_equal(layers.CategoryEncoding(4)(x).numpy(),
                                  [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    np.testing.assert_array_equal(layers.CategoryEncoding(4, "one_hot")(np.array([[3], [0]])),
                                  [[0, 0, 0, 1], [1, 0, 0, 0]])
    counts = layers.CategoryEncoding(4, "count")(x, count_weights=np.full((4, 2), 0.5))
    np.testing.assert_array_equal(counts.numpy(), [[.5, .5, 0, 0], [1, 0, 0, 0],
                                                   [0, .5, .5, 0], [0, .5, 0, .5]])
    assert layers.CategoryEncoding(3, "binary").output_mode == "multi_hot"
    with pytest.raises(ValueError, match="count_weights"):
        layers.CategoryEncoding(4)(x, count_weights=np.ones((4, 2)))


def test_conv3d_transpose_is_the_adjoint_of_conv3d():
    x = rng.normal(size=(1, 3, 4, 5, 2)).astype(np.float64)
    up = layers.Conv3DTranspose(3, 2, strides=2, use_bias=False, dtype="float64")
    y = up(x)
    assert y.shape == (1, 6, 8, 10, 3) and up.kernel.shape == (2, 2, 2, 3, 2)
    import chainrule as cr
    z = rng.normal(size=y.shape)
    down = cr.nn.conv3d(z, up.kernel, strides=2, padding="VALID").numpy()
    np.testing.assert_allclose((y.numpy() * z).sum(), (down * x).sum(), rtol=1e-10)
    assert layers.Convolution3DTranspose is layers.Conv3DTranspose


KERAS_IMAGE_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, keras
    from keras import layers
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    images, steps = keras.Input((9, 12, 3)), keras.Input((4, 3, 3, 3, 2))
    x = layers.Resizing(6, 8, crop_to_aspect_ratio=True)(images)
    x = layers.CenterCrop(4, 6)(layers.RandomBrightness(0.1)(x))
    x = layers.GlobalAvgPool2D()(layers.Convolution2D(4, 3)(x))
    t = layers.TimeDistributed(layers.Conv3DTranspose(2, 2, strides=2))(steps)
    t = layers.TimeDistributed(layers.GlobalMaxPool3D())(t)
    t = layers.Flatten()(t)
    model = keras.Model([images, steps], layers.Concatenate()([x, t]))
    model.save(sys.argv[1] + "/keras.keras")
    inputs = [rng.uniform(0, 255, (2, 9, 12, 3)).astype("float32"),
              rng.normal(size=(2, 4, 3, 3, 3, 2)).astype("float32")]
    np.savez(sys.argv[1] + "/keras.npz", a=inputs[0], b=inputs[1],
             out=model.predict(inputs, verbose=0))
""")


def test_a_keras_written_file_with_image_layers_and_time_distributed_loads(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("h5py") is None:
        pytest.skip("Keras 3 (and h5py) are not installed (pip install -e '.[test]')")
    environment = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    made = subprocess.run([sys.executable, "-c", KERAS_IMAGE_SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    model = keras.models.load_model(tmp_path / "keras.keras")
    data = np.load(tmp_path / "keras.npz")
    np.testing.assert_allclose(model.predict([data["a"], data["b"]], verbose=0), data["out"],
                               rtol=1e-5, atol=1e-4)


def augmented_convnet():
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.RandomCrop(24, 24, seed=2),
        layers.RandomBrightness(0.1, value_range=(0, 1), seed=4), layers.Resizing(20, 20),
        layers.Conv2D(4, 3, activation="relu"), layers.CenterCrop(16, 16),
        layers.GlobalAvgPool2D(), layers.Dense(10, activation="softmax")])


def test_compiled_augmented_convnet_training_equals_eager_bit_for_bit():
    from ._helpers import mnist_subset
    (x, y), (x_test, y_test) = mnist_subset(128, 64)
    data = ((x.reshape(-1, 28, 28, 1), y), (x_test.reshape(-1, 28, 28, 1), y_test))
    eager = run(False, augmented_convnet, data, epochs=1, batch_size=64)
    compiled = run(True, augmented_convnet, data, epochs=1, batch_size=64)
    assert_same_run(eager, compiled)


def test_discretization_bins_and_adapts_to_keras_boundaries():
    x = np.array([[-1.5, 0.0, 0.2], [3.0, -0.1, 0.7]], np.float32)
    out = layers.Discretization([0.0, 0.5])(x)
    assert out.dtype.name == "int32"
    np.testing.assert_array_equal(out.numpy(), [[0, 1, 1], [2, 0, 2]])  # np.digitize's
    np.testing.assert_array_equal(layers.Discretization([0.0, 0.5], output_mode="count")(x),
                                  [[1, 2, 0], [1, 0, 2]])
    data = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    # the boundaries Keras 3.15's summaries give for this data (epsilon 0.01, 5 bins)
    whole = layers.Discretization(num_bins=5)
    whole.adapt(data)
    assert whole.bin_boundaries == [-0.8735690712928772, -0.31480085849761963,
                                    0.22266411781311035, 0.8061389327049255]
    batched = layers.Discretization(num_bins=5)
    batched.adapt([data[:300], data[300:700], data[700:]])
    assert batched.bin_boundaries == [-0.8637955188751221, -0.30794844031333923,
                                      0.23340150713920593, 0.8201826214790344]
    again = layers.deserialize(layers.serialize(batched))
    assert again.bin_boundaries == batched.bin_boundaries
    with pytest.raises(ValueError, match="either bin_boundaries or num_bins"):
        layers.Discretization()
    with pytest.raises(ValueError, match="no bin boundaries yet"):
        layers.Discretization(num_bins=3)(x)
