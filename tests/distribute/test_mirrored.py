"""MirroredStrategy: data-parallel training over threads of one process.

The fit tests train the MPI tests' model and data (tests/distribute/mpi_worker.py: the book's
network, 300 samples by 64, a last batch of 44, shuffling on) and compare with one process;
three replicas make every share uneven (64 -> 21, 21, 22; 44 -> 14, 15, 15).
"""

import threading

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.distribute import MirroredStrategy, PerReplica, ThreadGroup
from chainrule.keras import distribute as keras_distribute
from tests.distribute import mpi_worker
from tests.distribute.test_mpi import assert_same_weights, one_rank

TWO = ["/cpu:0", "/cpu:1"]
THREE = ["/cpu:0", "/cpu:1", "/cpu:2"]


def weights_of(model):
    return [np.array(w.numpy()) for w in model.weights]


def replicas_of(model):
    return keras_distribute._made[model][1]


@pytest.fixture(scope="module")
def reference():
    """One process, compiled and not."""
    return {jit: mpi_worker.train_fit(one_rank(), jit_compile=jit) for jit in (True, False)}


@pytest.mark.parametrize("devices", [TWO, THREE], ids=["2 replicas", "3 replicas"])
@pytest.mark.parametrize("jit", [True, False], ids=["compiled", "eager"])
def test_fit_ends_with_the_weights_of_one_process(devices, jit, reference):
    model, history = mpi_worker.train_fit(MirroredStrategy(devices), jit_compile=jit)
    alone, alone_history = reference[jit]
    assert_same_weights(alone.weights, {f"w{i}": w for i, w in enumerate(weights_of(model))})
    np.testing.assert_allclose(history.history["loss"], alone_history.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(history.history["accuracy"], alone_history.history["accuracy"],
                               rtol=1e-6)
    # every replica made the same updates
    for replica in replicas_of(model)[1:]:
        for a, b in zip(weights_of(model), weights_of(replica)):
            np.testing.assert_array_equal(a, b)


def test_runs_repeat_bit_for_bit():
    runs = [weights_of(mpi_worker.train_fit(MirroredStrategy(THREE), jit_compile=True)[0])
            for _ in range(2)]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_the_global_generator_advances_as_in_one_process(reference):
    """The replicas' copies are drawn without touching the global generator, and replica 0
    draws the shuffling seed from it as one process does: the same batches."""
    mpi_worker.train_fit(MirroredStrategy(TWO), jit_compile=True)
    after_mirrored = tf.random.generator().random()
    mpi_worker.train_fit(one_rank(), jit_compile=True)
    assert tf.random.generator().random() == after_mirrored


def test_evaluate_predict_and_the_on_batch_calls_match_one_process(reference):
    alone = reference[True][0]
    x, y = mpi_worker.data()
    strategy = MirroredStrategy(THREE)
    with strategy.scope():
        model = mpi_worker.book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    model.build((None, 784))
    model.set_weights(alone.get_weights())  # the replicas get these at the next call
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=70, verbose=0),
                               alone.evaluate(x, y, batch_size=70, verbose=0), rtol=1e-6)
    predicted = model.predict(x, batch_size=70, verbose=0)
    assert predicted.shape == (300, 10)
    np.testing.assert_allclose(predicted, alone.predict(x, batch_size=70, verbose=0), atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:7]), alone.predict_on_batch(x[:7]),
                               atol=1e-6)
    np.testing.assert_allclose(model.test_on_batch(x[:50], y[:50]),
                               alone.test_on_batch(x[:50], y[:50]), rtol=1e-6)
    clone = keras.models.clone_model(alone)
    clone.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    clone.set_weights(alone.get_weights())
    np.testing.assert_allclose(model.train_on_batch(x[:50], y[:50]),
                               clone.train_on_batch(x[:50], y[:50]), rtol=1e-5)
    assert_same_weights(clone.weights, {f"w{i}": w for i, w in enumerate(weights_of(model))})


def test_callbacks_run_once_and_the_replicas_follow_replica_0():
    """Replica 0 runs the callbacks (a callback that counts sees each epoch once); early
    stopping and a learning-rate schedule reach every replica, which stay identical."""
    x, y = mpi_worker.data()
    seen = []
    strategy = MirroredStrategy(TWO)
    with strategy.scope():
        model = mpi_worker.book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e)),
                 keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: setattr(
                     model.optimizer, "learning_rate", 1e-3 / (e + 1))),
                 keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)]
    history = model.fit(x, y, batch_size=64, epochs=5, verbose=0, callbacks=callbacks)
    assert seen == [0, 1] and len(history.history["loss"]) == 2  # stopped after epoch 2
    other = replicas_of(model)[1]
    assert float(other.optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
    for a, b in zip(weights_of(model), weights_of(other)):
        np.testing.assert_array_equal(a, b)


def test_run_reduce_and_a_distributed_dataset():
    strategy = MirroredStrategy(THREE)
    assert strategy.num_replicas_in_sync == 3

    def fn(value):
        ctx = tf.distribute.get_replica_context()
        assert tf.distribute.get_strategy() is strategy
        total = ctx.all_reduce("sum", tf.constant(np.float32(ctx.replica_id_in_sync_group)))
        return value * 2, total
    doubled, totals = zip(*strategy.experimental_local_results(
        strategy.run(lambda v: fn(v), args=(PerReplica([1.0, 2.0, 3.0]),))))
    assert doubled == (2.0, 4.0, 6.0) and [float(t) for t in totals] == [3.0] * 3
    data = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)).batch(10)
    (batch,) = list(strategy.experimental_distribute_dataset(data))
    shares = [np.asarray(v).tolist() for v in strategy.experimental_local_results(batch)]
    assert shares == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    summed = strategy.run(lambda v: tf.reduce_sum(v), args=(batch,))
    assert float(strategy.reduce("sum", summed)) == 45.0
    means = strategy.run(lambda v: v, args=(batch,))
    assert float(strategy.reduce("mean", means, axis=0)) == 4.5  # every element alike


def test_the_chapters_loop_inside_run_updates_once():
    """The MPI tests' custom loop, run by strategy.run: the shared variables are updated
    once per step (by replica 0), as one process updates them."""
    expected = mpi_worker.train_custom(one_rank(), use_function=False)
    x, y = mpi_worker.data()
    tf.random.set_seed(mpi_worker.SEED)
    model = mpi_worker.NaiveSequential([mpi_worker.NaiveDense(784, 512, tf.nn.relu),
                                        mpi_worker.NaiveDense(512, 10, tf.nn.softmax)])
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-3)
    strategy = MirroredStrategy(TWO)

    def one_training_step(images_batch, labels_batch):
        images_batch, labels_batch = strategy.shard(images_batch, labels_batch)
        with tf.GradientTape() as tape:
            predictions = model(images_batch)
            average_loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels_batch, predictions))
        gradients = tape.gradient(average_loss, model.weights)
        gradients = tf.distribute.get_replica_context().all_reduce("mean", gradients)
        optimizer.apply_gradients(zip(gradients, model.weights))
        return average_loss

    with strategy.scope():
        for _ in range(mpi_worker.EPOCHS):
            for start in range(0, len(x), 64):
                strategy.run(one_training_step, args=(x[start:start + 64], y[start:start + 64]))
    assert int(optimizer.iterations.numpy()) == mpi_worker.EPOCHS * 5
    assert_same_weights(expected, {f"w{i}": np.asarray(w.numpy())
                                   for i, w in enumerate(model.weights)})


def test_a_failing_replica_stops_the_others_with_its_own_error():
    strategy = MirroredStrategy(TWO)

    def fn():
        ctx = tf.distribute.get_replica_context()
        if ctx.replica_id_in_sync_group == 1:
            raise ValueError("replica 1 fails on purpose")
        return ctx.all_reduce("sum", tf.constant(1.0))  # replica 0 would wait here forever
    with pytest.raises(ValueError, match="replica 1 fails on purpose"):
        strategy.run(fn)
    # the strategy is usable again
    assert [float(v) for v in strategy.run(
        lambda: tf.distribute.get_replica_context().all_reduce("sum", tf.constant(1.0))
    ).values] == [2.0, 2.0]


def test_bad_data_in_fit_raises_the_replicas_error():
    strategy = MirroredStrategy(TWO)
    with strategy.scope():
        model = mpi_worker.book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x, y = mpi_worker.data()
    with pytest.raises(ValueError, match="samples"):
        model.fit(x, y[:10], batch_size=64, verbose=0)


@pytest.mark.parametrize("devices, message", [
    (["/gpu:0"], "CPU threads"), ([], "at least one device"), (["/cpu:0", "/cpu:0"], "different"),
    (["cpu"], "CPU threads")])
def test_bad_devices_are_refused_clearly(devices, message):
    with pytest.raises(ValueError, match=message):
        MirroredStrategy(devices)


def test_device_names_and_the_default():
    assert MirroredStrategy(["/device:CPU:0", "/job:localhost/replica:0/task:0/cpu:1"]).devices \
        == ("/cpu:0", "/cpu:1")
    assert MirroredStrategy().num_replicas_in_sync >= 1
    assert tf.distribute.MirroredStrategy is MirroredStrategy


def test_replica_work_outside_a_replica_is_refused_clearly():
    strategy = MirroredStrategy(TWO)
    with pytest.raises(RuntimeError, match="strategy.run"):
        strategy.shard(np.arange(4))
    with pytest.raises(RuntimeError, match="strategy.run"):
        strategy.communicator.all_reduce(np.ones(1))
    with strategy.scope():
        model = mpi_worker.book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x, y = mpi_worker.data(8)
    with pytest.raises(RuntimeError, match="outside strategy.run"):
        strategy.run(lambda: model.fit(x, y, verbose=0))
    assert strategy.run(lambda: strategy.run(lambda: 1)).values == (1, 1)  # inside: fn there


def test_the_thread_communicator_sums_in_rank_order():
    group = ThreadGroup(3)
    parts = [np.float32(1e8), np.float32(1.0), np.float32(-1e8)]
    out = [None] * 3

    def work(comm):
        out[comm.rank] = comm.all_reduce(np.array([parts[comm.rank]]), "sum")[0]
    threads = [threading.Thread(target=work, args=(c,)) for c in group.communicators()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [(parts[0] + parts[1]) + parts[2]] * 3  # 0.0: the order shows


def test_the_native_step_on_the_replicas_ends_with_the_weights_of_one_process():
    """With the native step on, each replica's products run on its own thread (numba's
    count is per thread), and the training is still one process's (without numba the
    native step stays off, and this is the compiled test again)."""
    previous = tf.config.set_native_step(True)
    try:
        model, _ = mpi_worker.train_fit(MirroredStrategy(TWO), jit_compile=True)
        alone, _ = mpi_worker.train_fit(one_rank(), jit_compile=True)
    finally:
        tf.config.set_native_step(previous)
    assert_same_weights(alone.weights, {f"w{i}": w for i, w in enumerate(weights_of(model))})


def test_a_dataset_given_to_fit_is_refused_with_what_to_do_instead():
    strategy = MirroredStrategy(TWO)
    with strategy.scope():
        model = mpi_worker.book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x, y = mpi_worker.data(32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(TypeError, match="experimental_distribute_dataset"):
        model.fit(data, verbose=0)
    with pytest.raises(TypeError, match=r"validation_data=\.\.\."):
        model.fit(x, y, validation_data=data, verbose=0)
