"""Models exported to ONNX run in onnxruntime with the outputs of ``predict`` (to 1e-5), at
batch sizes other than the one traced: the book's network, a functional model with two
inputs and two outputs, and a model with every activation chainrule has."""

import functools
import inspect

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.keras import layers
from chainrule.onnx import ExportError, TensorSpec, export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def served(path):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path))


def book_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(512, activation="relu"), layers.Dropout(0.5),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    images, labels = rng.random((512, 784), np.float32), rng.integers(0, 10, 512)
    model.fit(images, labels, epochs=1, batch_size=128, verbose=0)
    return model, images


def test_the_books_network(tmp_path):
    model, images = book_model()
    model.export(tmp_path / "book.onnx", format="onnx")
    session = served(tmp_path / "book.onnx")
    (feed,), (out,) = session.get_inputs(), session.get_outputs()
    assert (feed.name, feed.shape, out.shape) == ("inputs", ["batch", 784], ["batch", 10])
    for batch in (1, 7, 300):  # none of them the size traced
        (probabilities,) = session.run(None, {"inputs": images[:batch]})
        np.testing.assert_allclose(probabilities, model.predict(images[:batch], verbose=0),
                                   rtol=1e-5, atol=1e-5)
    ops = [node.op_type for node in onnx.load(str(tmp_path / "book.onnx")).graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Softmax"]  # Dropout is the identity here


def test_a_functional_model_with_two_inputs_and_two_outputs(tmp_path):
    keras.utils.set_random_seed(1)
    title = keras.Input(shape=(6,), name="title")
    body = keras.Input(shape=(4,), name="body")
    features = layers.Concatenate()([title, layers.Dense(5, activation="tanh")(body)])
    features = layers.Dropout(0.2)(layers.Dense(8, activation="relu")(features))
    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(3, activation="softmax", name="department")(
        layers.Add()([features, layers.Dense(8)(title)]))
    model = keras.Model(inputs=[title, body], outputs=[priority, department])
    path = tmp_path / "two.onnx"
    model.export(path, format="onnx")
    session = served(path)
    assert [i.name for i in session.get_inputs()] == ["title", "body"]
    assert [o.name for o in session.get_outputs()] == ["priority", "department"]
    rng = np.random.default_rng(2)
    data = {"title": rng.normal(size=(9, 6)).astype("float32"),
            "body": rng.normal(size=(9, 4)).astype("float32")}
    expected = model.predict(data, verbose=0)
    for got, want in zip(session.run(None, data), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# Keras's activations by name (from its registry, so a new one is exported too) and
# TensorFlow's tf.nn ones.
def _takes_one_tensor(name):
    """Whether ``activation=name`` works alone (Keras's ``threshold`` needs its arguments)."""
    parameters = inspect.signature(keras.activations.get(name)).parameters.values()
    return sum(p.default is p.empty and p.kind is not p.VAR_KEYWORD for p in parameters) == 1


ACTIVATIONS = sorted(filter(_takes_one_tensor, keras.activations.REGISTRY.names)) + [
    cr.nn.elu, cr.nn.selu, cr.nn.gelu, functools.partial(cr.nn.gelu, approximate=True),
    cr.nn.leaky_relu, cr.nn.relu6, cr.nn.silu, cr.nn.softsign, cr.nn.softplus,
    cr.nn.log_sigmoid, cr.nn.log_softmax]


def test_a_model_with_every_activation(tmp_path):
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(5,), name="x")
    outputs = [layers.Activation(a)(layers.Dense(4)(inputs)) for a in ACTIVATIONS]
    model = keras.Model(inputs, outputs)
    model.export(tmp_path / "all.onnx", format="onnx")
    session = served(tmp_path / "all.onnx")
    x = np.random.default_rng(4).normal(0, 3, (16, 5)).astype("float32")
    for activation, got, want in zip(ACTIVATIONS, session.run(None, {"x": x}),
                                     model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=str(activation))


def test_a_function_with_a_dynamic_dimension_and_a_graph():
    w = cr.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
    f = cr.function(lambda x: cr.reshape(cr.matmul(x, w), (-1,)))
    model = export(f, None, [TensorSpec((None, 3), "float32", "x")])
    session = ort.InferenceSession(model.SerializeToString())
    x = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], f(x).numpy())
    graph = f.get_graph(x)  # a graph has the shapes it was traced with
    (out,) = ort.InferenceSession(export(graph).SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(out, f(x).numpy())
    with pytest.raises(ExportError, match="fixed shapes"):
        export(graph, None, [TensorSpec((None, 3))])


def test_what_cannot_be_exported_says_why(tmp_path):
    with pytest.raises(ExportError, match="constant .* a mean over that dimension"):
        export(lambda x: cr.reduce_mean(x, axis=0), None, [TensorSpec((None, 3))])
    export(lambda x: cr.reduce_mean(x, axis=0), None, [TensorSpec((4, 3))])  # fixed: fine
    v = cr.Variable(np.zeros(3, np.float32))
    with pytest.raises(ExportError, match="changes a Variable"):
        export(lambda x: v.assign_add(x) * 1.0, None, [TensorSpec((3,))])
    with pytest.raises(ExportError, match="reads tensor values"):
        export(lambda x: x * float(cr.reduce_sum(x)), None, [TensorSpec((3,))])
    model = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="must be built"):
        model.export(tmp_path / "m.onnx", format="onnx")
    model.build((None, 3))
    with pytest.raises(ValueError, match="format='onnx'"):
        model.export(tmp_path / "m")
    assert not list(tmp_path.iterdir())


def test_a_tiny_constant_survives_onnxruntimes_optimizations():
    # onnxruntime would drop `x + 1e-100` as `x + 0` (see _escape_noop_elimination).
    f = lambda x: (x + 1e-100) - 1e-90  # noqa: E731
    model = export(f, None, [TensorSpec((2,), "float64", "x")])
    (got,) = ort.InferenceSession(model.SerializeToString()).run(None, {"x": np.zeros(2)})
    np.testing.assert_array_equal(got, f(cr.constant(np.zeros(2))).numpy())
    assert got[0] != 0
