"""Derivatives of a graph: the backward pass as numbers, and as a graph of its own.

:func:`adjoints` sweeps a graph backwards at its example values and keeps what a
picture of backpropagation needs: each value's gradient and each edge's local derivative.

:func:`gradient_graph` builds the derivative as a new graph. Every VJP is written in
chainrule ops, so tracing "replay this graph under a GradientTape and take the gradient"
captures the backward pass as ordinary nodes; the result can be drawn, run, compiled, and
differentiated again (second derivatives).
"""

import numpy as np

from ..recording import paused_recorders
from ..autodiff.tape import GradientTape, unbroadcast
from ..ops import ones_like
from ..tensor import Tensor
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
    differentiated as the sum of its entries, as ``GradientTape.gradient`` does)."""
    target = _single_output(graph, target)
    result = Adjoints(target)
    values = graph.example_values()
    env = {v.index: Tensor._wrap(np.asarray(a)) for v, a in values.items()}
    grads = {target.index: ones_like(env[target.index])}
    with paused_recorders():  # only numbers for a picture: nothing here is differentiated
        for node in reversed(graph.nodes):
            if node.is_update or node.prim.vjp is None:
                continue
            g = grads.get(node.output.index)
            if g is None:
                continue
            inputs = [env[v.index] for v in node.inputs]
            out = env[node.output.index]
            flowing = _vjp(node, g, out, inputs)
            unit = None
            if out.size == 1:
                unit = _vjp(node, ones_like(out), out, inputs)
            for i, (v, gi) in enumerate(zip(node.inputs, flowing)):
                if gi is None or v.dtype.kind not in "fc":
                    continue
                gi = unbroadcast(gi, v.shape) if gi.shape != v.shape else gi
                previous = grads.get(v.index)
                grads[v.index] = gi if previous is None else previous + gi
                if unit is not None and unit[i] is not None and np.size(values[v]) == 1:
                    result.local[(node, i)] = np.asarray(unbroadcast(unit[i], v.shape))
                    result.scalar_edges.add((node, i))
                else:
                    result.local[(node, i)] = np.asarray(gi)
    result.grads = {v: np.asarray(grads[v.index]) for v in graph.values if v.index in grads}
    return result


def _vjp(node, g, out, inputs):
    prim = node.prim
    if prim.vjp_wants_needs:
        needs = tuple(x.dtype.kind in "fc" for x in inputs)
        return prim.vjp(g, out, *inputs, needs=needs, **node.params)
    return prim.vjp(g, out, *inputs, **node.params)


def gradient_graph(graph, target=None, sources=None):
    """A graph with the same inputs as ``graph`` whose outputs are the gradients of
    ``target`` (default: the only output) with respect to ``sources``.

    ``sources`` are Values of ``graph`` (inputs or captured variables), or the Variables
    themselves; by default every floating input and every captured trainable Variable.
    An unconnected source gives zeros.

    >>> import chainrule as cr
    >>> f = cr.function(lambda x: cr.reduce_sum(x * x * x))
    >>> _ = f(cr.constant([1.0, 2.0]))
    >>> df = f.graph.gradient_graph()              # 3 x^2
    >>> ddf = df.gradient_graph()                  # 6 x (of the sum of the gradient)
    >>> ddf.run(cr.constant([1.0, 2.0]))[0].numpy().tolist()
    [6.0, 12.0]
    """
    from .capture import trace

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

