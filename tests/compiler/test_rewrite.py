"""The rewrites before compiled replay: folding, shared subexpressions, fusion. Each keeps
the numbers eager code gives (compared bit for bit)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import compile
from chainrule.compiler.rewrite import rewrite

rng = np.random.default_rng(0)
X = rng.normal(size=(8, 5)).astype(np.float32)
W = rng.normal(size=(5, 4)).astype(np.float32)
LABELS = np.array([0, 3, 1, 2, 2, 0, 1, 3], np.uint8)


def program(fn, *arrays):
    graph = cr.function(fn).get_graph(*[cr.constant(a) for a in arrays])
    return graph, rewrite(graph)


def compiled_equals_eager(fn, *arrays):
    graph, _ = program(fn, *arrays)
    compiled = compile(graph)
    want = fn(*[cr.constant(a) for a in arrays])
    want = want if isinstance(want, (list, tuple)) else [want]
    for _ in range(2):  # the second call runs on reused buffers
        for got, w in zip(compiled(*arrays), want):
            np.testing.assert_array_equal(got, w.numpy())


def names(prog):
    """The program's ops by name, a fused loop's members in its place."""
    out = []
    for op in prog.ops:
        members = getattr(op.prim, "members", None)
        out += [m.prim.name for m in members] if members else [op.prim.name]
    return out


def test_constants_fold_and_python_numbers_keep_their_weak_type():
    def f(x):
        scale = cr.constant(2.0) * 0.5  # folded; stays float32 like the eager product
        return x * scale

    _, prog = program(f, X)
    assert names(prog) == ["multiply"]
    assert [c.example.dtype for c in prog.constants] == [np.float32]
    compiled_equals_eager(f, X)


def test_repeated_subexpressions_are_computed_once():
    def f(x):
        return cr.nn.softmax(x) + cr.nn.softmax(x) * 2.0

    _, prog = program(f, X)
    assert names(prog).count("softmax") == 1
    compiled_equals_eager(f, X)


def test_random_draws_are_never_shared():
    def f(x):
        return cr.nn.dropout(x, 0.5) - cr.nn.dropout(x, 0.5)

    _, prog = program(f, X)
    assert names(prog).count("random") == 2


def test_reads_are_not_shared_across_an_update():
    v = cr.Variable(np.ones(3, np.float32))

    def f(x):
        before = v * 2.0
        v.assign_add(x)
        return before + v * 2.0

    x = np.arange(3, dtype=np.float32)
    graph, prog = program(f, x)
    assert names(prog).count("multiply") == 2
    np.testing.assert_array_equal(compile(graph)(x)[0], [4.0, 6.0, 8.0])


def training_step(w):
    def step(x, labels):
        with cr.GradientTape() as tape:
            h = cr.nn.relu(cr.ops.dense(x, w, cr.zeros(4)))
            logits = cr.matmul(h, cr.ones((4, 4)))
            loss = cr.reduce_mean(cr.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return [loss, cr.nn.softmax(logits), tape.gradient(loss, w)]
    return step


def test_a_dense_training_step_compiles_to_the_eager_numbers():
    step = training_step(cr.Variable(W))
    compiled_equals_eager(step, X, LABELS)
    _, prog = program(step, X, LABELS)
    # The two softmaxes of the logits (the model's and the gradient's) are one op.
    assert names(prog).count("softmax") == 1


def test_lowering_splits_a_primitive_into_the_parts_its_table_entry_names():
    f = lambda x, w: cr.ops.dense(x, w, cr.ones(4)) * 2.0  # noqa: E731
    graph, _ = program(f, X, W)
    lowered = rewrite(graph, fusion=True)
    assert "dense" not in names(lowered) and "matmul" in names(lowered)
    assert names(rewrite(graph, fusion=False)) == ["dense", "multiply"]
    compiled_equals_eager(f, X, W)


def test_dead_ops_go_but_random_draws_stay():
    def f(x):
        unused = cr.exp(x)  # noqa: F841
        cr.nn.dropout(x, 0.5)  # a draw nobody reads still advances the generator
        return x * 2.0

    _, prog = program(f, X)
    assert "exp" not in names(prog) and "random" in names(prog)


class _ScaledStore:
    """A toy effect, ``v <- x * factor``, that can say what it does as a graph: the
    compiler's inlining pass knows only the ``inline`` method, not this class."""

    name = "scaled_store"
    vjp = None
    why = "it changes a Variable in place"

    def __init__(self, inlinable):
        self.inlinable, self.applied = inlinable, 0

    def apply(self, v, x, factor):
        from chainrule import recording
        if recording.listeners():
            recording.announce_effect(self, (v, x), {"factor": factor})
        with recording.unannounced_updates():
            self.applied += 1
            v.assign(x * factor)

    def changes(self, v, x, factor):
        return [v]

    def inline(self, v, x, factor):
        if not self.inlinable:
            return None
        offset = cr.Variable(np.float32(0.0), name="offset")  # a capture of the inner graph
        return cr.function(lambda w, y: w.assign(y * factor + offset)).get_graph(
            v.variable, np.zeros(x.shape, x.dtype))


@pytest.mark.parametrize("inlinable", [True, False])
def test_an_effect_with_an_inline_graph_runs_as_that_graphs_ops(inlinable):
    effect = _ScaledStore(inlinable)
    v = cr.Variable(np.zeros((8, 4), np.float32))

    def step(x):
        effect.apply(v, cr.matmul(x, W), factor=3.0)
        return cr.reduce_sum(v)  # read after the update: it sees the stored value

    graph = cr.function(step).get_graph(cr.constant(X))
    compiled = compile(graph)
    ops = [op.prim.name for op in compiled.program.ops]
    assert ("scaled_store" in ops) is not inlinable
    before = effect.applied
    (total,) = compiled(X)
    assert effect.applied == before + (not inlinable)  # inlined: its apply never runs
    np.testing.assert_array_equal(v.numpy(), (X @ W) * np.float32(3.0))
    assert total == np.sum((X @ W) * np.float32(3.0), dtype=np.float32)


def test_only_products_large_enough_to_search_share_a_column_scan():
    """A layer's product and its kernel gradient share one scan of ``x`` only when the
    kernels would search a product that size for zero lines; the small ones are bare
    ``np.matmul`` calls in the compiled program, with the same numbers."""
    from chainrule.primitives import kernels

    def layer(x, w, g):
        return cr.matmul(x, w), cr.matmul(cr.transpose(x), g)

    small = (X, W, rng.normal(size=(8, 4)).astype(np.float32))
    big = (rng.normal(size=(128, 784)).astype(np.float32),
           rng.normal(size=(784, 64)).astype(np.float32),
           rng.normal(size=(128, 64)).astype(np.float32))
    assert not kernels.searched(small[0].shape, small[1].shape)
    assert kernels.searched(big[0].shape, big[1].shape)
    for arrays, shared in ((small, False), (big, True)):
        _, prog = program(layer, *arrays)
        scans = [op.params.get("scan") for op in prog.ops if op.prim.name == "matmul"]
        assert len(scans) == 2
        assert (scans[0] is not None and scans[0] is scans[1]) == shared
        compiled_equals_eager(layer, *arrays)
    # (With the native step on, every product goes through its kernel, checked per call.)
    want = None if kernels.native() else np.matmul
    assert kernels.matmul_for(small[0].shape, small[1].shape) is want
    assert kernels.matmul_for(big[0].shape, big[1].shape) is None
