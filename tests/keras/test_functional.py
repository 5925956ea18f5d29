"""The functional API (keras.Input, layer calls on symbolic tensors, keras.Model(inputs,
outputs)), checked against what Keras documents: KerasTensor shapes with a None batch
axis, model.layers starting with the InputLayers, layer.input/.output, feature reuse,
summary's "Connected to" column, plot_model, saving, and training compiled == eager."""

import doctest
import importlib

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import layers
from chainrule.keras.layers import KerasTensor


def ticket_data(n=240, vocab=60, num_tags=12, seed=0):
    """The book's ticket classifier data, small: multi-hot title/body words and tags;
    a priority in [0, 1] and one of 4 departments (one-hot)."""
    rng = np.random.default_rng(seed)
    x = {"title": rng.integers(0, 2, (n, vocab)).astype("float32"),
         "text_body": rng.integers(0, 2, (n, vocab)).astype("float32"),
         "tags": rng.integers(0, 2, (n, num_tags)).astype("float32")}
    # Targets that depend on the inputs, so training has something to learn.
    priority = (x["title"][:, :10].mean(1, keepdims=True) * 0.5 + x["tags"][:, :1] * 0.5)
    department = keras.utils.to_categorical(x["text_body"][:, :4].argmax(1), 4)
    return x, {"priority": priority.astype("float32"), "department": department}


def ticket_model(vocab=60, num_tags=12):
    """Two kinds of input (text-like, tag-like) concatenated; a regression head and a
    softmax head (Deep Learning with Python, chapter 7)."""
    title = keras.Input(shape=(vocab,), name="title")
    text_body = keras.Input(shape=(vocab,), name="text_body")
    tags = keras.Input(shape=(num_tags,), name="tags")
    features = layers.Concatenate()([title, text_body, tags])
    features = layers.Dense(16, activation="relu")(features)
    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(4, activation="softmax", name="department")(features)
    return keras.Model(inputs=[title, text_body, tags], outputs=[priority, department])


def compile_ticket_model(model, jit_compile):
    model.compile(optimizer="rmsprop",
                  loss=["mean_squared_error", "categorical_crossentropy"],
                  metrics=[["mean_absolute_error"], ["accuracy"]], jit_compile=jit_compile)


def test_input_is_a_symbolic_tensor():
    x = keras.Input(shape=(784,), name="pixels", dtype="float32")
    assert isinstance(x, KerasTensor)
    assert x.shape == (None, 784) and x.dtype == "float32" and x.name == "pixels"
    layer, node_index, tensor_index = x._keras_history
    assert isinstance(layer, layers.InputLayer) and (node_index, tensor_index) == (0, 0)
    assert keras.Input(shape=(3,), batch_size=8).shape == (8, 3)
    assert isinstance(x + 1, KerasTensor)  # an op on it records a node (test_op_layers)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(x)


def test_layer_calls_record_shapes_and_history():
    inputs = keras.Input(shape=(10,))
    dense = layers.Dense(4, activation="relu")
    out = dense(inputs)
    assert isinstance(out, KerasTensor) and out.shape == (None, 4)
    assert dense.built and dense.kernel.shape == (10, 4)  # built from the symbolic shape
    assert out._keras_history.layer is dense
    assert dense.input is inputs and dense.output is out
    merged = layers.Concatenate()([out, inputs])
    assert merged.shape == (None, 14)
    assert layers.Add()([out, out]).shape == (None, 4)
    with pytest.raises(ValueError, match="Concatenate.*match except along"):
        layers.Concatenate(axis=0)([out, inputs])
    with pytest.raises(ValueError, match="one shape"):
        layers.Add()([out, inputs])


def test_model_structure_as_keras_reports_it():
    keras.utils.clear_session()
    model = ticket_model()
    assert type(model).__name__ == "Functional" and model.name == "functional"
    assert [layer.name for layer in model.layers] == [
        "title", "text_body", "tags", "concatenate", "dense", "priority", "department"]
    assert model.output_names == ["priority", "department"]
    assert [t.name for t in model.inputs] == ["title", "text_body", "tags"]
    assert model.output_shape == [(None, 1), (None, 4)]
    # weights in layer order: dense, priority, department (kernel, bias each)
    assert [w.shape for w in model.weights] == [(132, 16), (16,), (16, 1), (1,), (16, 4), (4,)]
    assert model.layers[3].input == model.inputs  # the merge layer's list of inputs


def test_calling_with_lists_dicts_and_wrong_data():
    model = ticket_model()
    x, _ = ticket_data(8)
    as_list = model([x["title"], x["text_body"], x["tags"]])
    as_dict = model(x)
    for a, b in zip(as_list, as_dict):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert as_list[0].shape == (8, 1) and as_list[1].shape == (8, 4)
    with pytest.raises(ValueError, match=r"missing \['tags'\]"):
        model({"title": x["title"], "text_body": x["text_body"]})
    with pytest.raises(ValueError, match="expects shape \\(None, 60\\)"):
        model([x["title"][:, :5], x["text_body"], x["tags"]])


def test_multi_output_training_logs_and_evaluate_order():
    model = ticket_model()
    compile_ticket_model(model, jit_compile=False)
    x, y = ticket_data()
    history = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
    expected = ["department_accuracy", "department_loss", "loss", "priority_loss",
                "priority_mean_absolute_error"]
    assert list(history.history) == expected + [f"val_{k}" for k in expected]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    # The total is the sum of the two per-output losses (no loss_weights).
    assert logs["loss"] == pytest.approx(logs["priority_loss"] + logs["department_loss"],
                                         rel=1e-5)
    # Keras 3's list order: loss, the per-output losses, then the rest by name.
    values = model.evaluate(x, y, verbose=0)
    assert values == [logs[k] for k in ["loss", "priority_loss", "department_loss",
                                         "department_accuracy", "priority_mean_absolute_error"]]


def run_tickets(jit_compile, epochs=2):
    keras.utils.set_random_seed(1)
    model = ticket_model()
    compile_ticket_model(model, jit_compile)
    x, y = ticket_data()
    history = model.fit(x, y, epochs=epochs, batch_size=50, validation_data=(x, y), verbose=0)
    return model, history.history, model.predict(x, verbose=0), model.evaluate(x, y, verbose=0)


def test_functional_compiled_equals_eager_bit_for_bit():
    eager, jit = run_tickets(False), run_tickets(True)
    assert jit[0]._jit is not None and not jit[0]._jit.eager  # nothing fell back
    assert jit[0]._jit._functions["_measured_gradient_step"].tracing_count == 2  # 50s and the last 40
    assert eager[1] == jit[1] and eager[3] == jit[3]
    for a, b in zip(eager[2], jit[2]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(eager[0].weights, jit[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_ticket_model_learns_saves_loads_and_predicts_the_same(tmp_path):
    model, history, predictions, _ = run_tickets(True, epochs=8)
    assert history["loss"][-1] < history["loss"][0]
    assert history["department_accuracy"][-1] > 0.5  # 4 classes: chance is 0.25
    path = tmp_path / "tickets.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded).__name__ == "Functional"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.output_names == ["priority", "department"]
    x, y = ticket_data()
    for a, b in zip(predictions, loaded.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    # compiled again with the per-output losses and metrics, and the optimizer state
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == \
        model.evaluate(x, y, verbose=0, return_dict=True)
    loaded.fit(x, y, epochs=1, verbose=0)


def test_feature_reuse_shares_weights():
    model = ticket_model()
    x, _ = ticket_data(16)
    features = keras.Model(inputs=model.inputs, outputs=model.layers[4].output)
    assert features.layers[-1] is model.layers[4]
    assert all(a is b for a, b in zip(features.weights, model.weights[:2]))
    before = features.predict(x, verbose=0)
    compile_ticket_model(model, jit_compile=True)
    model.fit(x, ticket_data(16)[1], epochs=1, verbose=0)
    after = features.predict(x, verbose=0)
    assert before.shape == (16, 16) and not np.array_equal(before, after)  # trained with it
    # a new head on the shared features: only its own layer is new
    head = layers.Dense(3, activation="softmax", name="new_head")(features.output)
    extended = keras.Model(model.inputs, head)
    assert len(extended.weights) == 4 and extended.weights[0] is model.weights[0]


def test_intermediate_tensors_as_inputs():
    inputs = keras.Input(shape=(5,))
    hidden = layers.Dense(3, name="hidden")(inputs)
    out = layers.Dense(2, name="out")(hidden)
    tail = keras.Model(hidden, out)
    assert [layer.name for layer in tail.layers] == ["out"]
    np.testing.assert_allclose(tail(np.ones((2, 3), "float32")).numpy(),
                               np.ones((2, 3), "float32") @ tail.layers[0].kernel.numpy()
                               + tail.layers[0].bias.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(keras.Input(shape=(5,)), out)


def test_dict_inputs_and_outputs():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    joined = layers.Concatenate()([a, b])
    model = keras.Model(inputs={"a": a, "b": b},
                        outputs={"score": layers.Dense(1, name="s")(joined),
                                 "kind": layers.Dense(3, activation="softmax", name="k")(joined)})
    assert model.output_names == ["score", "kind"]
    model.compile(loss={"score": "mse", "kind": "sparse_categorical_crossentropy"},
                  loss_weights={"score": 2.0, "kind": 1.0},
                  metrics={"kind": ["accuracy"]}, jit_compile=False)
    rng = np.random.default_rng(0)
    x = {"a": rng.random((20, 3), dtype=np.float32), "b": rng.random((20, 2), dtype=np.float32)}
    y = {"score": rng.random((20, 1), dtype=np.float32), "kind": rng.integers(0, 3, 20)}
    history = model.fit(x, y, epochs=1, batch_size=20, verbose=0)
    assert sorted(history.history) == ["kind_accuracy", "kind_loss", "loss", "score_loss"]
    h = {k: v[0] for k, v in history.history.items()}
    assert h["loss"] == pytest.approx(2.0 * h["score_loss"] + h["kind_loss"], rel=1e-5)
    out = model.predict(x, verbose=0)
    assert set(out) == {"score", "kind"} and out["kind"].shape == (20, 3)


def test_merge_layers_compute_what_keras_documents():
    a = np.array([[1.0, 2.0]], "float32")
    b = np.array([[3.0, 5.0]], "float32")
    assert layers.Add()([a, b]).numpy().tolist() == [[4.0, 7.0]]
    assert layers.Subtract()([a, b]).numpy().tolist() == [[-2.0, -3.0]]
    assert layers.Multiply()([a, b]).numpy().tolist() == [[3.0, 10.0]]
    assert layers.Average()([a, b]).numpy().tolist() == [[2.0, 3.5]]
    assert layers.Maximum()([a, b]).numpy().tolist() == [[3.0, 5.0]]
    assert layers.Minimum()([a, b]).numpy().tolist() == [[1.0, 2.0]]
    assert layers.Concatenate()([a, b]).numpy().tolist() == [[1.0, 2.0, 3.0, 5.0]]
    assert layers.concatenate([a, b], axis=0).shape == (2, 2)
    with pytest.raises(ValueError, match="list of at least 2 inputs"):
        layers.Add()([a])


def test_summary_shows_connections():
    keras.utils.clear_session()
    model = ticket_model()
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    header = text.splitlines()[2]
    assert "Connected to" in header and "Param #" in header
    row = [line for line in text.splitlines() if line.startswith("│ concatenate")][0]
    assert "(None, 132)" in row and "title[0][0]," in row
    assert any("text_body[0][0]," in line for line in text.splitlines())
    assert any("│ tags[0][0]" in line.replace("  ", " ") or "tags[0][0] " in line
               for line in text.splitlines())
    assert "department (Dense)" in text and "68" in text  # 16 * 4 + 4
    assert "Total params: 2,213" in text  # 132*16+16 + 17 + 68
    # a plain chain has no "Connected to" column, as in Keras
    inputs = keras.Input(shape=(4,))
    chain = keras.Model(inputs, layers.Dense(2)(layers.Dense(3)(inputs)))
    lines = []
    chain.summary(print_fn=lines.append)
    assert "Connected to" not in lines[0]


def test_plot_model_draws_the_layer_graph(tmp_path):
    keras.utils.clear_session()
    model = ticket_model()
    text = keras.utils.model_to_dot(model, show_shapes=True)
    assert 'label="concatenate (Concatenate)\\nInput shape: [(None, 60), (None, 60), ' \
           '(None, 12)]\\nOutput shape: (None, 132)"' in text
    names = [layer.name for layer in model.layers]
    edges = {(names[int(a)], names[int(b)]) for a, b in
             (line.strip(" ;").replace("layer", "").split(" -> ")
              for line in text.splitlines() if "->" in line)}
    assert edges == {("title", "concatenate"), ("text_body", "concatenate"),
                     ("tags", "concatenate"), ("concatenate", "dense"),
                     ("dense", "priority"), ("dense", "department")}
    dot_path = tmp_path / "model.dot"
    keras.utils.plot_model(model, dot_path, show_shapes=True)
    assert dot_path.read_text() == text
    sequential = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    assert keras.utils.model_to_dot(sequential).count("->") == 1


def test_plot_model_renders_png(tmp_path):  # Graphviz where installed, else matplotlib
    path = tmp_path / "model.png"
    keras.utils.plot_model(ticket_model(), path, show_shapes=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nested_models_and_shared_layers():
    inner_in = keras.Input(shape=(4,))
    encoder = keras.Model(inner_in, layers.Dense(2, name="code")(inner_in), name="encoder")
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    shared = layers.Dense(4, name="shared")
    out = layers.Add()([encoder(shared(a)), encoder(shared(b))])
    model = keras.Model([a, b], out)
    assert [layer.name for layer in model.layers] == ["a", "shared", "encoder", "b", "add"]
    assert len(model.weights) == 4  # shared once, encoder once
    assert shared.output is shared.get_output_at(0)  # the first call, as in Keras 3
    assert shared.get_output_at(1) is not shared.output
    with pytest.raises(ValueError, match="never been called on symbolic"):
        layers.Dense(1).output
    xa, xb = np.ones((2, 4), "float32"), np.zeros((2, 4), "float32")
    expected = encoder(shared(xa)).numpy() + encoder(shared(xb)).numpy()
    np.testing.assert_allclose(model([xa, xb]).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("module", ["chainrule.keras.layers.core",
                                    "chainrule.keras.models.functional"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_feature_extraction_from_a_sequential_model():
    """Keras's Sequential guide: a model of every layer's output, sharing the weights."""
    initial = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(4, activation="relu"),
                                layers.Dense(2)])
    extractor = keras.Model(inputs=initial.inputs,
                            outputs=[layer.output for layer in initial.layers])
    x = np.random.default_rng(0).random((3, 8), dtype=np.float32)
    hidden, final = extractor(x)
    assert hidden.shape == (3, 4) and all(a is b for a, b in zip(extractor.weights,
                                                                  initial.weights))
    np.testing.assert_array_equal(final.numpy(), initial(x).numpy())
    with pytest.raises(AttributeError, match="start it with keras.Input"):
        keras.Sequential([layers.Dense(2)]).inputs


def test_layer_names_must_be_unique_in_a_model():
    a, b = keras.Input(shape=(2,), name="same"), keras.Input(shape=(2,), name="same")
    with pytest.raises(ValueError, match='"same" is used 2 times'):
        keras.Model([a, b], layers.Add()([a, b]))
