"""Every ONNX lowering of the primitive table against the primitive's own forward: each
case of the gradient tests' spec table (tests/primitives/test_table.py), and a few for the
non-differentiable primitives, is traced, exported, run in onnxruntime and compared."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.onnx import ExportError, TensorSpec, export
from chainrule.primitives import bind
from chainrule.primitives import table as P
from tests.primitives.test_table import SHAPES, SPECS, binary, divisor_pair, pair, unary, values

ort = pytest.importorskip("onnxruntime")
ReferenceEvaluator = pytest.importorskip("onnx.reference").ReferenceEvaluator

NO_FLOAT64_KERNEL = {"Conv", "ConvTranspose", "AveragePool"}


def rounded_pair(draw):
    """Two operands with ties, for comparisons."""
    return [np.round(a) for a in pair(draw)]


def logical(fn):
    return binary(lambda a, b: fn(cr.greater(a, 0.0), cr.greater(b, 0.0)))


def arg_case(fn):
    def make(draw):
        x = values(draw, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
        axis = draw(st.sampled_from(range(x.ndim)))
        return (lambda x: fn(x, axis)), [np.round(x)]  # ties: the first one wins
    return make


def one_hot_case(draw):
    indices = draw(hnp.arrays(np.int64, draw(SHAPES), elements=st.integers(-1, 4)))
    return (lambda i: cr.one_hot(i, 4)), [indices]


# The primitives that carry no gradient, and so have no entry in SPECS.
MORE_SPECS = {
    "equal": binary(cr.equal, rounded_pair),
    "not_equal": binary(cr.not_equal, rounded_pair),
    "less": binary(cr.less, rounded_pair),
    "less_equal": binary(cr.less_equal, rounded_pair),
    "greater": binary(cr.greater, rounded_pair),
    "greater_equal": binary(cr.greater_equal, rounded_pair),
    "logical_and": logical(cr.logical_and),
    "logical_or": logical(cr.logical_or),
    "logical_not": unary(lambda x: cr.logical_not(cr.greater(x, 0.0))),
    "argmax": arg_case(cr.argmax),
    "argmin": arg_case(cr.argmin),
    "one_hot": one_hot_case,
    "sign": unary(lambda x: cr.sign(cr.round(x))),  # zeros too
    "floor": unary(cr.math.floor),
    "round": unary(lambda x: cr.round(x * 2.0)),  # halves, rounded to even both ways
    "floordiv": binary(cr.math.floordiv, divisor_pair),
    "stop_gradient": unary(cr.stop_gradient),
}
CASES = {**SPECS, **MORE_SPECS}
LOWERED = sorted(name for name, p in P.PRIMITIVES.items()
                 if p.onnx is not None and not hasattr(p.onnx, "refusal"))


def test_every_lowering_has_a_case():
    assert set(LOWERED) <= set(CASES), "add a case for each primitive given an onnx= lowering"


def run_both(fn, args, dtype):
    args = [np.asarray(a, dtype if np.asarray(a).dtype.kind == "f" else None) for a in args]
    expected = fn(*[cr.constant(a) for a in args])
    model = export(fn, None, [TensorSpec(a.shape, a.dtype) for a in args])
    if any(node.op_type in NO_FLOAT64_KERNEL for node in model.graph.node) and \
            any(a.dtype == np.float64 for a in args):
        # onnxruntime's CPU provider has float32 kernels only for these; the model is
        # valid ONNX all the same (export ran onnx.checker), and ONNX's reference runtime
        # runs it, except a grouped ConvTranspose, whose kernel it splits along the wrong
        # axis (onnx 1.23): the float32 run has checked those numbers.
        grouped = [node for node in model.graph.node if node.op_type == "ConvTranspose"
                   and any(a.name == "group" and a.i > 1 for a in node.attribute)]
        if grouped:
            return np.asarray(expected), None, model
        session = ReferenceEvaluator(model)
        (got,) = session.run(None, dict(zip(session.input_names, args)))
        return np.asarray(expected), got, model
    session = ort.InferenceSession(model.SerializeToString())
    feed = {i.name: a for i, a in zip(session.get_inputs(), args)}
    (got,) = session.run(None, feed)
    return np.asarray(expected), got, model


@pytest.mark.parametrize("name", LOWERED)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_lowering_matches_the_forward(name, data):
    fn, args = CASES[name](data.draw)
    graph = cr.graph.capture.trace(fn, *args).graph
    assume(name in {node.prim.name for node in graph})  # not a reshape to its own shape
    for dtype in (np.float32, np.float64):
        expected, got, _ = run_both(fn, args, dtype)
        if got is None:
            assert dtype == np.float64 and name == "conv_transpose"
            continue
        assert got.shape == expected.shape and got.dtype == expected.dtype
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fn", [cr.divide, cr.math.floordiv, cr.math.mod])
def test_integer_division_rounds_as_numpy(fn):
    a = np.array([7, -7, 7, -7, 0, 6], np.int64)
    b = np.array([2, 2, -2, -2, 3, -4], np.int64)
    expected, got, _ = run_both(fn, [a, b], np.float32)
    np.testing.assert_array_equal(got, expected)


def test_a_primitive_without_a_lowering_is_named():
    def forward(x):
        return x * 3
    prim = P.defprimitive("test_unexported", forward, why="a test")
    try:
        with pytest.raises(ExportError, match="primitive 'test_unexported' has no ONNX lowering"):
            export(lambda x: bind(prim, (cr.convert_to_tensor(x),)) + 1.0, None,
                   [TensorSpec((None, 2))])
    finally:
        del P.PRIMITIVES["test_unexported"]


def test_random_noise_is_refused_with_the_reason():
    with pytest.raises(ExportError, match="op #0 .*random noise cannot be exported: it comes "
                                          "from chainrule's generator.*Dropout draws nothing"):
        export(lambda x: x + cr.random.uniform((2,)), None, [TensorSpec((2,))])


def test_all_reduce_exports_on_one_process_only():
    from chainrule.distribute.collective_ops import all_reduce
    from chainrule.distribute.communicator import LocalCommunicator

    one = LocalCommunicator()
    fn = lambda x: all_reduce(x * 2.0, "mean", one)  # noqa: E731
    expected, got, model = run_both(fn, [np.arange(6.0).reshape(2, 3)], np.float32)
    np.testing.assert_array_equal(got, expected)
    assert [n.op_type for n in model.graph.node] == ["Mul", "Identity"]

    class TwoRanks(LocalCommunicator):
        size = 2

    with pytest.raises(ExportError, match="all_reduce over 2 ranks cannot be exported: an "
                                          "ONNX model runs in one process"):
        export(lambda x: all_reduce(x, "sum", TwoRanks()), None, [TensorSpec((3,))])


def test_scatter_add_with_a_dynamic_dimension_says_so():
    def fn(g):
        return bind(P.scatter_add, (g,), {"index": np.array([0, 0]), "shape": (4, g.shape[1])})
    with pytest.raises(ExportError, match=r"scatter_add into the shape \(4, None\): a dynamic"):
        export(fn, None, [TensorSpec((2, None))])
    expected, got, _ = run_both(fn, [np.ones((2, 3))], np.float32)  # fixed sizes: fine
    np.testing.assert_array_equal(got, expected)
    basic = lambda g: bind(P.scatter_add, (g,), {  # noqa: E731  (getitem's gradient)
        "index": (slice(1, None), slice(None, None, 2)), "shape": (3, 4)})
    expected, got, _ = run_both(basic, [np.arange(4.0).reshape(2, 2) + 1], np.float64)
    np.testing.assert_array_equal(got, expected)
    assert got[1:, ::2].all() and not got[0].any() and not got[:, 1::2].any()
