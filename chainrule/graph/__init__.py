"""Graphs as data: capture, draw, explain and compile computations.

* :class:`Graph` (``graph.py``): nodes over values, a text listing, replay with ``run``.
* ``GradientTape.graph()`` and :func:`function` / :func:`trace` (``capture.py``): two ways
  to get one, both recorders over the same primitive calls.
* ``Graph.to_dot`` / ``Graph.draw`` (``dot.py``): forward and backward pictures.
* ``Graph.gradient_graph`` (``derivatives.py``): the derivative as a graph of its own.
* ``Graph.compile``: replay on planned, reused buffers (:mod:`chainrule.compiler`).
"""

from ..autodiff import tape as _tape
from .builder import GraphBuilder, TraceError
from .capture import Function, Traced, function, trace
from .dot import GraphvizNotFound, format_value
from .graph import Graph, Node, Value, VariableUpdate

# A tape offers its record as a Graph through this hook: autodiff knows nothing of graphs.
_tape.graph_view = Graph.from_tape

__all__ = ["Function", "Graph", "GraphBuilder", "GraphvizNotFound", "Node", "TraceError", "Traced", "Value",
           "VariableUpdate", "format_value", "function", "trace"]
