"""Every activation Keras names: by name, as a function of ``keras.activations`` (and of
``tf.nn`` where TensorFlow has it), with Keras's formulas (checked against NumPy written
plainly), gradients that match finite differences in float64, compiled steps equal to eager
ones bit for bit, and the activation layers."""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import activations, layers
from chainrule.primitives import kernels
from chainrule.testing import KinkWarning, check_grads

from ._helpers import blobs


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


def _erf(x):
    return np.vectorize(math.erf)(x)


_ALPHA, _SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> the formula from Keras's documentation, in NumPy, float64.
REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "relu6": lambda x: np.clip(x, 0, 6),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: _SCALE * np.where(x > 0, x, _ALPHA * (np.exp(x) - 1)),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "softplus": _softplus,
    "softsign": lambda x: x / (np.abs(x) + 1),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "tanh": np.tanh,
    "tanh_shrink": lambda x: x - np.tanh(x),
    "sigmoid": _sigmoid,
    "log_sigmoid": lambda x: np.log(_sigmoid(x)),
    "exponential": np.exp,
    "hard_sigmoid": lambda x: np.where(x <= -3, 0, np.where(x >= 3, 1, x / 6 + 0.5)),
    "hard_silu": lambda x: np.where(x < -3, 0, np.where(x > 3, x, x * (x + 3) / 6)),
    "hard_swish": lambda x: np.where(x < -3, 0, np.where(x > 3, x, x * (x + 3) / 6)),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "log_softmax": lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)),
    "glu": lambda x: x[..., :2] * _sigmoid(x[..., 2:]),
    "linear": lambda x: x,
}
NAMES = sorted(REFERENCE)
# Where each one switches branch (finite differences must stay clear of these points).
KINKS = {"relu": [0], "leaky_relu": [0], "relu6": [0, 6], "elu": [0], "selu": [0],
         "celu": [0], "hard_sigmoid": [-3, 3], "hard_silu": [-3, 3], "hard_swish": [-3, 3],
         "hard_tanh": [-1, 1], "hard_shrink": [-0.5, 0.5], "soft_shrink": [-0.5, 0.5],
         "sparse_plus": [-1, 1], "sparse_sigmoid": [-1, 1], "softsign": [0]}


def points(name, shape=(3, 4), seed=0):
    """float64 inputs over [-7, 7], at least 0.05 away from the activation's kinks."""
    x = np.random.default_rng(seed).uniform(-7, 7, shape)
    for k in KINKS.get(name, ()):
        x = np.where(np.abs(x - k) < 0.05, k + 0.3, x)
    return x


def test_every_keras_activation_resolves_by_name():
    for name in NAMES:
        fn = activations.get(name)
        assert fn is getattr(activations, name)
        assert activations.get(name.upper()) is fn  # names in any case, as Keras
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.get("swish")) == "silu"
    with pytest.raises(ValueError, match="Did you mean 'elu'"):
        activations.get("eluu")


@pytest.mark.parametrize("name", NAMES)
def test_values_are_keras_formulas(name):
    x = points(name)
    got = activations.get(name)(cr.constant(x)).numpy()
    np.testing.assert_allclose(got, REFERENCE[name](x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name):
    check_grads(activations.get(name), points(name, (2, 4), seed=1))


@pytest.mark.parametrize("name", ["silu", "mish", "gelu", "selu", "softsign", "hard_silu"])
def test_second_derivatives(name):
    check_grads(activations.get(name), points(name, (2, 3), seed=2), order=2)


def test_the_arguments_and_defaults_of_keras():
    x = np.linspace(-5, 5, 11)
    t = cr.constant(x)
    np.testing.assert_allclose(activations.leaky_relu(t, negative_slope=0.5).numpy(),
                               np.where(x > 0, x, 0.5 * x))
    np.testing.assert_allclose(activations.elu(t, alpha=2.0).numpy(),
                               np.where(x > 0, x, 2 * np.expm1(x)))
    approx = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(activations.gelu(t, approximate=True).numpy(), approx,
                               rtol=1e-12)
    assert not np.allclose(activations.gelu(t).numpy(), approx, rtol=1e-6)  # exact by default
    np.testing.assert_allclose(activations.softmax(cr.constant(x.reshape(1, -1)), axis=0),
                               np.ones((1, 11)))
    # relu with Keras's options, the examples of its documentation
    x = cr.constant([-10.0, -5.0, 0.0, 5.0, 10.0])
    np.testing.assert_array_equal(activations.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(activations.relu(x, threshold=5.0), [0, 0, 0, 0, 10])
    np.testing.assert_array_equal(activations.relu(x, negative_slope=0.5, max_value=6.0,
                                                   threshold=2.0), [-6, -3.5, -1, 5, 6])


def test_tf_nn_has_tensorflows_names():
    x = cr.constant(points("selu"))
    for name in ["relu", "relu6", "elu", "selu", "gelu", "silu", "swish", "softplus",
                 "softsign", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
                 "log_sigmoid"]:
        np.testing.assert_allclose(getattr(cr.nn, name)(x).numpy(),
                                   (REFERENCE.get(name) or REFERENCE["leaky_relu"])(x.numpy()),
                                   rtol=1e-12, atol=1e-15)


def test_kinks_are_reported_by_the_table():
    """At a switching point the gradient check warns (the table's kink) instead of failing."""
    for name, at in [("relu6", 6.0), ("leaky_relu", 0.0), ("hard_sigmoid", 3.0)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = check_grads(activations.get(name), np.array([at, 1.0]))
        assert report.kinks and any(issubclass(w.category, KinkWarning) for w in caught), name


def model_with(name):
    return keras.Sequential([layers.Dense(8, activation=name),
                             layers.Dense(3, activation="softmax")])


def fit(name, jit):
    x, y = blobs(200)
    x = x / 3  # inputs on both sides of every kink
    keras.utils.set_random_seed(0)
    model = model_with(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a step that falls back to eager warns
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    return history.history["loss"], [w.numpy() for w in model.weights], model.predict(x, verbose=0)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "glu"])
def test_compiled_steps_equal_eager_ones(name):
    eager, compiled = fit(name, False), fit(name, True)
    assert eager[0] == compiled[0]
    for a, b in zip(eager[1], compiled[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(eager[2], compiled[2])


def test_compiled_steps_fuse_the_element_wise_parts():
    """hard_silu is all one-element ops (add, relu, minimum, divide, multiply): the compiled
    step runs them, with the bias add before them, in fused loops, as it does relu."""
    pytest.importorskip("numba")
    previous = kernels.use("numba")
    try:
        x, y = blobs(200)
        model = model_with("hard_silu")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    finally:
        kernels.use(previous)
    traced = next(iter(model._jit._functions["_measured_gradient_step"]._traces.values()))
    program = traced._compiled.program
    fused = {op.prim.name for loop in program.ops if loop.prim.name == "loop"
             for op in loop.prim.members}
    assert {"add", "relu", "minimum", "divide", "multiply"} <= fused, program.listing()
    outside = {op.prim.name for op in program.ops if op.prim.name != "loop"}
    assert not {"relu", "minimum", "divide"} & outside, program.listing()


@pytest.mark.parametrize("layer, expected", [
    (layers.ReLU(), lambda x: np.maximum(x, 0)),
    (layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0),
     lambda x: np.where(x > 1, np.minimum(x, 6), 0) - 0.1 * np.maximum(1 - x, 0)),
    (layers.LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x)),
    (layers.LeakyReLU(alpha=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (layers.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (layers.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    (layers.PReLU(alpha_initializer="ones"), lambda x: x),
])
def test_activation_layers(layer, expected):
    x = np.linspace(-8, 8, 24).reshape(2, 3, 4).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(), expected(x.astype(np.float64)), rtol=1e-6,
                               atol=1e-6)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == {**layer.get_config(), "name": clone.name}


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1)


def test_prelu_learns_its_slopes_and_shares_axes():
    layer = layers.PReLU(shared_axes=[1, 2])
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    layer(x)
    assert layer.alpha.shape == (1, 1, 3)
    x = cr.constant(x)
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(layer(x))
    grad = tape.gradient(y, layer.alpha).numpy()
    np.testing.assert_allclose(grad.ravel(), np.minimum(x.numpy(), 0).sum((0, 1, 2)), rtol=1e-5)


def test_softmax_layer_masks():
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    out = layers.Softmax()(x, mask=np.array([[True, False, True]])).numpy()
    np.testing.assert_allclose(out, [[1 / (1 + np.e ** 2), 0, np.e ** 2 / (1 + np.e ** 2)]],
                               rtol=1e-6)


def test_models_with_activation_layers_save_and_load(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(6), layers.PReLU(),
                              layers.LeakyReLU(0.1), layers.Dense(5),
                              layers.ReLU(max_value=6.0), layers.ELU(), layers.Dense(3),
                              layers.Softmax(), layers.Activation("hard_swish")])
    x = blobs(10)[0]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == \
        [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("name, dead", [("relu6", True), ("hard_sigmoid", True),
                                        ("hard_silu", True), ("leaky_relu", False),
                                        ("elu", False)])
def test_diagnostics_count_dead_units_where_they_apply(name, dead):
    """relu6, hard_sigmoid and hard_silu are made of relu, whose table entry says its units
    die: units pushed below every input are counted dead; leaky_relu's and elu's never are."""
    x, y = blobs(64)
    model = keras.Sequential([
        layers.Dense(4, activation=name, bias_initializer=keras.initializers.Constant(-100.0)),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=1, diagnostics=True, verbose=0)
    first = model.layers[0].name
    if dead:
        assert history.diagnostics["dead_relu"][first] == [1.0, 1.0]
    else:
        assert first not in history.diagnostics["dead_relu"]
