import numpy as np
import pytest

import chainrule as cr
from chainrule import keras
from chainrule.distribute import LocalCommunicator, data_parallel
from chainrule.keras import layers
from tests.distribute.threads import run_ranks

X = np.random.default_rng(0).random((8, 6), dtype=np.float32)
Y = np.random.default_rng(1).integers(0, 3, 8).astype(np.uint8)


def make_step(seed=0, weights=None):
    cr.random.set_seed(seed)
    model = keras.Sequential([layers.Dense(5, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.build((None, 6))
    if weights is not None:  # threads share the random generator: draws would interleave
        model.set_weights(weights)
    optimizer = keras.optimizers.RMSprop()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def step(x, y):
        with cr.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    return model, step


def test_listing_shows_one_packed_all_reduce_before_the_update():
    _, step = make_step()
    graph = cr.function(step).get_graph(X, Y)
    dp = data_parallel(graph, LocalCommunicator())
    names = [n.prim.name for n in dp]
    assert names.count("all_reduce") == 1 and names.index("all_reduce") < names.index("apply_gradients")
    text = str(dp)
    assert "all_reduce(" in text and "op='mean'" in text and "concat(" in text
    update = dp.nodes[-1]
    reduced = dp.nodes[names.index("all_reduce")].output
    # every gradient the update reads now comes from the reduced buffer
    for g in update.inputs[1::2]:
        v = g
        while v.producer is not None and v.producer.prim.name in ("reshape", "getitem"):
            v = v.producer.inputs[0]
        assert v is reduced
    assert "all_reduce" not in str(graph)  # the original is left as it was
    assert "all_reduce" in cr.graph.to_dot(dp)


def test_unpacked_and_bucketed_forms():
    _, step = make_step()
    graph = cr.function(step).get_graph(X, Y)
    count = lambda g: [n.prim.name for n in g].count("all_reduce")  # noqa: E731
    assert count(data_parallel(graph, LocalCommunicator(), pack=False)) == 4
    # in order: kernel 6x5 (120 bytes), bias 5 (20), kernel 5x3 (60), bias 3 (12); buckets of
    # 100 bytes: the first kernel alone (it is larger), then the other three (92 bytes)
    assert count(data_parallel(graph, LocalCommunicator(), bucket_bytes=100)) == 2
    assert count(data_parallel(graph, LocalCommunicator(), bucket_bytes=64)) == 4
    with pytest.raises(ValueError, match="bucket_bytes"):
        data_parallel(graph, LocalCommunicator(), bucket_bytes=0)


@pytest.mark.parametrize("how", ["run", "compile"])
def test_on_one_rank_the_rewritten_step_trains_as_the_original(how):
    reference, step = make_step()
    graph = cr.function(step).get_graph(X, Y)
    for _ in range(3):
        graph.run(X, Y)
    model, step = make_step()
    dp = data_parallel(cr.function(step).get_graph(X, Y), LocalCommunicator())
    run = dp.run if how == "run" else cr.compiler.compile(dp)
    for _ in range(3):
        run(X, Y)
    for a, b in zip(reference.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_two_thread_ranks_on_halves_train_as_one_rank_on_the_whole_batch():
    reference, step = make_step()
    initial = reference.get_weights()
    run = cr.compiler.compile(cr.function(step).get_graph(X, Y))
    for _ in range(3):
        run(X, Y)

    def work(comm):
        model, step = make_step(weights=initial)
        rows = slice(4 * comm.rank, 4 * comm.rank + 4)
        graph = cr.function(step).get_graph(X[rows], Y[rows])
        run = cr.compiler.compile(data_parallel(graph, comm))
        for _ in range(3):
            run(X[rows], Y[rows])
        return model.get_weights()

    ranks = run_ranks(2, work)
    for a, b, c in zip(reference.get_weights(), *ranks):
        np.testing.assert_array_equal(b, c)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_graph_without_an_optimizer_step_is_refused():
    graph = cr.function(lambda x: x * 2.0).get_graph(X)
    with pytest.raises(ValueError, match="no apply_gradients"):
        data_parallel(graph, LocalCommunicator())
