"""The chapter's worked example drawn from real code: forward values and gradients."""

import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import GraphvizNotFound, draw, format_value, from_tape, gradients, to_dot
from chainrule.graph import dot as dot_module


def worked_example_graph():
    # Chapter 2's example: x = 2, w = 3, b = 1, y_true = 4; loss = |y_true - (x * w + b)|
    w, b = cr.Variable(3.0, name="w"), cr.Variable(1.0, name="b")
    x, y_true = cr.constant(2.0), cr.constant(4.0)
    with cr.GradientTape() as tape:
        x1 = x * w
        x2 = x1 + b
        loss = cr.abs(y_true - x2)
    return from_tape(tape, loss, names=dict(x=x, w=w, b=b, y_true=y_true, x1=x1, x2=x2, loss=loss))


def edge_labels(dot_text):
    return {line.split("[", 1)[0].strip(): line.split('label="', 1)[1].split('"', 1)[0]
            for line in dot_text.splitlines() if "->" in line and 'label="' in line}


def node_label(dot_text, text):
    return [line for line in dot_text.splitlines() if text in line and "->" not in line]


def test_forward_picture_shows_the_values_on_the_edges():
    text = to_dot(worked_example_graph())
    labels = edge_labels(text)
    assert labels["v0 -> n0"] == "2" and labels["v1 -> n0"] == "3"  # x, w into x1 = x * w
    assert labels["n0 -> n1"] == "6"  # x1
    assert labels["n1 -> n2"] == "7"  # x2
    assert labels["n3 -> out0"] == "3"  # loss
    assert node_label(text, 'label="x1 = multiply"') and node_label(text, 'label="x2 = add"')
    assert text.startswith('digraph "tape" {') and text.rstrip().endswith("}")


def test_backward_picture_shows_local_derivatives_and_gradients():
    text = to_dot(worked_example_graph(), backward=True)
    labels = edge_labels(text)
    assert labels["n0 -> v1"] == "grad(x1, w) = 2"
    assert labels["n1 -> n0"] == "grad(x2, x1) = 1"
    assert labels["n1 -> v3"] == "grad(x2, b) = 1"
    # grad(loss, x2) = 1 via the abs/subtract chain: (-1) * (-1)
    assert labels["n3 -> n2"] == "grad(loss, %6) = -1" and labels["n2 -> n1"] == "grad(%6, x2) = -1"
    assert node_label(text, r"x2 = add\ngrad(loss, x2) = 1")
    assert node_label(text, r"w\nVariable\ngrad(loss, w) = 2")
    assert node_label(text, r"b\nVariable\ngrad(loss, b) = 1")


def test_gradients_are_plain_data_too():
    g = worked_example_graph()
    grads = {v.label: float(a) for v, a in gradients(g).items() if v.kind != "constant"}
    assert grads == {"w": 2.0, "b": 1.0, "x1": 1.0, "x2": 1.0, "%6": -1.0, "loss": 1.0}


def test_tensor_edges_show_shape_and_first_values():
    assert format_value(np.arange(6, dtype=np.float32).reshape(2, 3)) == "(2, 3) [0, 1, 2, 3, ...]"
    assert format_value(np.float32(0.1)) == "0.1"
    v = cr.Variable(np.ones((2, 3), np.float32))
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(v * 2.0)
    text = to_dot(from_tape(tape, y), backward=True)
    assert "(2, 3) [1, 1, 1, 1, ...]" in text  # the value of v, on the forward edge
    assert "grad: (2, 3) [2, 2, 2, 2, ...]" in text  # the gradient flowing into v


def test_draw_without_graphviz_or_matplotlib_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(dot_module, "_have_matplotlib", lambda: False)
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz.*pip install graphviz"):
        draw(worked_example_graph(), tmp_path / "g.svg")
    path = draw(worked_example_graph(), tmp_path / "g.dot")  # DOT text needs nothing
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert path == tmp_path / "g.dot"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_render_svg_and_png(tmp_path):
    g = worked_example_graph()
    svg = draw(g, tmp_path / "forward.svg")
    text = svg.read_text()
    assert "<svg" in text and ">6<" in text
    png = draw(g, tmp_path / "backward.png", backward=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_worked_example_script_writes_both_pictures(tmp_path, capsys):
    from chainrule.examples import draw_worked_example
    draw_worked_example.main(str(tmp_path))
    assert "grad(loss, w) = 2, grad(loss, b) = 1" in capsys.readouterr().out
    pictures = sorted(p.name for p in tmp_path.iterdir())
    assert [p.split(".")[0] for p in pictures] == ["worked_example_backward",
                                                  "worked_example_forward"]
