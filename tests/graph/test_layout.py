"""Drawing without Graphviz: the DOT reader, the layered layout, and the matplotlib pictures."""

import itertools
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.graph import dot as dot_module
from chainrule.graph import draw, from_tape, to_dot
from chainrule.graph.layout import crossings, layout, parse_dot
from chainrule.keras import layers


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)


def chapter2_graph():
    w, b = cr.Variable(3.0, name="w"), cr.Variable(1.0, name="b")
    x, y_true = cr.constant(2.0), cr.constant(4.0)
    with cr.GradientTape() as tape:
        x1 = x * w
        x2 = x1 + b
        loss = cr.abs(y_true - x2)
    return from_tape(tape, loss, names=dict(x=x, w=w, b=b, y_true=y_true, x1=x1, x2=x2,
                                            loss=loss))


def branching_model():
    title = keras.Input(shape=(6,), name="title")
    body = keras.Input(shape=(6,), name="text_body")
    tags = keras.Input(shape=(3,), name="tags")
    features = layers.Concatenate()([title, body, tags])
    features = layers.Dense(8, activation="relu")(features)
    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(4, activation="softmax", name="department")(features)
    skip = layers.Dense(4, name="skip")(title)  # skips two layers: a long edge
    return keras.Model([title, body, tags], [priority, layers.Add()([department, skip])])


# ------------------------------------------------------------------------------ DOT reader

def test_parse_dot_reads_what_to_dot_writes():
    g = parse_dot(to_dot(chapter2_graph(), backward=True))
    assert g.name == "tape" and g.attrs["rankdir"] == "TB"
    labels = {attrs["label"] for attrs in g.nodes.values()}
    assert "w\nVariable\ngrad(loss, w) = 2" in labels  # \n in DOT is a line break
    edge = {(t, h): attrs for t, h, attrs in g.edges}
    assert edge[("n0", "v1")]["label"] == "grad(x1, w) = 2"
    assert edge[("n0", "v1")]["color"] == "#b03030"
    assert edge[("v0", "n0")]["style"] == "dotted"  # the constant x: no gradient wanted
    assert g.nodes["v1"]["shape"] == "ellipse"
    assert g.nodes["n0"]["fontname"] == "Helvetica"  # from the `node [...]` defaults


def test_parse_dot_reads_chains_quotes_and_comments():
    g = parse_dot('digraph { // a comment\n a -> b->"c d" [label="say \\"hi\\""]; '
                  'e [shape=box, fontsize=9.5] }')
    assert g.nodes["e"]["fontsize"] == "9.5"
    assert list(g.nodes) == ["a", "b", "c d", "e"]
    assert [(t, h, a["label"]) for t, h, a in g.edges] == [("a", "b", 'say "hi"'),
                                                         ("b", "c d", 'say "hi"')]
    with pytest.raises(ValueError, match="subgraphs are not drawn without Graphviz"):
        parse_dot("digraph { subgraph cluster_0 { a } }")
    with pytest.raises(ValueError, match="only a 'digraph'"):
        parse_dot("graph { a -- b }")
    with pytest.raises(ValueError, match="cannot read the DOT text at character"):
        parse_dot("digraph { a -> @ }")


# ---------------------------------------------------------------------------------- layout

def random_dag(rng, n, p):
    nodes = [f"n{i}" for i in range(n)]
    edges = [(nodes[i], nodes[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    sizes = {v: (float(rng.integers(20, 120)), float(rng.integers(15, 50))) for v in nodes}
    return nodes, edges, sizes


def assert_no_overlap(lay, nodes):
    for a, b in itertools.combinations(nodes, 2):
        la, ta, ra, ba = lay.box(a)
        lb, tb, rb, bb = lay.box(b)
        assert ra <= lb or rb <= la or ba <= tb or bb <= ta, f"{a} and {b} overlap"


@pytest.mark.parametrize("seed", range(6))
def test_edges_point_down_and_nodes_do_not_overlap(seed):
    rng = np.random.default_rng(seed)
    nodes, edges, sizes = random_dag(rng, 14, 0.2)
    labels = [(40.0, 12.0) if rng.random() < 0.5 else None for _ in edges]
    lay = layout(nodes, edges, sizes, labels)
    for (tail, head), route in zip(edges, lay.routes):
        assert lay.rank[head] > lay.rank[tail]
        assert lay.centers[head][1] > lay.centers[tail][1]
        ys = [y for _, y in route]
        assert all(b > a for a, b in zip(ys, ys[1:])), "every segment goes down the page"
        assert ys[0] == pytest.approx(lay.box(tail)[3]) and ys[-1] == pytest.approx(lay.box(head)[1])
    assert_no_overlap(lay, nodes)
    for n in nodes:  # everything lies inside the picture
        left, top, right, bottom = lay.box(n)
        assert left >= 0 and top >= 0 and right <= lay.width and bottom <= lay.height


def test_left_to_right_turns_the_picture():
    rng = np.random.default_rng(7)
    nodes, edges, sizes = random_dag(rng, 10, 0.3)
    lay = layout(nodes, edges, sizes, rankdir="LR")
    for tail, head in edges:
        assert lay.centers[head][0] > lay.centers[tail][0]
    assert_no_overlap(lay, nodes)
    with pytest.raises(ValueError, match="rankdir must be 'TB' or 'LR'; received 'BT'"):
        layout(nodes, edges, sizes, rankdir="BT")


def test_barycenter_ordering_removes_crossings():
    # Given in a crossing order: a -> d and b -> c, then a crossing ladder one layer down.
    nodes = ["a", "b", "c", "d", "e", "f"]
    edges = [("a", "d"), ("b", "c"), ("c", "f"), ("d", "e")]
    sizes = {n: (30.0, 20.0) for n in nodes}
    assert crossings(["a", "b"], ["c", "d"], {"a": ["d"], "b": ["c"]}) == 1
    lay = layout(nodes, edges, sizes)
    x = {n: lay.centers[n][0] for n in nodes}
    assert (x["a"] < x["b"]) == (x["d"] < x["c"])
    assert (x["c"] < x["d"]) == (x["f"] < x["e"])


def test_sources_sit_just_above_their_consumer():
    # y_true feeds only the last op: it belongs beside that op's other input, not at the top.
    edges = [("x", "m"), ("w", "m"), ("m", "a"), ("b", "a"), ("a", "s"), ("y", "s")]
    nodes = ["x", "w", "m", "b", "a", "y", "s"]
    lay = layout(nodes, edges, {n: (40.0, 20.0) for n in nodes})
    assert lay.rank == {"x": 0, "w": 0, "m": 1, "b": 1, "a": 2, "y": 2, "s": 3}


def test_cycles_and_loops_still_get_a_picture():
    nodes = ["a", "b", "c"]
    lay = layout(nodes, [("a", "b"), ("b", "c"), ("c", "a"), ("b", "b")],
                 {n: (30.0, 20.0) for n in nodes})
    assert lay.rank["a"] < lay.rank["b"] < lay.rank["c"]
    assert len(lay.routes) == 4 and all(len(r) >= 2 for r in lay.routes)
    assert_no_overlap(lay, nodes)


def test_layout_names_an_edge_to_a_node_without_a_size():
    with pytest.raises(ValueError, match="edge 'a' -> 'z' names a node 'z' that has no size"):
        layout(["a"], [("a", "z")], {"a": (1.0, 1.0)})


# -------------------------------------------------------------------- pictures, no Graphviz

def test_chapter2_gradient_graph_draws_without_graphviz(no_graphviz, tmp_path):
    g = chapter2_graph()
    forward = draw(g, tmp_path / "forward.png")
    backward = draw(g, tmp_path / "backward.png", backward=True)
    for path in (forward, backward):
        width, height = png_size(path)
        assert 150 < width < 2000 and 300 < height < 3000 and height > width
        assert path.stat().st_size > 5000
    svg = draw(g, tmp_path / "backward.svg", backward=True).read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert draw(g, tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"


def test_svg_labels_are_the_dot_labels(no_graphviz, tmp_path):
    import matplotlib
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text
        svg = draw(chapter2_graph(), tmp_path / "b.svg", backward=True).read_text()
    for text in ("grad(x1, w) = 2", "grad(loss, w) = 2", "x2 = add", "seed 1"):
        assert text in svg


def test_plot_model_draws_without_graphviz(no_graphviz, tmp_path):
    keras.utils.clear_session()
    sequential = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(4, activation="relu"),
                                   layers.Dense(2)])
    path = tmp_path / "sequential.png"
    keras.utils.plot_model(sequential, path, show_shapes=True, show_dtype=True)
    width, height = png_size(path)
    assert height > 1.4 * width > 400  # three boxes stacked, at the default 200 dpi
    path = tmp_path / "functional.png"
    keras.utils.plot_model(branching_model(), path, show_shapes=True)
    width, height = png_size(path)
    assert 800 < width < 6000 and 800 < height < 6000
    wide = tmp_path / "lr.png"
    keras.utils.plot_model(branching_model(), wide, rankdir="LR")
    width, height = png_size(wide)
    assert width > height


def test_graphviz_is_used_when_present_and_asked_for(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: "/usr/bin/dot")

    class Done:
        returncode, stderr = 0, b""

    def fake_run(argv, **kwargs):
        calls.append(argv)
        return Done()

    monkeypatch.setattr(dot_module.subprocess, "run", fake_run)
    draw(chapter2_graph(), tmp_path / "g.png")
    assert calls and calls[0][:2] == ["/usr/bin/dot", "-Tpng"]
    draw(chapter2_graph(), tmp_path / "m.png", engine="matplotlib")  # asked: no Graphviz
    assert len(calls) == 1 and png_size(tmp_path / "m.png")[0] > 100
    with pytest.raises(ValueError, match="engine must be one of"):
        draw(chapter2_graph(), tmp_path / "g.png", engine="pydot")


def test_neither_graphviz_nor_matplotlib_says_what_to_install(no_graphviz, monkeypatch, tmp_path):
    monkeypatch.setattr(dot_module, "_have_matplotlib", lambda: False)
    with pytest.raises(dot_module.GraphvizNotFound,
                       match=r"needs Graphviz's `dot` program or matplotlib; neither is "
                             r"installed.*pip install matplotlib.*apt-get install graphviz"):
        draw(chapter2_graph(), tmp_path / "g.png")
    monkeypatch.setattr(dot_module, "_have_matplotlib", lambda: True)
    with pytest.raises(dot_module.GraphvizNotFound, match="needs Graphviz's `dot` program\\. "):
        draw(chapter2_graph(), tmp_path / "g.png", engine="graphviz")
