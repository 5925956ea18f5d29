"""Fusion: element-wise chains, column sums and Variable updates become one compiled loop,
and a loop gives the bits of the ops it replaces, edge values included."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import CompiledGraph
from chainrule.compiler.program import Loop
from chainrule.keras import optimizers
from chainrule.primitives import kernels
from chainrule.primitives import table as P
from chainrule.primitives.primitive import bind

numba = pytest.importorskip("numba", reason="fused loops are compiled with numba")
F32 = np.float32
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def numba_kernels():
    previous = kernels.use("numba")
    yield
    kernels.use(previous)


@pytest.fixture(autouse=True)
def quiet_edges():
    """The edge values make NumPy compute inf - inf, 0 / 0 and overflows on purpose: the
    bits of its answers are what the loops must match, so its warnings say nothing here."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yield


def edgy(shape, dtype=F32):
    """Random values with zeros of both signs, NaN, infinities and a subnormal."""
    x = (rng.standard_normal(shape) * np.exp(rng.standard_normal(shape) * 3)).astype(dtype)
    flat = x.reshape(-1)
    edges = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, 1.0]
    flat[:7] = edges[:flat.size]
    return x


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == np.bool_:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{a.itemsize}"))


def loops(compiled):
    return [op.prim for op in compiled.program.ops if isinstance(op.prim, Loop)]


def check(fn, *arrays, expect_loop=True):
    graph = cr.function(fn).get_graph(*[cr.constant(a) for a in arrays])
    compiled = CompiledGraph(graph)
    want = fn(*[cr.constant(a) for a in arrays])
    want = want if isinstance(want, (list, tuple)) else [want]
    for _ in range(2):  # the second run goes over reused buffers
        for got, w in zip(compiled(*arrays), want):
            same_bits(got, w.numpy())
    if expect_loop:
        assert loops(compiled), compiled.program.listing()
    return compiled


ELEMENTWISE = sorted(name for name, p in P.PRIMITIVES.items() if p.elementwise)
SHAPES = {"full": (37, 19), "row": (19,), "column": (37, 1), "scalar": ()}


def test_the_table_says_which_primitives_fuse():
    assert {"add", "subtract", "multiply", "divide", "maximum", "minimum", "relu",
            "relu_grad", "where", "greater"} <= set(ELEMENTWISE)
    # Library functions whose last bit differs between NumPy and numba stay out.
    assert not {"exp", "log", "tanh", "power", "softplus"} & set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_a_loop_gives_the_bits_of_each_primitive(name, layout):
    prim = P.PRIMITIVES[name]
    x = edgy(SHAPES["full"])
    other = edgy(SHAPES[layout])
    mask = rng.random(SHAPES["full"]) < 0.5

    def f(a, b):
        inputs = {"where": (cr.constant(mask), a, b), "cast": (a,)}.get(name)
        if inputs is None:
            arity = 1 if name in ("negative", "sqrt", "abs", "relu", "expm1", "logical_not") else 2
            inputs = (a, b)[:arity]
            if name.startswith("logical"):
                inputs = tuple(t > 0 for t in inputs)
        params = {"dtype": np.dtype(np.float64)} if name == "cast" else {}
        y = bind(prim, tuple(cr.convert_to_tensor(t) for t in inputs), params)
        # A second op, so that there is a chain to fuse.
        return cr.logical_not(y) if y.dtype == np.bool_ else y * cr.constant(1.0, y.dtype)

    check(f, x, other)


def test_a_chain_with_a_bias_and_column_sums_is_one_loop():
    x, b, g = edgy((64, 33)), edgy((33,)), edgy((64, 33))

    def f(x, b, g):
        y = cr.nn.relu(x + b)
        return [y, cr.reduce_sum(g * (y * 2.0 - 1.0), 0)]

    compiled = check(f, x, b, g)
    (loop,) = loops(compiled)
    assert [op.prim.name for op in loop.members] == ["add", "relu", "multiply", "subtract",
                                                     "multiply"]
    assert len(loop.sums) == 1 and len(loop.outputs) == 2  # y, and the sums; not the rest


def test_a_sum_over_every_axis_but_the_last_joins_the_loop():
    # A convolution's bias gradient: (batch, h, w, channels) summed to (channels,), which
    # NumPy adds up in the order of the 2-D view (batch * h * w, channels), row after row.
    g, y = edgy((16, 5, 7, 6)), edgy((16, 5, 7, 6))

    def f(g, y):
        d = bind(P.relu_grad, (g, y), {})
        return [d, cr.reduce_sum(d, axis=[0, 1, 2]),
                cr.reduce_sum(d * 2.0, axis=[0, 1, 2], keepdims=True)]

    compiled = check(f, g, y)
    (loop,) = loops(compiled)
    assert [op.prim.name for op in loop.members] == ["relu_grad", "multiply"]
    assert len(loop.sums) == 2
    # Not every axis but the last, or one column: NumPy's own sum.
    for fn, shape in [(lambda g, y: cr.reduce_sum(g * y, axis=[0]), (4, 5, 6)),
                      (lambda g, y: cr.reduce_sum(g * y, axis=[1, 2]), (4, 5, 6)),
                      (lambda g, y: cr.reduce_sum(g * y, axis=[0, 1, 2]), (4, 5, 6, 1))]:
        compiled = check(fn, edgy(shape), edgy(shape), expect_loop=False)
        assert not any(loop.sums for loop in loops(compiled))


def test_elu_trains_with_the_bits_of_eager_steps():
    x, w = edgy((32, 24)) % 3.0, rng.standard_normal((24, 24)).astype(F32)

    def f(x, w):
        with cr.GradientTape() as tape:
            tape.watch(w)
            y = cr.reduce_sum(cr.nn.selu(cr.nn.elu(cr.matmul(x, w))) * 0.5)
        return [y, tape.gradient(y, w)]

    compiled = check(f, x, w)
    assert any("expm1" in [op.prim.name for op in loop.members] for loop in loops(compiled))


def test_a_value_read_outside_its_loop_is_written_and_ends_the_loop():
    x, w = edgy((16, 8)), rng.standard_normal((8, 8)).astype(F32)

    def f(x, w):
        y = x * 2.0 + 1.0
        z = cr.matmul(y, w)  # reads y: the loop must have run before
        return z + y * 3.0

    compiled = check(f, x, w)
    first, second = loops(compiled)
    assert len(first.members) == 2 and len(first.outputs) == 1


def test_variable_updates_join_the_loop_that_computes_them():
    v = cr.Variable(edgy((20, 7)))
    w = cr.Variable(np.ones((20, 7), F32))

    def f(g):
        v.assign(v * 0.5 + g * g)
        w.assign_sub(g / cr.sqrt(v + 1e-7))  # reads the new v
        return v * 1.0

    g = edgy((20, 7))
    graph = cr.function(f).get_graph(cr.constant(g))
    compiled = CompiledGraph(graph)
    v0, w0 = v.numpy(), w.numpy()
    got = compiled(g)[0]
    v1, w1 = v.numpy(), w.numpy()
    v.assign(v0), w.assign(w0)
    want = f(cr.constant(g))
    same_bits(got, want.numpy())
    same_bits(v1, v.numpy())
    same_bits(w1, w.numpy())
    (loop,) = loops(compiled)
    assert [update.name for _, update, _ in loop.stores] == ["assign", "assign_sub"]


def test_a_loop_never_spans_an_update_it_does_not_take_in():
    v = cr.Variable(np.ones((4, 3), F32))

    def f(x):
        before = x * v  # reads v before the update ...
        v[0].assign(cr.ones(3) * 5.0)  # ... which is a slice update: not fusable
        return before + 1.0, x * v  # ... and after it

    x = edgy((4, 3))
    graph = cr.function(f).get_graph(cr.constant(x))
    v0 = v.numpy()
    got = CompiledGraph(graph)(x)
    v.assign(v0)
    want = f(cr.constant(x))
    for a, b in zip(got, want):
        same_bits(a, b.numpy())


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "rmsprop-centered-momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adam": lambda: optimizers.Adam(0.01),
    "adam-amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
}


def step_program(opt):
    """The compiled program of an optimizer's only step so far."""
    (program,) = opt._programs.values()
    return program


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_updates_a_variable_in_one_loop(name):
    opt = OPTIMIZERS[name]()
    var = cr.Variable(np.ones((6, 5), F32))
    opt.apply_gradients([(np.ones((6, 5), F32), var)])
    ops = step_program(opt).program.ops
    # the step's scalars, one loop over the variable and its slots, the counter
    assert [op.prim.name for op in ops] == ["begin_step", "loop", "assign_add"]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_fused_update_gives_the_bits_of_its_ops_one_by_one(name):
    w0 = rng.standard_normal((64, 33)).astype(F32)
    grads = [edgy((64, 33)) * F32(1e-3) for _ in range(4)]
    for g in grads:
        g[np.isnan(g) | np.isinf(g)] = 0
        g[5:9] = 0  # velocities that decay into the subnormal range
    grads[0][5:9] = 1e-18
    results = []
    for backend in ("numba", "numpy"):  # numpy: no fusion, one NumPy call per op
        kernels.use(backend)
        var, opt = cr.Variable(w0), OPTIMIZERS[name]()
        for g in grads * 10:
            opt.apply_gradients([(g, var)])
        results.append([var.numpy()] + [s.numpy() for s in opt._slot_variables])
    for a, b in zip(*results):
        same_bits(a, b)


def test_a_single_column_is_summed_by_numpy_not_by_the_loop():
    # NumPy sums one contiguous column pairwise; a loop would add it up row after row.
    x = edgy((200, 1))
    compiled = check(lambda x: cr.reduce_sum(x * 3.0 + 1.0, 0), x, expect_loop=True)
    assert not any(loop.sums for loop in loops(compiled))
    x = edgy((200, 2))
    compiled = check(lambda x: cr.reduce_sum(x * 3.0 + 1.0, 0), x)
    assert loops(compiled)[0].sums


def test_a_new_activation_fuses_without_touching_the_compiler():
    """A primitive registered with a one-element form joins loops like the built-in ones."""
    from chainrule.primitives.table import defprimitive

    def leaky_forward(x):
        return np.where(x > 0, x, x * np.float32(0.1))

    leaky = defprimitive("test_leaky", leaky_forward,
                         why="a test activation (its rule does not matter here)",
                         scalar="({0} if {0} > 0 else {0} * {one} / {ten})".replace(
                             "{one} / {ten}", "np.float32(0.1)"))
    try:
        x, b = edgy((16, 9)), edgy((9,))
        compiled = check(lambda x, b: bind(leaky, (x + b,)) * 2.0, x, b)
        assert [op.prim.name for op in loops(compiled)[0].members] == ["add", "test_leaky",
                                                                       "multiply"]
    finally:
        del P.PRIMITIVES["test_leaky"]


class Lion(optimizers.Optimizer):
    """A custom optimizer written the Keras 3 way: sign of an interpolated momentum."""

    def build(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        m = self.slot(variable, "momentum")
        direction = cr.sign(m * 0.9 + gradient * 0.1)
        variable.assign_sub(direction * learning_rate)
        m.assign(m * 0.99 + gradient * 0.01)


def test_a_new_optimizer_gets_one_fused_pass_without_touching_the_compiler():
    var = cr.Variable(np.ones((8, 4), F32))
    opt = Lion(0.01)
    g = edgy((8, 4))
    g[~np.isfinite(g)] = 1.0
    opt.apply_gradients([(g, var)])
    names = [op.prim.name for op in step_program(opt).program.ops]
    # sign has no one-element form in the table: it runs as NumPy between two loops
    assert names.count("loop") == 2 and "sign" in names
    reference = cr.Variable(np.ones((8, 4), F32))
    kernels.use("numpy")
    Lion(0.01).apply_gradients([(g, reference)])
    same_bits(var.numpy(), reference.numpy())
