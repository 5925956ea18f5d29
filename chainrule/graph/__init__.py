"""Graphs as data: capture, draw and differentiate computations.

One way up, each module built on those before it:

* :class:`Graph` (``graph.py``): the data: nodes over values, a text listing (``print``),
  replay with ``run``;
* :class:`GraphBuilder` and :func:`from_tape` (``builder.py``): a graph from a stream of
  primitive calls, such as what a GradientTape recorded;
* :func:`trace` and :class:`Function` (``capture.py``): a graph from a traced Python
  function; :func:`chainrule.function` is built on them;
* :func:`gradients` and :func:`gradient_graph` (``derivatives.py``): the derivative as
  numbers, and as a graph of its own;
* :func:`to_dot` and :func:`draw` (``dot.py``): forward and backward pictures, drawn by
  Graphviz or, without it, by ``layout.py`` (a layered layout drawn with matplotlib).

Compiling a graph is :func:`chainrule.compiler.compile`, a package built on this one.
"""

from .builder import GraphBuilder, TraceError, from_tape
from .capture import Function, Traced, function, trace
from .derivatives import gradient_graph, gradients
from .dot import GraphvizNotFound, draw, format_value, to_dot
from .graph import Graph, Node, Value, VariableUpdate

__all__ = ["Function", "Graph", "GraphBuilder", "GraphvizNotFound", "Node", "TraceError", "Traced",
           "Value", "VariableUpdate", "draw", "format_value", "from_tape", "function",
           "gradient_graph", "gradients", "to_dot", "trace"]
