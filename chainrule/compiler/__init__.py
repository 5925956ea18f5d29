"""The compiled path: a captured :class:`~chainrule.Graph` rewritten, planned and run on bare
arrays.

* :mod:`.rewrite`: passes over the graph that keep every number: constant folding, common
  subexpressions, fusion;
* :mod:`.execute`: buffers planned once and reused by liveness, the program run as a flat
  list of steps.
"""

from .execute import CompiledGraph

__all__ = ["CompiledGraph"]
