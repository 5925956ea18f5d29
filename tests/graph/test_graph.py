"""Graph as plain data: nodes, values, the text listing, and graphs from a tape."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import Graph, from_tape, to_dot


def worked_example(persistent=True):
    w, b = cr.Variable(3.0, name="w"), cr.Variable(1.0, name="b")
    x, y_true = cr.constant(2.0), cr.constant(4.0)
    with cr.GradientTape(persistent=persistent) as tape:
        x1 = x * w
        x2 = x1 + b
        loss = cr.abs(y_true - x2)
    return tape, dict(w=w, b=b, x=x, y_true=y_true, x1=x1, x2=x2, loss=loss)


def test_a_graph_from_a_tape_has_its_nodes_values_and_names():
    tape, names = worked_example()
    g = from_tape(tape, names["loss"], names=names)
    assert isinstance(g, Graph)
    assert [n.prim.name for n in g] == ["multiply", "add", "subtract", "abs"]
    assert [v.label for v in g.outputs] == ["loss"]
    assert [v.name for v in g.values if v.kind == "variable"] == ["w", "b"]
    assert g.variables == [names["w"], names["b"]]
    mult = g.nodes[0]
    assert [v.label for v in mult.inputs] == ["x", "w"] and mult.output.name == "x1"
    assert mult.output.shape == () and mult.output.dtype == np.float32
    assert float(g.example_values()[mult.output]) == 6.0 and mult.output.example is None


def test_listing_reads_like_a_small_ir():
    a = cr.constant(np.ones((128, 784), np.float32))
    w = cr.Variable(np.zeros((784, 512), np.float32), name="kernel")
    with cr.GradientTape() as tape:
        h = cr.matmul(a, w)
    text = from_tape(tape).listing()
    assert "= variable 'kernel'  # (784, 512) float32" in text
    assert "= matmul(%0, %1)  # (128, 512) float32" in text
    assert text.splitlines()[-1].strip().startswith("return %")
    assert str(from_tape(tape)) == text


def test_graph_needs_the_record():
    tape, names = worked_example(persistent=False)
    tape.gradient(names["loss"], names["w"])
    with pytest.raises(RuntimeError, match="before gradient"):
        from_tape(tape)


def test_targets_prune_what_they_do_not_need():
    v = cr.Variable([1.0, 2.0])
    with cr.GradientTape() as tape:
        used = v * 2.0
        unused = cr.exp(v)
    g_all = from_tape(tape)
    assert len(g_all.outputs) == 2
    g = from_tape(tape, used)
    assert [n.prim.name for n in g] == ["multiply"]
    np.testing.assert_array_equal(unused.numpy(), cr.exp(v).numpy())
    assert {n.prim.name for n in g_all} == {"multiply", "exp"}


def test_run_replays_a_tape_graph_with_live_variables():
    tape, names = worked_example()
    g = from_tape(tape, names["loss"])
    assert float(g.run()[0]) == 3.0
    names["w"].assign(5.0)  # x1 = 10, x2 = 11, loss = 7
    assert float(g.run()[0]) == 7.0


def test_run_checks_its_inputs():
    f = cr.function(lambda x: x * 2.0)
    f(cr.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"expects shape \(2,\)"):
        f.graph.run(cr.constant([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="takes 1 inputs"):
        f.graph.run()


def test_a_tape_graph_keeps_the_values_it_recorded():
    tape, names = worked_example()
    g = from_tape(tape, names["loss"], names=names)
    names["w"].assign(100.0)  # a later update does not change the picture of the past
    assert 'label="6"' in to_dot(g)
    assert float(g.example_values()[g.outputs[0]]) == 3.0


def test_traced_graphs_hold_no_intermediate_arrays():
    f = cr.function(lambda x: cr.tanh(x * 2.0) + 1.0)
    f(cr.constant(np.ones((64, 64), np.float32)))
    assert all(v.example is None for v in f.graph.values if v.kind == "result")
    values = f.graph.example_values()  # recomputed on demand, for pictures
    np.testing.assert_allclose(values[f.graph.outputs[0]], np.tanh(2.0) + 1.0, rtol=1e-6)
    assert "(64, 64) [1.964, 1.964, 1.964, 1.964, ...]" in to_dot(f.graph)
