"""Derivatives of a graph: the backward pass as numbers, and as a graph of its own.

:func:`adjoints` runs the tape's own reverse sweep over a graph's nodes at its example
values and keeps what a picture of backpropagation needs: each value's gradient and each
edge's local derivative; :func:`gradients` is its gradients alone.

:func:`gradient_graph` builds the derivative as a new graph. Every VJP is written in
chainrule ops, so tracing "replay this graph under a GradientTape and take the gradient"
captures the backward pass as ordinary nodes; the result can be drawn, run, compiled, and
differentiated again (second derivatives).
"""

import numpy as np

from ..recording import paused_recorders
from ..autodiff.tape import GradientTape, sweep, unbroadcast
from ..ops import ones_like
from ..tensor import Tensor
from .capture import trace
from .graph import INPUT, VARIABLE


class Adjoints:
    """The backward pass at the captured values.

    ``grads[value]``: d target / d value (an array) for every value the target depends on;
    ``local[(node, i)]``: the derivative of the node's output with respect to its input
    ``i`` when both are single numbers, else the gradient that flows along that edge;
    ``scalar_edges``: the set of ``(node, i)`` whose ``local`` is a true local derivative.
    """

    def __init__(self, target):
        self.target = target
        self.grads, self.local, self.scalar_edges = {}, {}, set()


def adjoints(graph, target=None):
    """Gradients of ``target`` (a Value; default the graph's only output) with respect to
    every value of ``graph``, at the values captured with it (a non-scalar target is
    differentiated as the sum of its entries, as ``GradientTape.gradient`` does).

    The graph's nodes go through the tape's own reverse sweep
    (:func:`chainrule.autodiff.tape.sweep`); this function only keeps what the picture
    needs along the way."""
    target = _single_output(graph, target)
    result = Adjoints(target)
    values = graph.example_values()
    tensors = {v.index: Tensor._wrap(np.asarray(a)) for v, a in values.items()}
    value_of = {id(tensors[v.index]): v for v in graph.values}
    records = [(node.prim, tuple(tensors[v.index] for v in node.inputs), node.params,
                tensors[node.output.index], tuple(v.dtype.kind in "fc" for v in node.inputs))
               for node in graph.nodes if not node.is_update and node.prim.vjp is not None]
    node_of = {id(tensors[node.output.index]): node for node in graph.nodes
               if not node.is_update}

    def on_edge(record, i, g, gi):
        prim, inputs, params, out, needs = record
        node, v = node_of[id(out)], value_of[id(inputs[i])]
        if out.size == 1 and np.size(values[v]) == 1:  # a true local derivative
            unit = _vjp(prim, ones_like(out), out, inputs, params, needs)[i]
            if unit is not None:
                result.local[(node, i)] = np.asarray(unbroadcast(unit, v.shape))
                result.scalar_edges.add((node, i))
                return
        result.local[(node, i)] = np.asarray(unbroadcast(gi, v.shape) if gi.shape != v.shape
                                             else gi)

    grads = {id(tensors[target.index]): ones_like(tensors[target.index])}
    with paused_recorders():  # only numbers for a picture: nothing here is differentiated
        sweep(records, grads, keep=None, on_edge=on_edge)
    result.grads = {v: np.asarray(grads[id(tensors[v.index])]) for v in graph.values
                    if id(tensors[v.index]) in grads}
    return result


def gradients(graph, target=None):
    """The gradient of ``target`` (default: the graph's only output) with respect to every
    value of ``graph``, at its captured values (:meth:`Graph.example_values`):
    ``{Value: ndarray}``.

    >>> import chainrule as cr
    >>> w = cr.Variable(3.0, name="w")
    >>> with cr.GradientTape() as tape:
    ...     y = w * w
    >>> g = cr.graph.from_tape(tape, y)
    >>> {v.label: float(a) for v, a in gradients(g).items()}
    {'w': 6.0, '%1': 1.0}
    """
    return adjoints(graph, target).grads


def _vjp(prim, g, out, inputs, params, needs):
    if prim.vjp_wants_needs:
        return prim.vjp(g, out, *inputs, needs=needs, **params)
    return prim.vjp(g, out, *inputs, **params)


def gradient_graph(graph, target=None, sources=None):
    """A graph with the same inputs as ``graph`` whose outputs are the gradients of
    ``target`` (default: the only output) with respect to ``sources``.

    ``sources`` are Values of ``graph`` (inputs or captured variables), or the Variables
    themselves; by default every floating input and every captured trainable Variable.
    An unconnected source gives zeros.

    >>> import chainrule as cr
    >>> f = cr.function(lambda x: cr.reduce_sum(x * x * x))
    >>> _ = f(cr.constant([1.0, 2.0]))
    >>> df = gradient_graph(f.graph)               # 3 x^2
    >>> ddf = gradient_graph(df)                   # 6 x (of the sum of the gradient)
    >>> ddf.run(cr.constant([1.0, 2.0]))[0].numpy().tolist()
    [6.0, 12.0]
    """
    target = _single_output(graph, target)
    wanted = _sources(graph, sources)
    target_position = graph.outputs.index(target)

    def gradient_of_graph(*args):
        env = dict(zip((v.index for v in graph.inputs), args))
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([env[v.index] if v.kind == INPUT else v.variable for v in wanted])
            outputs = graph.run(*args)
        # A graph's outputs are tensors, so an unconnected source gives zeros, not None.
        return tape.gradient(outputs[target_position],
                             [env[v.index] if v.kind == INPUT else v.variable for v in wanted],
                             unconnected_gradients="zero")

    examples = [v.variable if v.variable is not None and v.kind == INPUT else
                Tensor._wrap(np.asarray(v.example)) for v in graph.inputs]
    traced = trace(gradient_of_graph, *examples, name=f"grad_{graph.name}")
    derivative = traced.graph.pruned()  # forward values the gradient never reads go
    for mine, theirs in zip(derivative.inputs, graph.inputs):
        mine.name = theirs.name
    return derivative


def _sources(graph, sources):
    if sources is None:
        return [v for v in graph.values if (v.kind == INPUT and v.dtype.kind in "fc")
                or (v.kind == VARIABLE and v.variable.trainable and v.dtype.kind in "fc")]
    chosen = []
    for s in sources if isinstance(sources, (list, tuple)) else [sources]:
        match = [v for v in graph.values if v is s or (v.variable is not None and v.variable is s)]
        if not match or match[0].kind not in (INPUT, VARIABLE):
            raise ValueError(f"gradient_graph: {s!r} is not an input or captured Variable of "
                             f"graph '{graph.name}'")
        chosen.append(match[0])
    return chosen


def _single_output(graph, target):
    if target is None:
        if len(graph.outputs) != 1:
            raise ValueError(f"graph '{graph.name}' has {len(graph.outputs)} outputs; say "
                             f"which one is the target (target=graph.outputs[i])")
        return graph.outputs[0]
    if isinstance(target, int):
        return graph.outputs[target]
    if not any(target is v for v in graph.outputs):
        raise ValueError(f"target {target!r} is not an output of graph '{graph.name}'")
    return target

