"""One small function per primitive (and the common compositions), on fixed inputs.

Shared by the capture and compile tests: each case must give the same numbers eagerly,
replayed from a captured graph, and on the compiled executor. ``test_suite_covers_every_
primitive`` fails when a primitive is added to the table without a case here.
"""

import numpy as np

import chainrule as cr
from chainrule.primitives import table as P
from chainrule.primitives.primitive import bind

rng = np.random.default_rng(0)
A = rng.normal(size=(3, 4)).astype(np.float32)
B = rng.normal(size=(3, 4)).astype(np.float32)
ROW = rng.normal(size=(1, 4)).astype(np.float32)
POS = (np.abs(A) + 0.5).astype(np.float32)
M = rng.normal(size=(4, 5)).astype(np.float32)
LABELS = np.array([0, 3, 1], np.uint8)
IDX = np.array([2, 0, 2])

CASES = {
    "add_broadcast": (lambda a, r: a + r, (A, ROW)),
    "subtract": (lambda a, b: a - b, (A, B)),
    "multiply_scalar": (lambda a: a * 2.5, (A,)),
    "divide": (lambda a, p: a / p, (A, POS)),
    "power": (lambda p, b: p ** b, (POS, B)),
    "maximum_minimum": (lambda a, b: cr.maximum(a, b) - cr.minimum(a, b), (A, B)),
    "negative_abs_sign": (lambda a: -cr.abs(a) * cr.sign(a), (A,)),
    "exp_log_sqrt": (lambda p: cr.exp(p) + cr.log(p) * cr.sqrt(p), (POS,)),
    "expm1": (lambda p: cr.math.expm1(p - 1.0) * 2.0, (POS,)),
    "tanh_sigmoid_relu": (lambda a: cr.tanh(a) + cr.sigmoid(a) + cr.nn.relu(a), (A,)),
    "reductions": (lambda a: cr.reduce_sum(a, 1) + cr.reduce_max(a, 1) - cr.reduce_min(a, 1)
                   + cr.reduce_mean(a, 1), (A,)),
    "reduce_all_keepdims": (lambda a: a - cr.reduce_sum(a, keepdims=True), (A,)),
    "reshape_transpose": (lambda a: cr.transpose(cr.reshape(a, (4, 3))) * 2.0, (A,)),
    "broadcast_to": (lambda r: cr.broadcast_to(r, (3, 4)) + 1.0, (ROW,)),
    "getitem_basic": (lambda a: a[1:, ::2] * 3.0, (A,)),
    "getitem_advanced": (lambda a: a[IDX] + 1.0, (A,)),
    "pad": (lambda a: cr.pad(a, [[1, 0], [2, 1]], constant_values=-1.0) * 2.0, (A,)),
    "concat_stack": (lambda a, b: cr.concat([a, b], 0) + cr.reshape(cr.stack([a, b]), (6, 4)), (A, B)),
    "matmul_dense": (lambda a, m: cr.nn.relu(cr.matmul(a, m) + 0.1), (A, M)),
    "dense_op": (lambda a, m: cr.ops.dense(a, m, cr.constant(np.arange(5, dtype=np.float32))), (A, M)),
    "softplus": (lambda a: cr.nn.softplus(a * 3.0), (A,)),
    "where_compare": (lambda a, b: cr.where(a > b, a, b * 2.0), (A, B)),
    # x and y die at the where: a compiled kernel must not overwrite one with the other
    "where_temporaries": (lambda a, b: cr.where(a > b, a * 2.0, b * 3.0), (A, B)),
    "logical": (lambda a, b: cr.cast(cr.logical_or(cr.logical_and(a > 0, b < 0),
                                                   cr.logical_not(a <= b)), cr.float32)
                + cr.cast(cr.equal(a, a), cr.float32) - cr.cast(cr.not_equal(a, b), cr.float32)
                + cr.cast(a >= b, cr.float32), (A, B)),
    "cast_int": (lambda a: cr.cast(cr.cast(a * 10.0, cr.int32), cr.float32), (A,)),
    "stop_gradient": (lambda a: cr.stop_gradient(a) * a, (A,)),
    "softmax_log_softmax": (lambda a: cr.nn.softmax(a) + cr.nn.log_softmax(a), (A,)),
    "sparse_xent": (lambda y, a: cr.nn.sparse_softmax_cross_entropy_with_logits(y, a), (LABELS, A)),
    "argmax_argmin_one_hot": (lambda a: cr.one_hot(cr.argmax(a, axis=1), 4)
                              + cr.one_hot(cr.argmin(a, axis=1), 4), (A,)),
    # a seeded draw is the same at every call, so eager and replayed results agree
    "dropout_seeded": (lambda a: cr.nn.dropout(a, 0.5, seed=3), (A,)),
    # one process: the identity, but a node of the graph all the same
    "all_reduce": (lambda a: cr.distribute.all_reduce(a * 2.0, "sum",
                                                      cr.distribute.LocalCommunicator()) + 1.0, (A,)),
    "floor_round_floordiv_mod": (lambda a: cr.round(a * 3.0) + a // 0.7 + a % 0.7
                                 + cr.math.floor(a), (A,)),
}


def gradient_case(a, b):
    """A case whose graph contains a backward pass (including scatter_add, from getitem)."""
    with cr.GradientTape() as tape:
        tape.watch(a)
        y = cr.reduce_sum(cr.tanh(a[IDX]) * b[:, :1]) + cr.reduce_sum(a[0:2] * 3.0)
    return tape.gradient(y, a)


CASES["gradient_inside"] = (gradient_case, (A, B))


def relu_gradient_case(a, b):
    """relu's derivative rule is a primitive of its own (relu_grad)."""
    with cr.GradientTape() as tape:
        tape.watch(a)
        y = cr.reduce_sum(cr.nn.relu(a) * b)
    return tape.gradient(y, a)


CASES["relu_gradient"] = (relu_gradient_case, (A, B))


IMAGES = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
FILTERS = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)


def windows_gradient_case(x, w):
    """Convolution and pooling, with the primitives of their derivative rules."""
    with cr.GradientTape() as tape:
        tape.watch([x, w])
        y = cr.nn.conv2d(x, w, 1, "SAME")
        p = cr.nn.max_pool2d(y, 2, 2, "VALID") + cr.nn.avg_pool2d(y, 3, 2, "SAME")
        loss = cr.reduce_sum(p * p)
    gx, gw = tape.gradient(loss, [x, w])
    chosen = bind(P.max_pool_gather, (x, x * 2.0), dict(window=(2, 2), strides=(2, 2),
                                                          padding=((0, 0), (0, 0))))
    return cr.concat([cr.reshape(gx, (-1,)), cr.reshape(gw, (-1,)), cr.reshape(chosen, (-1,))], 0)


CASES["windows_gradient"] = (windows_gradient_case, (IMAGES, FILTERS))


TABLE = rng.normal(size=(5, 3)).astype(np.float32)
IDS = np.array([[4, 0], [0, 2]])
TRANSFORMS = np.array([[1, 0, 0.5, 0, 1, -1.5, 0, 0], [0, -1, 5, 1, 0, 0, 0, 0]], np.float32)


def rows_and_images_case(table, ids, images, transforms):
    """Row lookups with their gradient (take_rows, scatter_rows), and image resampling."""
    with cr.GradientTape() as tape:
        tape.watch(table)
        loss = cr.reduce_sum(cr.nn.embedding_lookup(table, ids) ** 2)
    moved = cr.ops.image_transform(images, transforms, "bilinear", "reflect")
    return cr.concat([cr.reshape(tape.gradient(loss, table), (-1,)),
                      cr.reshape(moved, (-1,))], 0)


CASES["rows_and_images"] = (rows_and_images_case, (TABLE, IDS, IMAGES, TRANSFORMS))


def as_tensors(arrays):
    return [cr.constant(a) for a in arrays]
