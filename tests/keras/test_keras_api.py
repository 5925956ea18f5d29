"""The losses, constraints and optimizers of issue 22 against Keras 3's own values
(fixtures/keras_api.json, written by fixtures/make_keras_api.py with real Keras), plus their
gradients against finite differences, configs and names."""

import json
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import constraints, losses, optimizers
from chainrule.keras.keras_files import KERAS_SLOTS
from chainrule.testing import check_grads

with open(os.path.join(os.path.dirname(__file__), "fixtures", "keras_api.json")) as _f:
    FIXTURE = json.load(_f)
LOSSES = FIXTURE["losses"]
CONSTRAINTS = FIXTURE["constraints"]
OPTIMIZERS = {k: v for k, v in FIXTURE["optimizers"].items() if k not in ("start", "grads")}


def f32(x):
    return np.asarray(x, np.float32)


# -- losses ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_matches_keras(case):
    c = LOSSES[case]
    cls = getattr(losses, c["class"])
    y_true, y_pred, w = f32(c["y_true"]), cr.constant(f32(c["y_pred"])), f32(c["sample_weight"])
    got = cls(**c["kwargs"], reduction="none")(y_true, y_pred)
    assert got.dtype == np.float32 and got.shape == (len(w),)
    np.testing.assert_allclose(got.numpy(), c["none"], rtol=2e-6, atol=2e-7)
    for reduction in ("sum", "sum_over_batch_size", "mean_with_sample_weight"):
        value = cls(**c["kwargs"], reduction=reduction)(y_true, y_pred, sample_weight=w)
        np.testing.assert_allclose(float(value), c[reduction], rtol=2e-6, err_msg=reduction)


@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_function_and_names(case):
    c = LOSSES[case]
    cls = getattr(losses, c["class"])
    instance = cls(**c["kwargs"])
    fn = losses.get(instance.fn.__name__)
    assert fn is instance.fn
    y_true, y_pred = f32(c["y_true"]), cr.constant(f32(c["y_pred"]))
    np.testing.assert_array_equal(fn(y_true, y_pred, **c["kwargs"]).numpy(),
                                  instance.call(y_true, y_pred).numpy())
    # Keras's config (name, reduction, arguments) and back, through serialize/deserialize
    keras_config = c["config"]["config"]
    ours = instance.get_config()
    assert {k: ours[k] for k in keras_config} == keras_config
    again = losses.deserialize(losses.serialize(instance))
    assert type(again) is cls and again.get_config() == ours
    assert losses.deserialize({"class_name": c["class"], "config": keras_config}).name == \
        keras_config["name"]
    assert losses.serialize(fn) == fn.__name__ and losses.deserialize(fn.__name__) is fn


@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_gradient_matches_finite_differences(case):
    c = LOSSES[case]
    cls = getattr(losses, c["class"])
    loss = cls(**c["kwargs"], reduction="none")
    y_true = np.asarray(c["y_true"])
    weights = np.linspace(0.5, 1.5, len(y_true))
    check_grads(lambda p: cr.reduce_sum(loss(y_true, p) * weights),
                np.asarray(c["y_pred"], np.float64))


def test_loss_aliases_and_errors():
    assert losses.get("msle") is losses.mean_squared_logarithmic_error
    assert losses.get("kld") is losses.kl_divergence and losses.logcosh is losses.log_cosh
    assert isinstance(losses.get("Huber"), losses.Huber) and losses.Huber().name == "huber_loss"
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.Hinge(reduction="average")
    with pytest.raises(ValueError, match="categorical_focal_crossentropy.*same shape"):
        losses.categorical_focal_crossentropy(np.zeros((2, 3)), cr.ones((2, 4)))
    # zero weights: mean_with_sample_weight is 0, not NaN
    zero = losses.Poisson(reduction="mean_with_sample_weight")(
        np.ones((2, 1)), cr.ones((2, 1)), sample_weight=np.zeros(2))
    assert float(zero) == 0.0


def test_hinge_converts_labels_per_batch_in_a_compiled_step():
    # {0, 1} labels become {-1, 1}; labels already in {-1, 1} stay: decided on each batch's
    # values, also when the step is compiled
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y01 = (x[:, :1] > 0).astype(np.float32)
    for y in (y01, y01 * 2 - 1):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "hinge", jit_compile=True)
        first = model.evaluate(x, y01, verbose=0, batch_size=8)
        second = model.evaluate(x, y, verbose=0, batch_size=8)
        expected = float(losses.Hinge()(y01, model(x)))
        assert first == pytest.approx(expected, rel=1e-6)
        assert second == pytest.approx(expected, rel=1e-6)


# -- constraints --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CONSTRAINTS))
def test_constraint_matches_keras(case):
    c = CONSTRAINTS[case]
    constraint = getattr(constraints, c["class"])(**c["kwargs"])
    got = constraint(cr.constant(f32(c["w"])))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), c["out"], rtol=2e-6, atol=1e-7)
    keras_config = c["config"]["config"]
    assert constraint.get_config() == keras_config
    again = constraints.deserialize(constraints.serialize(constraint))
    assert type(again) is type(constraint) and again.get_config() == keras_config
    assert constraints.get({"class_name": c["class"], "config": keras_config}).get_config() == \
        keras_config


def test_constraint_names():
    assert constraints.max_norm is constraints.MaxNorm
    for name, cls in [("max_norm", constraints.MaxNorm), ("MinMaxNorm", constraints.MinMaxNorm),
                      ("non_neg", constraints.NonNeg), ("unit_norm", constraints.UnitNorm)]:
        assert type(constraints.get(name)) is cls
    assert constraints.get(None) is None
    with pytest.raises(ValueError, match="Did you mean 'max_norm'"):
        constraints.get("max_nrom")


def _constrained_model():
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="relu", kernel_constraint=constraints.MaxNorm(0.5)),
        keras.layers.Dense(3, kernel_constraint="non_neg",
                           bias_constraint=constraints.MinMaxNorm(1.0, 2.0))])


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "nadam"])
def test_constraints_hold_after_each_step_eager_and_compiled_alike(optimizer):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 5)).astype(np.float32), rng.normal(size=(64, 3)).astype(np.float32)
    runs = []
    for jit in (False, True):
        keras.utils.set_random_seed(3)
        model = _constrained_model()
        model.compile(optimizer, "mse", jit_compile=jit)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        runs.append(model.get_weights())
    for eager, compiled in zip(*runs):
        np.testing.assert_array_equal(eager, compiled)
    k1, _, k2, b2 = runs[0]
    assert np.all(np.linalg.norm(k1, axis=0) <= 0.5 + 1e-6)
    assert k2.min() >= 0 and 1.0 - 1e-6 <= np.linalg.norm(b2) <= 2.0 + 1e-6


def test_constraint_applied_after_the_update_as_keras():
    w = cr.Variable(np.array([[3.0, 0.1], [4.0, -0.2]], np.float32),
                    constraint=constraints.MaxNorm(1.0))
    optimizers.SGD(0.5).apply_gradients([(cr.constant(np.ones((2, 2), np.float32)), w)])
    stepped = np.array([[2.5, -0.4], [3.5, -0.7]], np.float32)
    norms = np.sqrt((stepped.astype(np.float64) ** 2).sum(0))
    expected = stepped * (np.minimum(norms, 1.0) / (norms + 1e-7))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)


def test_constraints_in_layer_configs_and_saved_files(tmp_path):
    keras.utils.set_random_seed(0)
    model = _constrained_model()
    model.compile("nadam", "mse")
    rng = np.random.default_rng(4)
    model.fit(rng.normal(size=(16, 5)).astype(np.float32),
              rng.normal(size=(16, 3)).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    config = model.layers[0].get_config()
    assert config["kernel_constraint"] == {"class_name": "MaxNorm",
                                           "config": {"max_value": 0.5, "axis": 0}}
    for suffix in ("keras", "chainrule"):
        path = str(tmp_path / f"m.{suffix}")
        model.save(path)
        loaded = keras.models.load_model(path)
        assert isinstance(loaded.layers[0].kernel.constraint, constraints.MaxNorm)
        assert loaded.layers[0].kernel_constraint.max_value == 0.5
        assert isinstance(loaded.layers[1].bias.constraint, constraints.MinMaxNorm)
        assert type(loaded.optimizer) is optimizers.Nadam
        for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- optimizers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_optimizer_matches_keras_step_by_step(case):
    c = OPTIMIZERS[case]
    opt = getattr(optimizers, c["class"])(**c["kwargs"])
    variables = [cr.Variable(f32(w)) for w in FIXTURE["optimizers"]["start"]]
    for step, (grads, expected) in enumerate(zip(FIXTURE["optimizers"]["grads"], c["steps"])):
        opt.apply_gradients(zip([cr.constant(f32(g)) for g in grads], variables))
        for v, e in zip(variables, expected):
            np.testing.assert_allclose(v.numpy(), e, rtol=2e-5, atol=2e-6,
                                       err_msg=f"{case}, step {step + 1}")
    # the state in Keras's order (as a .keras file holds it)
    ours = [v.numpy() for v in opt.variables[:2]]
    for group in KERAS_SLOTS[c["class"]]:
        ours += [opt.slot(v, n).numpy() for v in variables for n in group
                 if n in opt._slots[id(v)]]
    ours += [v.numpy() for v in getattr(opt, "_state_after_slots", ())]
    assert len(ours) == len(c["variables"]) == len(opt.variables)
    for a, b in zip(ours, c["variables"]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_optimizer_config_and_names(case):
    c = OPTIMIZERS[case]
    cls = getattr(optimizers, c["class"])
    opt = cls(**c["kwargs"])
    keras_config = c["config"]["config"]
    ours = opt.get_config()
    shared = {k: v for k, v in keras_config.items()
              if k in ours and k not in ("learning_rate", "name")}
    assert {k: ours[k] for k in shared} == shared
    assert ours["learning_rate"] == pytest.approx(keras_config["learning_rate"])
    assert not set(ours) - set(keras_config)  # every argument of ours is one of Keras's
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is cls and again.get_config() == ours
    assert type(optimizers.get(c["class"].lower())) is cls


def test_optimizer_defaults_follow_keras():
    assert optimizers.AdamW().weight_decay == 0.004
    assert (optimizers.Adadelta().rho, optimizers.Adadelta().epsilon) == (0.95, 1e-7)
    assert (optimizers.Lion().beta_1, optimizers.Lion().beta_2) == (0.9, 0.99)
    assert optimizers.Ftrl().learning_rate_power == -0.5
    with pytest.raises(ValueError, match="AdamW: weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="Ftrl: learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)


@pytest.mark.parametrize("name", ["adamw", "nadam", "adamax", "adadelta", "lion", "ftrl"])
def test_new_optimizers_compiled_equal_eager(name):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(48, 4)).astype(np.float32), rng.integers(0, 3, 48)
    runs = []
    for jit in (False, True):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(name, "sparse_categorical_crossentropy", jit_compile=jit)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        runs.append(model.get_weights() + [v.numpy() for v in model.optimizer.variables])
    for eager, compiled in zip(*runs):
        np.testing.assert_array_equal(eager, compiled)
    assert explained(name)


def explained(name):
    text = optimizers.get(name).explain()
    return type(optimizers.get(name)).__name__ in text and "w" in text


# -- metrics ------------------------------------------------------------------------------------

METRICS = FIXTURE["metrics"]


def _batch(values):
    y, p, w = values
    return f32(y), cr.constant(f32(p)), None if w is None else f32(w)


@pytest.mark.parametrize("case", sorted(METRICS))
def test_metric_matches_keras(case):
    c = METRICS[case]
    metric = getattr(keras.metrics, c["class"])(**c["kwargs"])
    for step, (batch, expected) in enumerate(zip(c["batches"], c["results"])):
        y, p, w = _batch(batch)
        metric.update_state(y, p, sample_weight=w)
        got = metric.result()
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{case}, batch {step + 1}")
    metric.reset_state()
    assert np.all(np.asarray(metric.result().numpy()) == 0) or c["class"] == "R2Score"


@pytest.mark.parametrize("case", sorted(METRICS))
def test_metric_config_round_trip(case):
    c = METRICS[case]
    cls = getattr(keras.metrics, c["class"])
    metric = cls(**c["kwargs"])
    keras_config = dict(c["config"]["config"])
    # Keras numbers a second metric of a name (auc_1); it saves a tensor as a dict
    keras_config["name"] = re.sub(r"_\d+$", "", keras_config["name"])
    if isinstance(keras_config.get("label_weights"), dict):
        keras_config["label_weights"] = keras_config["label_weights"]["config"]["value"]
    ours = metric.get_config()
    assert {k: ours[k] for k in keras_config if k in ours} == \
        {k: v for k, v in keras_config.items() if k in ours}
    missing = set(keras_config) - set(ours)
    assert not missing, missing
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(again) is cls and again.get_config() == ours
    made = keras.metrics.deserialize(c["config"])  # Keras's own serialized form
    assert type(made) is cls and made.name == c["config"]["config"]["name"]
    assert {**made.get_config(), "name": ours["name"]} == ours


@pytest.mark.parametrize("case", ["precision", "auc", "f1_macro", "r2", "sparse_top_k", "rmse",
                                  "precision_top_k", "auc_multi_label", "mean_iou"])
def test_metric_in_a_compiled_step_equals_eager(case):
    c = METRICS[case]
    results = []
    for jit in (False, True):
        metric = getattr(keras.metrics, c["class"])(**c["kwargs"])
        step = cr.function(lambda y, p, w: metric.update_state(y, p, sample_weight=w)) \
            if jit else metric.update_state
        for batch in c["batches"]:
            y, p, w = _batch(batch)
            if w is None:
                w = np.ones(len(y), np.float32)
            step(y, p, w)
        results.append(metric.result().numpy())
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("name,cls", [
    ("precision", "Precision"), ("recall", "Recall"), ("auc", "AUC"),
    ("true_positives", "TruePositives"), ("top_k_categorical_accuracy", "TopKCategoricalAccuracy"),
    ("root_mean_squared_error", "RootMeanSquaredError"), ("r2_score", "R2Score"),
    ("f1_score", "F1Score"), ("log_cosh_error", "LogCoshError"),
    ("msle", "MeanSquaredLogarithmicError"),
    ("bce", "BinaryCrossentropy"), ("categorical_crossentropy", "CategoricalCrossentropy"),
    ("binary_io_u", "BinaryIoU")])
def test_metric_names_compile_accepts(name, cls):
    metric = keras.metrics.get(name)
    assert type(metric) is getattr(keras.metrics, cls) and metric.name == name


def test_compile_with_metric_strings():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, :1] + 0.3 * rng.normal(size=(64, 1)) > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["precision", "recall", "auc"])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert {"precision", "recall", "auc"} <= set(history.history)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    expected = keras.metrics.AUC()
    expected.update_state(y, p)
    assert logs["auc"] == pytest.approx(float(expected.result()), abs=1e-6)
    tp = float(((p > 0.5) & (y > 0)).sum())
    assert logs["precision"] == pytest.approx(tp / float((p > 0.5).sum()), rel=1e-6)


def test_metric_argument_errors():
    with pytest.raises(ValueError, match="thresholds must be in"):
        keras.metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="AUC: curve"):
        keras.metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="F1Score: average"):
        keras.metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="ignore_class"):
        keras.metrics.SparseCategoricalCrossentropy(ignore_class=0)
    with pytest.raises(ValueError, match="R2Score expects 2-D"):
        keras.metrics.R2Score().update_state(np.zeros(3), np.zeros(3))
    assert keras.metrics.hinge is losses.hinge
    assert keras.metrics.deserialize("hinge") is losses.hinge
