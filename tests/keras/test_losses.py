"""Each loss against its formula in float64 NumPy, including its gradient (central
differences), Keras's clipping rule, and the reductions of the class forms."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import losses

from ._helpers import numeric_gradient, tape_gradient

EPS = 1e-7
rng = np.random.default_rng(0)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_sparse_cce(labels, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(p[np.arange(len(labels)), labels])


def ref_cce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -(y * np.log(p)).sum(-1)


def ref_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


def ref_bce_logits(y, z):
    return (np.logaddexp(0, z) - z * y).mean(-1)


LABELS = rng.integers(0, 5, 6)
ONE_HOT = np.eye(5)[LABELS]
PROBS = softmax(rng.normal(0, 1, (6, 5)))
LOGITS = rng.normal(0, 2, (6, 5))
BINARY = rng.integers(0, 2, (6, 3)).astype(np.float64)
BINARY_P = rng.uniform(0.05, 0.95, (6, 3))
TARGETS = rng.normal(0, 1, (6, 3))
PREDS = rng.normal(0, 1, (6, 3))

CASES = [
    # name, our function of y_pred (float64 Tensor) -> per-sample, reference of y_pred array, y_pred
    ("sparse_cce", lambda p: losses.sparse_categorical_crossentropy(LABELS, p),
     lambda p: ref_sparse_cce(LABELS, p), PROBS),
    ("sparse_cce_logits", lambda z: losses.sparse_categorical_crossentropy(LABELS, z, from_logits=True),
     lambda z: -np.log(softmax(z)[np.arange(6), LABELS]), LOGITS),
    ("cce", lambda p: losses.categorical_crossentropy(ONE_HOT, p),
     lambda p: ref_cce(ONE_HOT, p), PROBS),
    ("cce_logits", lambda z: losses.categorical_crossentropy(ONE_HOT, z, from_logits=True),
     lambda z: -(ONE_HOT * np.log(softmax(z))).sum(-1), LOGITS),
    ("bce", lambda p: losses.binary_crossentropy(BINARY, p),
     lambda p: ref_bce(BINARY, p), BINARY_P),
    ("bce_logits", lambda z: losses.binary_crossentropy(BINARY, z, from_logits=True),
     lambda z: ref_bce_logits(BINARY, z), LOGITS[:, :3]),
    ("mse", lambda p: losses.mean_squared_error(TARGETS, p),
     lambda p: ((p - TARGETS) ** 2).mean(-1), PREDS),
    ("mae", lambda p: losses.mean_absolute_error(TARGETS, p),
     lambda p: np.abs(p - TARGETS).mean(-1), PREDS),
]


@pytest.mark.parametrize("name,ours,ref,y_pred", CASES, ids=[c[0] for c in CASES])
def test_value_matches_formula(name, ours, ref, y_pred):
    np.testing.assert_allclose(ours(cr.constant(y_pred)).numpy(), ref(y_pred), rtol=1e-10)
    # float32 too (the training dtype), to float32 precision
    got = ours(cr.constant(y_pred.astype(np.float32)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), ref(y_pred), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name,ours,ref,y_pred", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(name, ours, ref, y_pred):
    # A random projection of the per-sample losses, so every output's gradient counts.
    weights = rng.uniform(0.5, 1.5, len(y_pred))
    analytic = tape_gradient(lambda v: cr.reduce_sum(ours(v) * weights), y_pred)
    numeric = numeric_gradient(lambda a: float((ref(a) * weights).sum()), y_pred)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_probabilities_are_renormalised_then_clipped():
    p = np.array([[0.0, 2.0], [1e-12, 1.0]])  # rows do not sum to 1; tiny entries
    got = losses.sparse_categorical_crossentropy(np.array([0, 0]), cr.constant(p)).numpy()
    np.testing.assert_allclose(got, [-np.log(EPS), -np.log(EPS)], rtol=1e-12)
    assert got[0] == pytest.approx(16.118, abs=1e-3)  # the per-sample cap


def test_gradient_is_zero_where_clipped():
    p = np.array([[1e-9, 1 - 1e-9], [0.3, 0.7]])
    grad = tape_gradient(
        lambda v: cr.reduce_sum(losses.sparse_categorical_crossentropy(np.array([0, 0]), v)), p)
    np.testing.assert_array_equal(grad[0], [0.0, 0.0])
    assert np.all(grad[1] != 0)


def test_label_forms_uint8_and_trailing_axis():
    p = cr.constant(PROBS.astype(np.float32))
    a = losses.sparse_categorical_crossentropy(LABELS.astype(np.uint8), p).numpy()
    b = losses.sparse_categorical_crossentropy(LABELS.reshape(-1, 1), p).numpy()
    c = losses.sparse_categorical_crossentropy(LABELS.astype(np.float32), p).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_regression_targets_broadcast_like_keras():
    y = np.array([1.0, 2.0, 3.0])
    p = cr.constant(np.array([[1.5], [2.0], [2.0]], np.float32))
    np.testing.assert_allclose(losses.mse(y, p).numpy(), [0.25, 0.0, 1.0])
    np.testing.assert_allclose(losses.mae(y, p).numpy(), [0.5, 0.0, 1.0])


def test_class_forms_reduce_over_the_batch():
    p = cr.constant(PROBS.astype(np.float32))
    per_sample = losses.sparse_categorical_crossentropy(LABELS, p).numpy()
    assert float(losses.SparseCategoricalCrossentropy()(LABELS, p)) == pytest.approx(per_sample.mean(), rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy(reduction="sum")(LABELS, p)) == \
        pytest.approx(per_sample.sum(), rel=1e-6)
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(reduction=None)(LABELS, p).numpy(),
                               per_sample)
    weights = np.array([1, 0, 1, 0, 1, 0], np.float32)
    assert float(losses.SparseCategoricalCrossentropy()(LABELS, p, sample_weight=weights)) == \
        pytest.approx((per_sample * weights).sum() / 6, rel=1e-6)
    assert float(losses.MeanSquaredError()(TARGETS, cr.constant(PREDS))) == \
        pytest.approx(((PREDS - TARGETS) ** 2).mean())
    assert losses.BinaryCrossentropy(from_logits=True).fn_kwargs["from_logits"] is True
    assert losses.CategoricalCrossentropy(True).fn_kwargs["from_logits"] is True


def test_label_smoothing():
    y = ONE_HOT
    smoothed = y * 0.9 + 0.1 / 5
    got = losses.categorical_crossentropy(y, cr.constant(PROBS), label_smoothing=0.1).numpy()
    np.testing.assert_allclose(got, ref_cce(smoothed, PROBS), rtol=1e-10)


def test_get_resolves_names_and_classes():
    assert losses.get("sparse_categorical_crossentropy") is losses.sparse_categorical_crossentropy
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("mae") is losses.mean_absolute_error
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    with pytest.raises(ValueError) as e:
        losses.get("sparse_categorical_crosentropy")
    message = str(e.value)
    assert "Unknown loss" in message and "Did you mean 'sparse_categorical_crossentropy'" in message
    assert "'binary_crossentropy'" in message and "'mse'" in message


def test_losses_read_the_logits_of_a_softmax_output():
    logits = cr.constant(rng.normal(0, 3, (64, 10)).astype(np.float32))
    labels = rng.integers(0, 10, 64)
    probs = keras.activations.softmax(logits)
    assert keras.activations.logits_of(probs) is logits
    assert keras.activations.logits_of(cr.nn.softmax(logits)) is None
    for loss in (losses.SparseCategoricalCrossentropy(),
                 losses.LossFunctionWrapper(losses.sparse_categorical_crossentropy)):
        np.testing.assert_array_equal(
            loss(labels, probs).numpy(),
            losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).numpy())
    onehot = np.eye(10, dtype=np.float32)[labels]
    np.testing.assert_array_equal(
        losses.categorical_crossentropy(onehot, probs).numpy(),
        losses.categorical_crossentropy(onehot, logits, from_logits=True).numpy())
    # Losses on probabilities that are not a softmax's output take the clipped formula.
    np.testing.assert_array_equal(losses.mean_squared_error(onehot, probs).numpy(),
                                  losses.mean_squared_error(onehot, cr.nn.softmax(logits)).numpy())


def test_logits_path_equals_clipped_formula_where_unclipped():
    logits = rng.normal(0, 3, (64, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    fused = losses.SparseCategoricalCrossentropy()(labels, keras.activations.softmax(cr.constant(logits)))
    clipped = losses.SparseCategoricalCrossentropy()(labels, cr.constant(softmax(logits.astype(np.float64))))
    assert float(fused) == pytest.approx(float(clipped), rel=1e-6)


def test_shape_errors_name_the_loss():
    with pytest.raises(ValueError, match=r"categorical_crossentropy: y_true of shape \(6,\) and "
                                         r"y_pred of shape \(6, 5\).*sparse_categorical_crossentropy"):
        losses.categorical_crossentropy(LABELS, cr.constant(PROBS))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: y_true of shape \(5,\)"):
        losses.sparse_categorical_crossentropy(LABELS[:5], cr.constant(PROBS))


def test_label_out_of_range():
    with pytest.raises(ValueError) as e:
        losses.sparse_categorical_crossentropy(np.array([0, 5, 1, 2, 3, 4]), cr.constant(PROBS))
    message = str(e.value)
    assert "label 5 is out of range" in message and "5 classes" in message
    assert "[0, 4]" in message and "(6, 5)" in message
    with pytest.raises(ValueError, match="label -1 is out of range"):
        losses.sparse_categorical_crossentropy(np.array([-1, 0, 1, 2, 3, 4]), cr.constant(LOGITS),
                                               from_logits=True)
