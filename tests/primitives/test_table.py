"""Every differentiable primitive against central finite differences (float64), on random
shapes with broadcasting, to first and (for a sample) second order.

SPECS is the test table: one entry per primitive in the table of
chainrule.autodiff.primitives. A primitive without an entry fails
test_every_primitive_has_a_spec.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.primitives import table as P
from chainrule.primitives.primitive import bind
from chainrule.testing import check_grads

from .window_specs import WINDOW_SECOND_ORDER, WINDOW_SPECS

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)


def values(draw, shape, low=-2.0, high=2.0, away_from=None):
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high, width=64)))
    if away_from is not None:  # keep clear of a kink or a pole by at least 0.1
        x = np.where(np.abs(x - away_from) < 0.1, away_from + 0.1 + np.abs(x), x)
    return x


def positive(draw, shape):
    return values(draw, shape, 0.5, 2.0)


def pair(draw, low=-2.0, high=2.0):
    """Two operands of mutually broadcastable shapes."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    return [values(draw, s, low, high) for s in shapes.input_shapes]


def unary(fn, domain=values):
    def make(draw):
        return fn, [domain(draw, draw(SHAPES))]
    return make


def binary(fn, domain=None):
    def make(draw):
        args = pair(draw) if domain is None else domain(draw)
        return fn, args
    return make


def divisor_pair(draw):
    a, b = pair(draw)
    return [a, np.where(np.abs(b) < 0.5, np.sign(b + 1e-3) * (0.5 + np.abs(b)), b)]


def power_pair(draw):
    a, b = pair(draw)
    return [np.abs(a) + 0.5, b]


def mod_pair(draw):
    a, b = pair(draw)
    b = np.abs(b) + 0.7
    # keep a / b away from integers, where mod jumps
    frac = np.mod(a / b, 1.0)
    a = np.where((frac < 0.05) | (frac > 0.95), a + 0.2 * b, a)
    return [a, b]


def mask_pair(draw):
    """A gradient and a relu output kept clear of 0, where the mask switches."""
    g, y = pair(draw)
    return [g, np.where(np.abs(y) < 0.1, 0.1 + np.abs(y), y)]


def distinct_pair(draw):
    a, b = pair(draw)
    return [a, b + np.where(np.abs(a - b) < 0.1, 0.3, 0.0)]


def reduction(fn):
    def make(draw):
        shape = draw(SHAPES)
        axis = draw(st.one_of(st.none(), st.sampled_from(range(len(shape))) if shape else st.none()))
        keepdims = draw(st.booleans())
        x = values(draw, shape)
        # No ties for max/min: distinct ranks 0.1 apart, plus a small part of the draw
        # (adding arange * 1e-3 alone could make a tie, e.g. [0.001, 0.0] -> [0.001, 0.001]).
        ranks = np.argsort(np.argsort(x.ravel(), kind="stable")).reshape(shape)
        x = ranks * 0.1 + x * 1e-3
        return (lambda x: fn(x, axis=axis, keepdims=keepdims)), [x]
    return make


def reshape_case(draw):
    shape = draw(SHAPES)
    size = int(np.prod(shape))
    return (lambda x: cr.reshape(x, (size,) if size % 2 else (2, -1))), [values(draw, shape)]


def transpose_case(draw):
    shape = draw(SHAPES)
    perm = draw(st.permutations(range(len(shape))))
    return (lambda x: cr.transpose(x, perm)), [values(draw, shape)]


def broadcast_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=3))
    target = shapes.result_shape
    return (lambda x: cr.broadcast_to(x, (2,) + target)), [values(draw, shapes.input_shapes[0])]


def getitem_case(draw):
    x = values(draw, draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4)))
    index = draw(st.sampled_from([
        0, -1, slice(None, None, 2), (Ellipsis, 0), (slice(1, None), None),
        np.array([0, 1, 0, 1]),  # repeated indices: gradients add up
        None,
    ]))
    return (lambda x: x[index]), [x]


def scatter_add_case(draw):
    g = values(draw, (4, 3))
    index = np.array([0, 2, 0, 1])
    return (lambda g: bind(P.scatter_add, (g,), {"index": index, "shape": (3, 3)})), [g]


def pad_case(draw):
    x = values(draw, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3)))
    paddings = [[draw(st.integers(0, 2)), draw(st.integers(0, 2))] for _ in range(x.ndim)]
    value = draw(st.sampled_from([0.0, -1.5]))
    return (lambda x: cr.pad(x, paddings, constant_values=value)), [x]


def rows_case(draw):
    """A table of 4 rows read at indices of any rank, some repeated (their gradients add)."""
    index_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    indices = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, 3)))
    row = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    return indices, row


def take_rows_case(draw):
    indices, row = rows_case(draw)
    return (lambda t: cr.nn.embedding_lookup(t, indices)), [values(draw, (4,) + row)]


def scatter_rows_case(draw):
    indices, row = rows_case(draw)
    return (lambda g: bind(P.scatter_rows, (g, cr.constant(indices)), {"rows": 4})), \
        [values(draw, indices.shape + row)]


def concat_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.sampled_from(range(len(shape))))
    other = list(shape)
    other[axis] += 1
    return (lambda a, b: cr.concat([a, b], axis)), [values(draw, shape), values(draw, tuple(other))]


def matmul_case(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(st.sampled_from([((), ()), ((2,), ()), ((2,), (2,)), ((1,), (3,)), ((), (2,))]))
    return cr.matmul, [values(draw, batch_a + (n, k)), values(draw, batch_b + (k, m))]


def dense_case(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (2,)]))
    return cr.ops.dense, [values(draw, lead + (n, k)), values(draw, (k, m)), values(draw, (m,))]


def where_case(draw):
    x, y = pair(draw)
    cond = draw(hnp.arrays(np.bool_, np.broadcast_shapes(x.shape, y.shape)))
    return (lambda x, y: cr.where(cond, x, y)), [x, y]


def cast_case(draw):
    # float64 -> float64 would be no op at all; go through float32 and back
    return (lambda x: cr.cast(cr.cast(x, cr.float32), cr.float64) * 1.0), [values(draw, draw(SHAPES))]


def softmax_case(fn):
    def make(draw):
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
        axis = draw(st.sampled_from(range(-len(shape), len(shape))))
        return (lambda x: fn(x, axis)), [values(draw, shape)]
    return make


def sparse_xent_case(draw):
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    classes = draw(st.integers(2, 5))
    labels = draw(hnp.arrays(np.int32, batch, elements=st.integers(0, classes - 1)))
    return (lambda logits: cr.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)), \
        [values(draw, batch + (classes,))]


SPECS = {
    "add": binary(cr.add),
    "subtract": binary(cr.subtract),
    "multiply": binary(cr.multiply),
    "divide": binary(cr.divide, divisor_pair),
    "power": binary(cr.pow, power_pair),
    "maximum": binary(cr.maximum, distinct_pair),
    "minimum": binary(cr.minimum, distinct_pair),
    "mod": binary(cr.math.mod, mod_pair),
    "negative": unary(cr.negative),
    "exp": unary(cr.exp),
    "expm1": unary(cr.math.expm1),
    "log": unary(cr.log, positive),
    "sqrt": unary(cr.sqrt, positive),
    "abs": unary(cr.abs, lambda draw, s: values(draw, s, away_from=0.0)),
    "tanh": unary(cr.tanh),
    "sigmoid": unary(cr.sigmoid),
    "softplus": unary(cr.nn.softplus),
    "relu": unary(cr.nn.relu, lambda draw, s: values(draw, s, away_from=0.0)),
    "relu_grad": binary(lambda g, y: bind(P.relu_grad, (cr.convert_to_tensor(g),
                                                        cr.convert_to_tensor(y))),
                        mask_pair),
    "reduce_sum": reduction(cr.reduce_sum),
    "reduce_max": reduction(cr.reduce_max),
    "reduce_min": reduction(cr.reduce_min),
    "reshape": reshape_case,
    "transpose": transpose_case,
    "broadcast_to": broadcast_case,
    "getitem": getitem_case,
    "scatter_add": scatter_add_case,
    "pad": pad_case,
    "take_rows": take_rows_case,
    "scatter_rows": scatter_rows_case,
    "concat": concat_case,
    "matmul": matmul_case,
    "dense": dense_case,
    "where": where_case,
    "cast": cast_case,
    "softmax": softmax_case(cr.nn.softmax),
    "log_softmax": softmax_case(cr.nn.log_softmax),
    "sparse_softmax_cross_entropy": sparse_xent_case,
    # on one process (a LocalCommunicator) the collective is the identity, sum or mean
    "all_reduce": unary(lambda x: cr.distribute.all_reduce(
        x, "mean", cr.distribute.LocalCommunicator())),
}
SPECS.update(WINDOW_SPECS)  # convolution and pooling
# stop_gradient's VJP is "no gradient": checked by test_stop_gradient_cuts_the_path.
SPECIAL = {"stop_gradient"}
TOLERANCE = {"cast": dict(eps=1e-2, rtol=1e-4, atol=1e-5)}


def test_every_primitive_has_a_spec():
    differentiable = {name for name, p in P.PRIMITIVES.items() if p.differentiable}
    assert differentiable - SPECIAL == set(SPECS), "add a SPECS entry for each new primitive"
    for name, p in P.PRIMITIVES.items():
        assert p.differentiable or p.why, f"{name}: a non-differentiable primitive must say why"


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_first_order(name, data):
    fn, args = SPECS[name](data.draw)
    check_grads(fn, *args, **TOLERANCE.get(name, {}))


SECOND_ORDER = ["relu_grad", "multiply", "divide", "power", "exp", "log", "sqrt", "tanh", "sigmoid",
                "reduce_sum", "reduce_max", "matmul", "dense", "softplus", "softmax", "log_softmax",
                "sparse_softmax_cross_entropy", "getitem", "concat", "where", "transpose", "pad",
                "take_rows", "scatter_rows", "expm1"]

SECOND_ORDER += WINDOW_SECOND_ORDER


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_second_order(name, data):
    fn, args = SPECS[name](data.draw)
    check_grads(fn, *args, order=2)


def test_stop_gradient_cuts_the_path():
    x = cr.Variable(np.array([1.0, 2.0]))
    with cr.GradientTape() as tape:
        y = cr.stop_gradient(x) * x
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0])


@pytest.mark.parametrize("fn, args", [
    (lambda a, b: cr.tanh(cr.matmul(a, b)) * cr.sigmoid(a[:, :1]), [(3, 4), (4, 2)]),
    (lambda a: cr.reduce_sum(cr.nn.softmax(a * a) * cr.exp(-a), axis=1), [(2, 5)]),
    (lambda a, b: cr.tensordot(cr.sqrt(a), b, axes=([1, 2], [0, 1])), [(2, 3, 4), (3, 4, 2)]),
    (lambda a: cr.reduce_logsumexp(a, axis=0) / cr.reduce_mean(a * a), [(4, 3)]),
    (lambda a, b: cr.concat([a, cr.maximum(a, b)], 0) ** 3, [(2, 2), (1, 2)]),
])
def test_compositions_to_second_order(fn, args):
    rng = np.random.default_rng(7)
    check_grads(fn, *[rng.uniform(0.5, 1.5, s) for s in args], order=2)


def test_third_derivative_of_a_cube():
    x = cr.Variable(2.0)
    with cr.GradientTape() as t3:
        with cr.GradientTape() as t2:
            with cr.GradientTape() as t1:
                y = x * x * x
            dy = t1.gradient(y, x)
        d2y = t2.gradient(dy, x)
    d3y = t3.gradient(d2y, x)
    assert (float(dy), float(d2y), float(d3y)) == (12.0, 12.0, 6.0)
