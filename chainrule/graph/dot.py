"""Pictures of a graph: Graphviz DOT text, and rendering it with Graphviz's ``dot``.

The forward picture is the one chapter 2 draws for backpropagation: inputs at the top,
one box per op, and the value that flows along each edge written on it. The backward
picture is the same graph reversed: each edge carries the local derivative of the op's
output with respect to that input (``grad(x2, x1) = 1``), and each value is labelled with
the gradient of the target with respect to it (``grad(loss, w) = 2``). Where an edge
carries a tensor rather than a single number, its label shows the gradient flowing along
it instead (shape and first entries).

Rendering uses the Graphviz program ``dot`` where it is installed (Debian/Ubuntu:
``apt-get install graphviz``; macOS: ``brew install graphviz``), and otherwise lays the graph
out and draws it with matplotlib (:mod:`chainrule.graph.layout`): a plainer picture, the same
boxes, arrows and labels.
"""

import importlib.util
import os
import shutil
import subprocess

import numpy as np

from .derivatives import adjoints
from .graph import CONSTANT, INPUT, RESULT, VARIABLE, format_number


class GraphvizNotFound(RuntimeError):
    """Raised by :func:`draw` when neither Graphviz's ``dot`` program nor matplotlib is
    installed (or when ``engine="graphviz"`` asks for the program and it is missing)."""


def format_value(x, max_items=4):
    """An edge label: a single number as it is (``6``, ``-3``, ``0.25``), a tensor as its
    shape and first few entries (``(2, 3) [1, 2, 3, 4, ...]``)."""
    a = np.asarray(x)
    if a.size == 1:
        return format_number(a.reshape(()).item())
    items = ", ".join(format_number(i) for i in a.ravel()[:max_items].tolist())
    more = ", ..." if a.size > max_items else ""
    return f"{a.shape} [{items}{more}]"


def to_dot(graph, backward=False, target=None, max_items=4):
    """DOT text of ``graph``; see the module docstring for what each picture shows.

    >>> import chainrule as cr
    >>> w = cr.Variable(3.0, name="w")
    >>> with cr.GradientTape() as tape:
    ...     y = w * 2.0
    >>> print(to_dot(cr.graph.from_tape(tape, names={"y": y})))  # doctest: +ELLIPSIS
    digraph "tape" {
    ...
      v0 -> n0 [label="3"];
    ...
    """
    values = graph.example_values()
    adj = adjoints(graph, target) if backward else None
    lines = [f'digraph "{_escape(graph.name)}" {{',
             '  rankdir=TB;',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for v in graph.values:
        if v.kind != RESULT:
            lines.append(f'  v{v.index} [label="{_escape(_leaf_label(v, adj))}", '
                         f'{_LEAF_STYLE[v.kind]}];')
    for node in graph.nodes:
        lines.append(f'  n{node.index} [label="{_escape(_node_label(node, adj))}", '
                     f'shape=box, style="rounded,filled", fillcolor="#eef3fb"];')
    for node in graph.nodes:
        for i, v in enumerate(node.inputs):
            if backward and v.kind == CONSTANT:  # not a source: no gradient is wanted there
                lines.append(f'  v{v.index} -> n{node.index} [style=dotted, color=gray];')
                continue
            label = _edge_label(values[v], node, i, v, adj, max_items)
            lines.append(_edge(_source_id(v), f"n{node.index}", label, backward))
    for k, v in enumerate(graph.outputs):
        label = v.label if adj is None else f"{v.label}\nseed 1"
        lines.append(f'  out{k} [label="{_escape(label)}", shape=plaintext];')
        value = format_value(values[v], max_items)
        lines.append(_edge(_source_id(v), f"out{k}", "" if backward else value, backward))
    lines.append("}")
    return "\n".join(lines) + "\n"


_LEAF_STYLE = {
    INPUT: 'shape=ellipse, style=filled, fillcolor="#fff4d6"',
    VARIABLE: 'shape=ellipse, style=filled, fillcolor="#e3f4e1"',
    CONSTANT: 'shape=ellipse, style=dashed',
}


def _source_id(v):
    return f"n{v.producer.index}" if v.kind == RESULT else f"v{v.index}"


def _edge(tail, head, label, backward):
    if backward:  # the backward graph runs from the target back to the inputs
        tail, head = head, tail
    attrs = [f'label="{_escape(label)}"'] if label else []
    if backward:
        attrs.append('color="#b03030", fontcolor="#b03030"')
    return f"  {tail} -> {head}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"


def _leaf_label(v, adj):
    kind = {INPUT: "input", VARIABLE: "Variable", CONSTANT: "constant"}[v.kind]
    label = f"{v.label}\n{kind}" if v.name else (kind if v.kind != CONSTANT else "constant")
    if adj is not None and v in adj.grads and v.kind != CONSTANT:
        label += f"\ngrad({adj.target.label}, {v.label}) = {format_value(adj.grads[v])}"
    return label


def _node_label(node, adj):
    if node.is_update:
        return f"{node.prim.name}\n(in place)"
    out = node.output
    label = f"{out.name} = {node.prim.name}" if out.name else node.prim.name
    if adj is not None and out in adj.grads:
        label += f"\ngrad({adj.target.label}, {out.label}) = {format_value(adj.grads[out])}"
    return label


def _edge_label(value, node, i, v, adj, max_items):
    if adj is None:
        return format_value(value, max_items)
    local = adj.local.get((node, i))
    if local is None:
        return ""
    if (node, i) in adj.scalar_edges:
        return f"grad({node.output.label}, {v.label}) = {format_value(local)}"
    return f"grad: {format_value(local, max_items)}"


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def draw(graph, path, backward=False, target=None, max_items=4, engine="auto"):
    """Writes the picture of ``graph`` to ``path``; the format comes from the extension
    (``.svg``, ``.png``, ``.pdf``; ``.dot``/``.gv`` writes the DOT text itself). Returns
    ``path``. ``engine`` is as for :func:`render`."""
    return render(to_dot(graph, backward=backward, target=target, max_items=max_items), path,
                  engine=engine)


ENGINES = ("auto", "graphviz", "matplotlib")


def render(text, path, engine="auto"):
    """Writes the DOT ``text`` to ``path`` in the format its extension names (``.svg``,
    ``.png``, ``.pdf``; ``.dot``/``.gv`` as the text itself). Returns ``path``. Used by
    :func:`draw` and by ``keras.utils.plot_model``.

    ``engine="auto"`` uses Graphviz's ``dot`` where it is on PATH and matplotlib otherwise;
    ``"graphviz"`` or ``"matplotlib"`` asks for one. With neither installed it raises
    :class:`GraphvizNotFound`, saying what to install."""
    if engine not in ENGINES:
        raise ValueError(f"render: engine must be one of {ENGINES}; received {engine!r}")
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"cannot tell the picture format from {str(path)!r}; use a .svg, .png, "
                         f".pdf or .dot file name")
    dot = shutil.which("dot") if engine != "matplotlib" else None
    if dot is None and engine != "graphviz" and _have_matplotlib():
        from .layout import draw_dot
        return draw_dot(text, path, fmt)
    if dot is None:
        wanted = "Graphviz's `dot` program" if engine == "graphviz" else \
            "Graphviz's `dot` program or matplotlib; neither is installed"
        raise GraphvizNotFound(
            f"Drawing a .{fmt} picture needs {wanted}. Install one: matplotlib with "
            "`pip install matplotlib` (or `pip install 'chainrule[plot]'`), or Graphviz itself "
            "with `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
            "`conda install graphviz`. Note that `pip install graphviz` installs only a Python "
            "wrapper, not the `dot` program. Without either, a .dot file name still writes the "
            "DOT text (paste it into any Graphviz viewer).")
    done = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=text.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz `dot` failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path


def _have_matplotlib():
    return importlib.util.find_spec("matplotlib") is not None
