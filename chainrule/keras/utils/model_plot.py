"""``keras.utils.plot_model`` and ``model_to_dot``: a model's layer graph as a picture.

The DOT text is written here (one box per layer, one edge per tensor passed between
layers); rendering goes through :func:`chainrule.graph.dot.render`, which draws
chainrule's op graphs too: with Graphviz's ``dot`` where it is installed, else with matplotlib. ``model_to_dot`` returns the DOT text itself (a
string; Keras returns a pydot object).
"""

import os

from ...graph.dot import render
from ..layers.core import InputLayer

__all__ = ["plot_model", "model_to_dot"]


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """The DOT text of ``model``'s layer graph (functional or Sequential)."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: rankdir must be 'TB' or 'LR'; received {rankdir!r}")
    edges = _edges(model)
    lines = [f'digraph "{_escape(model.name)}" {{', f"  rankdir={rankdir};",
             f"  dpi={int(dpi)};",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=11];']
    number = {}
    for layer in _layers(model):
        number[id(layer)] = len(number)
        label = _label(layer, show_shapes, show_dtype, show_layer_names,
                       show_layer_activations, show_trainable)
        lines.append(f'  layer{number[id(layer)]} [label="{_escape(label)}"];')
    for tail, head in edges:
        lines.append(f"  layer{number[id(tail)]} -> layer{number[id(head)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draws ``model``'s layers and how they connect to ``to_file`` (``.png``, ``.svg``,
    ``.pdf`` through Graphviz's ``dot``, or matplotlib without it; ``.dot`` writes the DOT
    text). With
    ``show_shapes=True`` each box shows the layer's input and output shapes. In a
    notebook it returns the picture for display (as Keras does), else None."""
    text = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                        show_layer_names=show_layer_names, rankdir=rankdir,
                        expand_nested=expand_nested, dpi=dpi,
                        show_layer_activations=show_layer_activations,
                        show_trainable=show_trainable)
    render(text, to_file)
    if os.path.splitext(str(to_file))[1].lower() in (".png", ".svg"):
        try:
            from IPython import display
        except ImportError:
            return None
        return display.Image(filename=str(to_file))
    return None


def _layers(model):
    if hasattr(model, "_nodes"):
        return model.layers
    inputs = [model._input_layer] if getattr(model, "_input_layer", None) is not None else []
    if hasattr(model, "_input_layer"):  # a Sequential
        return inputs + model.layers
    raise ValueError(f"plot_model draws functional and Sequential models; "
                     f"{type(model).__name__} is a subclassed model whose call() is Python "
                     f"code, not a graph of layers")


def _edges(model):
    if hasattr(model, "_nodes"):
        return [(t._keras_history.layer, node.layer) for node in model._nodes
                for t in node.input_tensors]
    chain = _layers(model)
    return list(zip(chain, chain[1:]))


def _label(layer, show_shapes, show_dtype, show_names, show_activations, show_trainable):
    kind = type(layer).__name__
    parts = [f"{layer.name} ({kind})" if show_names else kind]
    activation = getattr(layer, "activation", None)
    if show_activations and activation is not None:
        parts.append(f"activation: {getattr(activation, '__name__', activation)}")
    if show_trainable:
        parts.append(f"trainable: {layer.trainable}")
    if show_shapes:
        node = layer._inbound_nodes[0] if layer._inbound_nodes else None
        if isinstance(layer, InputLayer):
            in_shape = out_shape = layer.batch_shape
        elif node is not None:
            in_shape = _shapes([t.shape for t in node.input_tensors])
            out_shape = _shapes([t.shape for t in node.output_tensors])
        else:
            in_shape, out_shape = layer._build_shape or "?", layer._output_shape or "?"
        parts.append(f"Input shape: {in_shape}")
        parts.append(f"Output shape: {out_shape}")
    if show_dtype:
        parts.append(f"dtype: {layer.dtype.name}")
    return "\n".join(parts)


def _shapes(shapes):
    return shapes[0] if len(shapes) == 1 else shapes


def _escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
