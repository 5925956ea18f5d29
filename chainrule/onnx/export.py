"""ONNX export of a captured graph, through the primitive table.

:func:`export` traces a function (or takes a :class:`~chainrule.Graph`) and writes it as
an ONNX model: inputs, the captured Variables as initializers, and each node lowered by its
primitive's ``onnx=`` field (:mod:`chainrule.primitives.table`). There is no list of ops
here: a primitive without a lowering stops the export with an error that names it.

A dimension given as ``None`` in ``input_signature`` stays dynamic. The function is traced
twice, with that dimension 2 and then 3; what differs between the two graphs is what depends
on it (shapes, a reshape's target), and it is written as dynamic. A graph whose structure,
or a constant of which, depends on the size (a mean over the batch divides by it) cannot be
written with that dimension dynamic, and the export says so.

``onnx`` (``pip install 'chainrule[onnx]'``) is imported only when a model is written.
"""

import os
from typing import NamedTuple

import numpy as np

from ..graph.capture import trace
from ..graph.graph import CONSTANT, INPUT, VARIABLE, Graph
from ..primitives.primitive import ONNX_OPSET
from ..version import __version__
from .builder import Emitter, Symbol

__all__ = ["ExportError", "TensorSpec", "export"]

# The ONNX IR version of opset 18 (ONNX 1.13), so that older runtimes read the file too.
IR_VERSION = 8


class TensorSpec(NamedTuple):
    """The shape (``None`` for a dynamic dimension) and dtype of one input, and its name
    in the exported model (TensorFlow's ``tf.TensorSpec``)."""

    shape: tuple
    dtype: object = "float32"
    name: object = None


class ExportError(ValueError):
    """A function or graph cannot be written as ONNX; the message says why and what to do."""


def export(function_or_graph, path=None, input_signature=None, *, input_names=None,
           output_names=None, name=None):
    """Writes a function or graph as an ONNX model to ``path`` and returns the model
    (an ``onnx.ModelProto``; ``path=None`` writes nothing).

    Args:
        function_or_graph: a :class:`~chainrule.Graph` (exported with its shapes), or a
            function of tensors (a ``chainrule.function``, a Keras model, any callable)
            traced on ``input_signature``.
        input_signature: one :class:`TensorSpec` (or anything with ``shape`` and
            ``dtype``: an array, a ``keras.Input``) per positional argument; ``None`` in a
            shape marks a dynamic dimension.
        input_names, output_names: names of the model's inputs and outputs (default: the
            specs' names, else the graph's, else ``input_0``..., ``output_0``...).

    The model passes ``onnx.checker`` before it is written; the file appears whole or
    not at all.

    >>> import chainrule as cr
    >>> model = export(lambda x: cr.nn.relu(x) * 2.0, None, [TensorSpec((None, 3))])
    >>> [node.op_type for node in model.graph.node]
    ['Relu', 'Mul']
    """
    onnx = _onnx()
    graph, shapes, params = _captured(function_or_graph, input_signature)
    specs = None if input_signature is None else _specs(input_signature)
    if input_names is None:
        input_names = [(s.name if specs and s.name else v.name) or f"input_{i}"
                       for i, (v, s) in enumerate(zip(graph.inputs, specs or graph.inputs))]
    if output_names is None:
        output_names = [f"output_{i}" for i in range(len(graph.outputs))]
    _check_names("input", input_names, len(graph.inputs))
    _check_names("output", output_names, len(graph.outputs))
    if len(set(input_names) | set(output_names)) < len(input_names) + len(output_names):
        raise ExportError(f"input and output names must all differ; received inputs "
                          f"{list(input_names)} and outputs {list(output_names)}")
    model = _model(onnx, graph, shapes, params, list(input_names), list(output_names),
                   name or graph.name)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"the ONNX model of '{graph.name}' does not pass onnx.checker "
                          f"(a lowering in the primitive table writes it wrongly): {error}") from error
    if path is not None:
        _write_atomically(os.fspath(path), model.SerializeToString())
    return model


def _onnx():
    try:
        import onnx  # optional: chainrule[onnx]
    except ImportError as error:
        raise ImportError("exporting to ONNX needs the onnx package: pip install "
                          "'chainrule[onnx]' (or pip install onnx)") from error
    return onnx


def _check_names(what, names, count):
    names = list(names)
    if len(names) != count or len(set(names)) != count or not all(
            isinstance(n, str) and n for n in names):
        raise ExportError(f"{what}_names: expected {count} distinct non-empty names; "
                          f"received {names}")


# -- capturing ---------------------------------------------------------------------------------

def _specs(signature):
    if isinstance(signature, TensorSpec) or hasattr(signature, "shape"):
        signature = [signature]
    specs = []
    for i, s in enumerate(signature):
        if not isinstance(s, TensorSpec):
            if not (hasattr(s, "shape") and hasattr(s, "dtype")):
                raise ExportError(f"input_signature[{i}]: expected a TensorSpec (or an array, "
                                  f"a tensor, a keras.Input); received {s!r}")
            s = TensorSpec(tuple(s.shape), s.dtype, getattr(s, "name", None))
        shape = tuple(None if d is None else int(d) for d in s.shape)
        specs.append(TensorSpec(shape, np.dtype(getattr(s.dtype, "name", s.dtype)), s.name))
    return specs


def _captured(fn, signature):
    """``(graph, shapes, params)``: the pruned graph, each value's shape and each node's
    params, with ``None`` where they vary with a dynamic dimension."""
    if isinstance(fn, Graph):
        if signature is not None and any(d is None for s in _specs(signature) for d in s.shape):
            raise ExportError(f"graph '{fn.name}' has fixed shapes; to keep a dimension "
                              f"dynamic, export the function it was traced from")
        graph = fn.pruned()
        return graph, {v.index: v.shape for v in graph.values}, [n.params for n in graph]
    if signature is None:
        raise ExportError("export: give input_signature (one TensorSpec per argument) to "
                          "trace a function")
    specs = _specs(signature)
    first = _trace(fn, specs, 2)
    if not any(d is None for s in specs for d in s.shape):
        return first, {v.index: v.shape for v in first.values}, [n.params for n in first]
    return _merged(first, _trace(fn, specs, 3))


def _trace(fn, specs, size):
    args = [np.zeros(tuple(size if d is None else d for d in s.shape), s.dtype) for s in specs]
    with np.errstate(all="ignore"):  # only the ops matter, not what they give on zeros
        traced = trace(fn, *args)
    if traced.value_reads:
        raise ExportError(f"'{traced.graph.name}' reads tensor values into Python while it is "
                          f"traced ({'; '.join(traced.value_reads[:3])}): the exported graph "
                          f"would repeat what it did with them. Compute with ops instead "
                          f"(chainrule.where, chainrule.cond)")
    literals = traced.literals
    if literals:
        raise ExportError(f"'{traced.graph.name}' returns values that are not tensors "
                          f"({literals[:3]}); an ONNX model's outputs are tensors")
    return traced.graph.pruned()


def _merged(a, b):
    """Shapes and params of graph ``a``, with ``None`` where graph ``b`` (traced with other
    dynamic sizes) differs; an error where the graphs differ otherwise."""
    def differ(what):
        return ExportError(f"'{a.name}' cannot be exported with a dynamic dimension: {what} "
                           f"depends on its size. Give input_signature fixed sizes instead")

    if len(a.values) != len(b.values) or len(a.nodes) != len(b.nodes):
        raise differ("the graph's structure")
    shapes = {}
    for va, vb in zip(a.values, b.values):
        if va.kind != vb.kind or len(va.shape) != len(vb.shape):
            raise differ(f"value {va.ref} ({va.label})")
        if va.kind == CONSTANT and not (va.shape == vb.shape and np.array_equal(
                np.asarray(va.example), np.asarray(vb.example))):
            raise differ(f"the constant {va.ref} ({_short(va.example)} against "
                         f"{_short(vb.example)}; a mean over that dimension divides by it)")
        shapes[va.index] = tuple(d if d == e else None for d, e in zip(va.shape, vb.shape))
    params = []
    for na, nb in zip(a.nodes, b.nodes):
        if na.prim is not nb.prim or [v.index for v in na.inputs] != [v.index for v in nb.inputs]:
            raise differ(f"the graph's structure (op #{na.index} is {na.prim.name} or "
                         f"{nb.prim.name})")
        merged = {}
        for key, pa in na.params.items():
            merged[key] = _merged_param(pa, nb.params.get(key))
            if merged[key] is _DIFFERENT:
                raise differ(f"the parameter {key}={pa!r} of op #{na.index} ({na.prim.name})")
        params.append(merged)
    return a, shapes, params


_DIFFERENT = object()


def _merged_param(a, b):
    """``a`` if the two are equal; a tuple of ints with None where two differ; else _DIFFERENT."""
    if type(a) is not type(b):
        return _DIFFERENT
    if isinstance(a, np.ndarray):
        return a if a.shape == b.shape and np.array_equal(a, b) else _DIFFERENT
    if isinstance(a, tuple) and len(a) == len(b) and all(
            isinstance(x, (int, type(None))) and isinstance(y, (int, type(None)))
            for x, y in zip(a, b)):
        return tuple(x if x == y else None for x, y in zip(a, b))
    try:
        return a if bool(a == b) else _DIFFERENT
    except (TypeError, ValueError):  # arrays inside tuples (an index)
        return a if repr(a) == repr(b) else _DIFFERENT


def _short(x):
    a = np.asarray(x)
    return f"{a.item():.4g}" if a.size == 1 else f"an array of shape {a.shape}"


# -- writing -------------------------------------------------------------------------------------

def _model(onnx, graph, shapes, params, input_names, output_names, name):
    from onnx import helper, numpy_helper

    emit = Emitter()
    emit._taken.update(input_names + output_names)
    symbols, sources = {}, set()  # sources: names that no node makes (inputs, initializers)
    for v, input_name in zip(graph.inputs, input_names):
        symbols[v.index] = Symbol(input_name, shapes[v.index], v.dtype)
        sources.add(input_name)
    for v in graph.values:
        if v.kind == VARIABLE:
            var_name = emit.fresh(_clean(v.variable.name))
            emit.constants[var_name] = np.asarray(v.variable._value)
            symbols[v.index] = Symbol(var_name, v.shape, v.dtype)
        elif v.kind == CONSTANT:
            symbols[v.index] = emit.constant(v.example, v.dtype)
        elif v.kind != INPUT:
            continue
        sources.add(symbols[v.index].name)
    for node, node_params in zip(graph.nodes, params):
        symbols[node.output.index] = _lower(emit, graph, node, node_params, symbols, shapes)
    for v, out_name in zip(graph.outputs, output_names):
        current = symbols[v.index].name
        if current in sources or current in output_names:  # not a node's own output
            current = emit("Identity", symbols[v.index]).name
        emit.rename(current, out_name)
        for key, s in symbols.items():
            if s.name == current:
                symbols[key] = Symbol(out_name, s.shape, s.dtype)

    def value_info(n, shape, dtype, dynamic):
        dims = [d if d is not None else dynamic(axis) for axis, d in enumerate(shape)]
        return helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(dtype), dims)

    _escape_noop_elimination(emit)
    inputs = [value_info(n, shapes[v.index], v.dtype,
                         lambda axis, n=n: "batch" if axis == 0 else f"{n}_dim{axis}")
              for v, n in zip(graph.inputs, input_names)]
    outputs = [value_info(n, shapes[v.index], v.dtype, lambda axis: None)
               for v, n in zip(graph.outputs, output_names)]
    nodes = [helper.make_node(op, ins, outs, name=f"{outs[0]}_{op}",
                              **{k: _attribute(helper, a) for k, a in attrs.items()})
             for op, ins, outs, attrs in emit.nodes]
    initializers = [numpy_helper.from_array(np.asarray(a, order="C"), n)
                    for n, a in emit.constants.items()]
    proto = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(proto, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              producer_name="chainrule", producer_version=__version__)
    model.ir_version = IR_VERSION
    return model


def _escape_noop_elimination(emit):
    """Writes ``x + c`` as ``Sum`` where the constant ``c`` is tiny but not 0.

    onnxruntime's NoopElimination (a default optimization, 1.32 included) drops an Add or
    Sub whose one-element constant is within float32's epsilon (1.2e-7) of zero, as if it
    added 0: a series with float64 coefficients near 1e-100 (erf's, in the exact gelu)
    would lose them. ``Sum`` is the same addition, and that pass leaves it alone."""
    eps = float(np.finfo(np.float32).eps)

    def tiny(name):
        c = emit.constants.get(name)
        return c is not None and c.size == 1 and c.dtype.kind == "f" and 0 < abs(c.item()) <= eps

    for i, (op, ins, outs, attrs) in enumerate(emit.nodes):
        if op == "Add" and any(tiny(n) for n in ins):
            emit.nodes[i] = ("Sum", ins, outs, attrs)
        elif op == "Sub" and tiny(ins[1]):
            negated = emit.constant(-emit.constants[ins[1]], emit.constants[ins[1]].dtype)
            emit.nodes[i] = ("Sum", [ins[0], negated.name], outs, attrs)


def _lower(emit, graph, node, params, symbols, shapes):
    if node.is_update:
        raise ExportError(f"'{graph.name}' changes a Variable ({node}): a training step "
                          f"cannot be exported; export the model's forward pass")
    lowering = getattr(node.prim, "onnx", None)
    if lowering is None:
        raise ExportError(f"cannot export '{graph.name}': the primitive '{node.prim.name}' has "
                          f"no ONNX lowering (no onnx= in its entry of the primitive table, "
                          f"chainrule/primitives/table.py); op #{node.index}: {node}")
    try:
        result = lowering(emit, *[symbols[v.index] for v in node.inputs], **params)
    except ValueError as error:
        raise ExportError(f"cannot export '{graph.name}': op #{node.index} ({node}): "
                          f"{error}") from error
    out = node.output
    return Symbol(result.name, shapes[out.index], out.dtype)


def _attribute(helper, value):
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return helper.np_dtype_to_tensor_dtype(np.dtype(value))
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def _clean(name):
    """A variable's name as an ONNX tensor name (``dense/kernel:0`` -> ``dense/kernel``)."""
    return (name or "variable").split(":")[0] or "variable"


def _write_atomically(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as f:
            f.write(data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
