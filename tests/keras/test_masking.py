"""Masks, as Keras 3 has them: ``Embedding(mask_zero=True)`` and ``Masking`` attach a mask to
their output, the layers that support masking pass it on (or consume it, as
GlobalAveragePooling1D does), and a mask that reaches a model's output weights its loss and
metrics. Checked against Keras 3 itself (run on its numpy backend in a subprocess, on files
chainrule saved), and compiled against eager steps bit for bit."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers, losses, metrics

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
VOCAB, STEPS = 30, 10


def padded(n, seed=0, pre=False):
    """Integer sequences of random lengths (1 to STEPS), padded with 0 (after them, or
    before them with ``pre=True``)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, STEPS), np.int32)
    for i in range(n):
        k = int(rng.integers(1, STEPS + 1))
        row = rng.integers(1, VOCAB, k)
        if pre:
            x[i, STEPS - k:] = row
        else:
            x[i, :k] = row
    return x


def text_classifier(jit_compile="auto"):
    """Embedding(mask_zero) -> Dense per step -> masked mean over the steps -> Dense."""
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              layers.Embedding(VOCAB, 8, mask_zero=True, name="embed"),
                              layers.Dense(6, activation="relu", name="hidden"),
                              layers.Dropout(0.25, name="drop"),
                              layers.GlobalAveragePooling1D(name="pool"),
                              layers.Dense(1, activation="sigmoid", name="score")],
                             name="text_classifier")
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    return model


def tagger(jit_compile="auto"):
    """Embedding(mask_zero) -> Dense per step -> softmax per step: the loss and metrics are
    over the unpadded steps only."""
    words = keras.Input((None,), dtype="int32", name="words")
    h = layers.Embedding(VOCAB, 8, mask_zero=True, name="embed")(words)
    h = layers.Dense(8, activation="tanh", name="hidden")(h)
    tags = layers.Dense(5, activation="softmax", name="tags")(h)
    model = keras.Model(words, tags, name="tagger")
    model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit_compile)
    return model


def data(name, n=24, seed=0):
    """``x, y, w`` for a case: w is per sample for the classifier, per step for the tagger
    (Keras 3 refuses per-sample weights on a per-step mask)."""
    rng = np.random.default_rng(seed + 1)
    x = padded(n, seed)
    if name == "text":
        return (x, rng.integers(0, 2, (n, 1)).astype("float32"),
                rng.uniform(0.5, 2, n).astype("float32"))
    return (x, rng.integers(0, 5, x.shape).astype("int32"),
            rng.uniform(0.5, 2, x.shape).astype("float32"))


CASES = {"text": text_classifier, "tagger": tagger}


# -- against Keras 3 -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 is not installed (pip install -e '.[test]' installs it)")
    pytest.importorskip("h5py")
    folder = tmp_path_factory.mktemp("masked")
    ours, cases = {}, {}
    for name, make in CASES.items():
        keras.utils.set_random_seed(len(name))
        model = make()
        x, y, w = data(name)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        model.save(folder / f"{name}.keras")
        np.savez(folder / f"{name}.npz", x=x, y=y, w=w)
        ours[name] = {
            "model": model,
            "predictions": model.predict(x, verbose=0),
            "mask": getattr(model(x), "_keras_mask", None),
            "evaluate": model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True),
            "evaluate_weighted": model.evaluate(x, y, sample_weight=w, batch_size=8,
                                                verbose=0, return_dict=True)}
        cases[name] = {"batch_size": 8, "weighted": True}
    (folder / "cases.json").write_text(json.dumps(cases))
    arrays = {}
    for i, (_, kwargs, training, inputs) in enumerate(LAYER_CALLS):
        for j, (x, m) in enumerate(inputs):
            arrays[f"{i}_x{j}"] = x
            if m is not None:
                arrays[f"{i}_m{j}"] = m
    np.savez(folder / "layers.npz", **arrays)
    (folder / "layers.json").write_text(json.dumps([
        {"class_name": name, "kwargs": kwargs, "training": training, "inputs": len(inputs)}
        for name, kwargs, training, inputs in LAYER_CALLS]))
    environment = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, os.path.join(FIXTURES, "check_keras_masking.py"),
                          str(folder)], capture_output=True, text=True, env=environment,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    reply = json.loads(run.stdout.strip().splitlines()[-1])
    return ours, reply["results"], reply["layers"]


def _layer_inputs():
    rng = np.random.default_rng(5)
    values = [rng.normal(size=(3, 5, 4)).astype(np.float32) for _ in range(2)]
    masks = [rng.random((3, 5)) < 0.6 for _ in range(2)]
    masks[0][:, 0] = True
    steps = values[0].copy()
    steps[~masks[0]] = 0.0
    return values, masks, steps


_V, _M, _STEPS = _layer_inputs()
# (Keras class, keyword arguments, training, [(input, its mask or None), ...])
LAYER_CALLS = [
    ("BatchNormalization", {"momentum": 0.5}, True, [(_V[0], _M[0])]),
    ("BatchNormalization", {}, False, [(_V[0], _M[0])]),
    ("Maximum", {}, False, [(_V[0], _M[0]), (_V[1], _M[1])]),
    ("Minimum", {}, False, [(_V[0], _M[0]), (_V[1], _M[1])]),
    ("Maximum", {}, False, [(_V[0], _M[0]), (_V[1], None)]),
    ("Add", {}, False, [(_V[0], _M[0]), (_V[1], _M[1])]),
    ("Concatenate", {"axis": 1}, False, [(_V[0], _M[0]), (_V[1], None)]),
    ("Concatenate", {}, False, [(_V[0], _M[0]), (_V[1], _M[1])]),
    ("Masking", {"mask_value": 0.0}, False, [(_STEPS, None)]),
    ("GlobalAveragePooling1D", {"keepdims": True}, False, [(_V[0], _M[0])]),
    ("Dense", {"units": 2, "kernel_initializer": "ones"}, False, [(_V[0], _M[0])]),
    ("Dropout", {"rate": 0.5}, False, [(_V[0], _M[0])]),
]


@pytest.mark.parametrize("index", range(len(LAYER_CALLS)),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYER_CALLS)])
def test_keras_3_gives_the_same_layer_outputs_and_masks(keras_results, index):
    name, kwargs, training, inputs = LAYER_CALLS[index]
    theirs = keras_results[2][index]
    tensors = []
    for x, m in inputs:
        t = cr.constant(x)
        if m is not None:
            t._keras_mask = cr.constant(m)
        tensors.append(t)
    layer = getattr(layers, name)(**kwargs)
    out = layer(tensors if len(tensors) > 1 else tensors[0], training=training)
    np.testing.assert_allclose(out.numpy(), theirs["output"], rtol=1e-5, atol=1e-6)
    mask = getattr(out, "_keras_mask", None)
    if theirs["mask"] is None:
        assert mask is None
    else:
        np.testing.assert_array_equal(mask.numpy(), theirs["mask"])
    for ours, keras_weight in zip(layer.get_weights(), theirs["weights"], strict=True):
        np.testing.assert_allclose(ours, keras_weight, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_3_predicts_the_same_on_padded_data(keras_results, name):
    ours, theirs, _ = keras_results
    np.testing.assert_allclose(ours[name]["predictions"], theirs[name]["predictions"],
                               rtol=1e-5, atol=1e-6)
    if name == "text":  # the pooling consumed the mask
        assert ours[name]["mask"] is None and theirs[name]["mask"] is None
    else:
        x = data(name)[0]
        np.testing.assert_array_equal(ours[name]["mask"].numpy(), x != 0)
        np.testing.assert_array_equal(np.asarray(theirs[name]["mask"]), x != 0)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_keras_3_evaluates_the_same_loss_and_metrics(keras_results, name, weighted):
    ours, theirs, _ = keras_results
    key = "evaluate_weighted" if weighted else "evaluate"
    assert sorted(ours[name][key]) == sorted(theirs[name][key]) == ["accuracy", "loss"]
    for metric, value in theirs[name][key].items():
        np.testing.assert_allclose(ours[name][key][metric], value, rtol=2e-6,
                                   err_msg=f"{name} {key} {metric}")


def test_the_tagger_loss_counts_only_unpadded_steps():
    """The masked loss is the mean over the kept steps: padding's predictions, however
    wrong, change nothing (Keras's rule, spelled out)."""
    keras.utils.set_random_seed(3)
    model = tagger()
    x, y, _ = data("tagger")
    p = model.predict(x, verbose=0)
    per_step = -np.log(np.clip(np.take_along_axis(p, y[..., None], -1)[..., 0], 1e-7, 1))
    kept = x != 0
    expected = per_step[kept].mean()
    assert model.evaluate(x, y, batch_size=len(x), verbose=0) == pytest.approx(
        [expected, ((p.argmax(-1) == y) & kept).sum() / kept.sum()], rel=1e-5)
    y_other = np.where(kept, y, (y + 1) % 5)  # other labels under the padding only
    assert model.evaluate(x, y_other, batch_size=len(x), verbose=0) == \
        model.evaluate(x, y, batch_size=len(x), verbose=0)


# -- compiled == eager -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_training_matches_eager_bit_for_bit(name):
    x, y, w = data(name, n=20)  # batches of 8, 8 and 4
    runs = []
    for jit in (True, False):
        keras.utils.set_random_seed(11)
        model = CASES[name](jit_compile=jit)
        history = model.fit(x, y, sample_weight=w, epochs=2, batch_size=8, shuffle=False,
                            verbose=0)
        # (further batch sizes: each masked mean divides by its own batch's kept steps)
        runs.append((model.get_weights(), history.history,
                     [model.evaluate(x, y, sample_weight=w, batch_size=size, verbose=0)
                      for size in (8, 6)],
                     model.predict(x, batch_size=8, verbose=0)))
    (w1, h1, e1, p1), (w2, h2, e2, p2) = runs
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2 and e1 == e2
    np.testing.assert_array_equal(p1, p2)


# -- the layers ------------------------------------------------------------------------------

def test_embedding_mask_zero_attaches_the_mask_and_saves_it():
    embed = layers.Embedding(VOCAB, 4, mask_zero=True)
    x = padded(5, pre=True)
    out = embed(x)
    np.testing.assert_array_equal(out._keras_mask.numpy(), x != 0)
    assert out._keras_mask.dtype == bool
    assert getattr(layers.Embedding(VOCAB, 4)(x), "_keras_mask", None) is None
    config = embed.get_config()
    assert config["mask_zero"] is True
    assert layers.Embedding.from_config(config).mask_zero is True
    assert embed.supports_masking  # it overrides compute_mask, as Keras's does


def test_masking_layer():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]],
                  [[0.0, 0.0], [5.0, 5.0], [5.0, 0.0]]], np.float32)
    out = layers.Masking(mask_value=5.0)(x)
    np.testing.assert_array_equal(out._keras_mask.numpy(), [[True, True, True],
                                                            [True, False, True]])
    np.testing.assert_array_equal(out.numpy()[1, 1], [0.0, 0.0])
    np.testing.assert_array_equal(out.numpy()[1, 2], [5.0, 0.0])
    masking = layers.Masking()
    np.testing.assert_array_equal(masking(x)._keras_mask.numpy(),
                                  [[True, False, True], [False, True, True]])
    assert layers.deserialize(layers.serialize(masking)).mask_value == 0.0
    with pytest.raises(ValueError, match="Masking: mask_value must be a number; received "
                                         "mask_value='zero'"):
        layers.Masking("zero")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_1d_averages_the_kept_steps(data_format, keepdims):
    rng = np.random.default_rng(0)
    x = padded(6)
    values = rng.normal(size=(6, STEPS, 3)).astype(np.float32)
    kept = x != 0
    expected = (values * kept[..., None]).sum(1) / kept.sum(1, keepdims=True)
    masked = layers.Masking()(np.where(kept[..., None], values, 0).astype(np.float32))
    if data_format == "channels_first":
        masked_input = cr.transpose(masked, (0, 2, 1))
        masked_input._keras_mask = masked._keras_mask
        masked = masked_input
    pool = layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
    out = pool(masked)
    assert getattr(out, "_keras_mask", None) is None
    got = out.numpy().reshape(6, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"'pool_bad' \(GlobalAveragePooling1D\): the mask "
                                         r"must have shape \(batch, steps\) = \(6, 10\).*"
                                         r"received a mask of shape \(6, 9\)"):
        layers.GlobalAveragePooling1D(name="pool_bad")(values, mask=kept[:, :9])


def test_layers_that_support_masking_pass_it_on_and_others_warn():
    x = padded(4)
    h = layers.Embedding(VOCAB, 4, mask_zero=True)(x)
    for layer in (layers.Dense(3), layers.Activation("relu"), layers.Dropout(0.5),
                  layers.ReLU(), layers.Rescaling(2.0)):
        for training in (False, True):
            out = layer(h, training=training) if layer._call_takes_training() else layer(h)
            np.testing.assert_array_equal(out._keras_mask.numpy(), x != 0)
    # Softmax consumes the mask, which must broadcast to its input, as in Keras
    scores = cr.zeros((4, 1, STEPS))
    scores._keras_mask = cr.constant(x[:, None, :] != 0)
    probabilities = layers.Softmax()(scores).numpy()[:, 0]
    np.testing.assert_allclose(probabilities, (x != 0) / (x != 0).sum(1, keepdims=True),
                               atol=1e-7)
    with pytest.raises(ValueError, match=r"\(Softmax\): the mask must broadcast to the "
                                         r"inputs.*inputs of shape \(4, 10, 4\) and a mask "
                                         r"of shape \(4, 10\)"):
        layers.Softmax()(h)
    with pytest.warns(UserWarning, match=r"Layer 'flat' \(Flatten\) was passed an input "
                                         r"with a mask.*does not support masking"):
        out = layers.Flatten(name="flat")(h)
    assert getattr(out, "_keras_mask", None) is None
    with pytest.warns(UserWarning, match=r"\(GlobalMaxPooling1D\).*does not support masking"):
        layers.GlobalMaxPooling1D()(h)  # Keras's takes the maximum over every step


def test_call_gets_the_mask_and_compute_mask_decides_the_output_mask():
    seen = []

    class Peek(layers.Layer):
        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs * 2.0

    class FirstStepOnly(layers.Layer):
        def call(self, inputs):
            return inputs + 1.0  # (a layer that returns its input keeps the input's mask)

        def compute_mask(self, inputs, mask=None):
            return cr.ops.logical_and(mask, cr.range(mask.shape[1]) == 0)

    x = padded(3)
    h = layers.Embedding(VOCAB, 2, mask_zero=True)(x)
    peek = Peek()
    assert not peek.supports_masking
    with pytest.warns(UserWarning, match="does not support masking"):
        peek(h)
    np.testing.assert_array_equal(seen[-1].numpy(), x != 0)
    peek.supports_masking = True
    np.testing.assert_array_equal(peek(h)._keras_mask.numpy(), x != 0)
    explicit = np.ones(x.shape, bool)
    np.testing.assert_array_equal(peek(h, mask=explicit)._keras_mask.numpy(), explicit)
    assert seen[-1].numpy().all()
    first = FirstStepOnly()
    assert first.supports_masking
    expected = np.zeros(x.shape, bool)
    expected[:, 0] = True
    np.testing.assert_array_equal(first(h)._keras_mask.numpy(), expected)
    assert getattr(peek(np.ones((2, 3), np.float32)), "_keras_mask", None) is None
    assert seen[-1] is None


def test_merge_layers_combine_masks():
    x1, x2 = padded(4, seed=1), padded(4, seed=2)
    embed = layers.Embedding(VOCAB, 3, mask_zero=True)
    a, b = embed(x1), embed(x2)
    plain = cr.ones((4, STEPS, 3))
    either = (x1 != 0) | (x2 != 0)
    for layer in (layers.Add(), layers.Multiply(), layers.Average(), layers.Maximum(),
                  layers.Minimum(), layers.Subtract()):
        np.testing.assert_array_equal(layer([a, b])._keras_mask.numpy(), either)
        assert getattr(layer([a, plain]), "_keras_mask", None) is None
    # Maximum leaves a masked step out of the comparison (Keras's rule)
    big = cr.constant(np.full((4, STEPS, 3), 1e3, np.float32))
    big._keras_mask = cr.constant(np.zeros((4, STEPS), bool))
    np.testing.assert_array_equal(layers.Maximum()([a, big]).numpy(), a.numpy())
    joined = layers.Concatenate(axis=1)([a, plain])
    np.testing.assert_array_equal(joined._keras_mask.numpy(),
                                  np.concatenate([x1 != 0, np.ones((4, STEPS), bool)], 1))
    np.testing.assert_array_equal(layers.Concatenate()([a, b])._keras_mask.numpy(), either)


def test_symbolic_tensors_carry_mask_specs():
    words = keras.Input((None,), dtype="int32")
    h = layers.Embedding(VOCAB, 4, mask_zero=True)(words)
    assert h._keras_mask.shape == (None, None) and h._keras_mask.dtype == bool
    d = layers.Dense(3)(h)
    assert d._keras_mask.shape == (None, None)
    pooled = layers.GlobalAveragePooling1D()(d)
    assert pooled._keras_mask is None
    fixed = layers.Embedding(VOCAB, 4, mask_zero=True)(keras.Input((7,), dtype="int32"))
    assert fixed._keras_mask.shape == (None, 7)
    model = keras.Model(words, d)
    x = padded(3)
    np.testing.assert_array_equal(model(x)._keras_mask.numpy(), x != 0)


def test_models_take_a_mask_argument():
    values = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[True, True, False, False], [True, False, False, False]])
    expected = (values * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    sequential = keras.Sequential([layers.GlobalAveragePooling1D()])
    np.testing.assert_allclose(sequential(values, mask=mask).numpy(), expected, rtol=1e-6)
    steps = keras.Input((4, 3))
    functional = keras.Model(steps, layers.GlobalAveragePooling1D()(steps))
    tensor = cr.constant(values)
    np.testing.assert_allclose(functional(tensor, mask=mask).numpy(), expected, rtol=1e-6)
    assert getattr(tensor, "_keras_mask", None) is None  # the caller's tensor is left alone


def test_losses_and_metrics_read_the_mask_of_y_pred():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1, (3, 4, 5)).astype(np.float32)
    p /= p.sum(-1, keepdims=True)
    y = rng.integers(0, 5, (3, 4))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]], bool)
    y_pred = cr.constant(p)
    y_pred._keras_mask = cr.constant(mask)
    per_step = losses.sparse_categorical_crossentropy(y, p).numpy()
    loss = losses.SparseCategoricalCrossentropy()
    assert float(loss(y, y_pred)) == pytest.approx(per_step[mask].mean(), rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy(reduction="sum")(y, y_pred)) == \
        pytest.approx(per_step[mask].sum(), rel=1e-6)
    w = rng.uniform(0.5, 2, 3).astype(np.float32)  # one weight per sample, every step
    assert float(loss(y, y_pred, w)) == pytest.approx(
        (per_step * w[:, None])[mask].sum() / mask.sum(), rel=1e-6)
    accuracy = metrics.SparseCategoricalAccuracy()
    accuracy.update_state(y, y_pred)
    hits = p.argmax(-1) == y
    assert float(accuracy.result()) == pytest.approx(hits[mask].mean(), rel=1e-6)
    nothing_kept = cr.constant(p)
    nothing_kept._keras_mask = cr.constant(np.zeros((3, 4), bool))
    assert float(loss(y, nothing_kept)) == 0.0
    wrong = cr.constant(p)
    wrong._keras_mask = cr.constant(mask[:, :3])
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: the mask of "
                                         r"y_pred has shape \(3, 3\), which does not match "
                                         r"the per-sample losses of shape \(3, 4\)"):
        loss(y, wrong)


def test_saved_model_keeps_the_mask(tmp_path):
    keras.utils.set_random_seed(0)
    model = tagger()
    x = padded(5)
    model.save(tmp_path / "tagger.keras")
    loaded = keras.models.load_model(tmp_path / "tagger.keras")
    assert loaded.get_layer("embed").mask_zero is True
    out = loaded(x)
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    np.testing.assert_array_equal(out._keras_mask.numpy(), x != 0)


def test_summary_is_the_same_with_and_without_the_mask():
    def summary(mask_zero):
        keras.utils.clear_session()
        model = keras.Sequential([keras.Input((STEPS,), dtype="int32"),
                                  layers.Embedding(VOCAB, 4, mask_zero=mask_zero),
                                  layers.GlobalAveragePooling1D(), layers.Dense(2)],
                                 name="m")
        lines = []
        model.summary(print_fn=lines.append)
        return lines

    assert summary(True) == summary(False)


def test_bad_masks_get_clear_errors():
    x = padded(3)
    h = layers.Embedding(VOCAB, 4, mask_zero=True)(x)
    with pytest.raises(ValueError, match=r"layer 'joined' \(Add\): the masks must be a list "
                                         r"with one entry \(or None\) per input"):
        layers.Add(name="joined")([h, h], mask=[x != 0])
    with pytest.raises(ValueError, match=r"BatchNormalization 'norm': the mask must have one "
                                         r"axis fewer than the inputs.*mask of shape \(3, 10, "
                                         r"4\) for inputs of shape \(3, 10, 4\)"):
        layers.BatchNormalization(name="norm")(h, training=True, mask=np.ones((3, 10, 4), bool))


def test_batch_normalization_trains_on_the_kept_steps_only():
    """Masked steps change neither the batch statistics nor the gradient of the loss."""
    x = padded(6)
    keras.utils.set_random_seed(2)
    embed = layers.Embedding(VOCAB, 4, mask_zero=True)
    norm = layers.BatchNormalization(momentum=0.0)
    h = embed(x)
    norm(h, training=True)
    kept = h.numpy()[x != 0]
    np.testing.assert_allclose(norm.moving_mean.numpy(), kept.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.moving_variance.numpy(), kept.var(0), rtol=1e-4)
