"""Graphs as data: capture, draw, explain and compile computations.

* :class:`Graph` (``graph.py``): nodes over values, a text listing, replay with ``run``.
* ``GradientTape.graph()`` and :func:`function` / :func:`trace` (``capture.py``): two ways
  to get one, both recorders over the same primitive calls.
* ``Graph.to_dot`` / ``Graph.draw`` (``dot.py``): forward and backward pictures.
* ``Graph.gradient_graph`` (``derivatives.py``): the derivative as a graph of its own.
* ``Graph.compile`` (``compile.py``): replay on planned, reused buffers.
"""

from .capture import Function, Traced, function, trace
from .dot import GraphvizNotFound, format_value
from .graph import Graph, GraphBuilder, Node, TraceError, Value, VariableUpdate

__all__ = ["Function", "Graph", "GraphBuilder", "GraphvizNotFound", "Node", "TraceError", "Traced", "Value",
           "VariableUpdate", "format_value", "function", "trace"]
