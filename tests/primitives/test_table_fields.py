"""Every per-op fact is a field of the op's table entry: a primitive registered with
``defprimitive`` alone is known to the gradient checker (its kink), to training
diagnostics (its dead units) and to explanations of a None gradient, with no name list to
extend anywhere else."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers
from chainrule.primitives import Kink, Primitive, bind
from chainrule.primitives import table as P
from chainrule.testing import KinkWarning, check_grads


def threshold_forward(x):
    return np.where(x > 1, x, 0).astype(x.dtype)


def threshold_vjp(g, out, x):
    return (g * (x > 1),)


def _above_one(x):
    return x - 1


@pytest.fixture
def threshold():
    """A thresholded ReLU (``x`` above 1, else 0), known to the table only for the test."""
    prim = P.defprimitive("test_threshold", threshold_forward, vjp=threshold_vjp,
                          kink=Kink(_above_one, "its input is 1"), dead_when_zero=True)
    try:
        yield lambda x: bind(prim, (cr.convert_to_tensor(x),))
    finally:
        del P.PRIMITIVES["test_threshold"]


def test_fields_after_the_forward_are_keywords_only():
    with pytest.raises(TypeError):
        P.defprimitive("test_positional", np.negative, threshold_vjp)
    with pytest.raises(TypeError):
        Primitive("test_positional", np.negative, threshold_vjp)
    assert "test_positional" not in P.PRIMITIVES


def test_the_gradient_checker_reports_a_new_primitives_kink(threshold):
    with pytest.warns(KinkWarning, match=r"'test_threshold' .*the point where its input is 1"):
        report = check_grads(lambda x: threshold(x) * 2.0, np.array([1.0, 2.0, 0.5]))
    assert len(report.kinks) == 1 and "1 entry" in report.kinks[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinkWarning)  # away from the kink: a plain pass
        assert check_grads(lambda x: threshold(x) * 2.0, np.array([1.5, 2.0, 0.5])).kinks == []


def test_diagnostics_count_a_new_activations_dead_units(threshold):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 5)).astype("float32"), rng.integers(0, 3, 32)
    # Weights in [0, 0.01] keep every output below 1: all 8 units are dead.
    model = keras.Sequential([
        layers.Dense(8, activation=threshold, name="hidden",
                     kernel_initializer=keras.initializers.RandomUniform(0.0, 0.01)),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=1, diagnostics=True, verbose=0,
                        checks=False)
    assert history.diagnostics["dead_relu"] == {"hidden": [1.0, 1.0]}


def test_explanations_quote_a_new_primitives_cut_reason():
    def cut_vjp(g, out, x):
        return (None,)

    prim = P.defprimitive("test_cut", np.positive, vjp=cut_vjp,
                          cut_reason="`test_cut`, which forgets on purpose")
    try:
        v = cr.Variable([1.0, 2.0])
        with cr.GradientTape() as tape:
            y = cr.reduce_sum(bind(prim, (v,)))
        assert tape.gradient(y, v) is None
        assert "`test_cut`, which forgets on purpose" in tape.explain(y, v)
    finally:
        del P.PRIMITIVES["test_cut"]
