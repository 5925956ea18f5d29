"""ONNX export: ``chainrule.onnx.export(function_or_graph, path, input_signature=...)``
writes a captured graph as an ONNX model that ``onnxruntime`` and other programs serve.

Each primitive says how it lowers to ONNX operators in its table entry (``onnx=``, through
the small interface of :mod:`.builder`); :mod:`.export` traces, lowers and writes. Needs
the optional ``onnx`` package (``pip install 'chainrule[onnx]'``) only when writing.
"""

from .builder import Emitter, Symbol
from .export import ExportError, TensorSpec, export

__all__ = ["Emitter", "ExportError", "Symbol", "TensorSpec", "export"]
