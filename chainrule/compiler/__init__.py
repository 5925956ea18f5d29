"""The compiled path: a captured :class:`~chainrule.Graph` rewritten, planned and run on bare
arrays. It is built on :mod:`chainrule.graph`, which knows nothing of it.

* :mod:`.program`: the program as data (ops, fused loops);
* :mod:`.rewrite`: passes over the graph that keep every number: constant folding, common
  subexpressions, fusion (:mod:`.fusion`, :mod:`.codegen`);
* :mod:`.execute`: buffers planned once and reused by liveness (:mod:`.plan`), the program
  run as a flat list of steps; :func:`compile` makes a :class:`CompiledGraph` of a graph;
* :mod:`.jit`: ``chainrule.function``, whose ``jit_compile=True`` replays run compiled.
"""

from .execute import CompiledGraph, compile
from .jit import function

__all__ = ["CompiledGraph", "compile", "function"]
