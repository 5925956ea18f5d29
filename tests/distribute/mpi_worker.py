"""What the multi-process tests run on each rank: ``python -m chainrule.launch -n 2
tests/distribute/mpi_worker.py MODE OUT_DIR``. Each training function here also runs in the
test process on one rank, to give the reference weights.

Every rank writes ``OUT_DIR/{mode}_rank{r}.npz``: the final weights (``w0``, ``w1``, ...)
and, for ``fit``, the history and evaluate/predict results. Mode ``equivalence`` runs the
collective checks and the five training modes one after the other in one job.
"""

import os
import signal
import sys
import time

import numpy as np

import chainrule as tf
from chainrule import keras
from chainrule.keras import layers

EPOCHS = 2
SEED = 7


def data(n=300, features=784, classes=10):
    """MNIST-like synthetic data: pixels in [0, 1) with about 60% exact zeros."""
    rng = np.random.default_rng(0)
    x = rng.random((n, features), dtype=np.float32)
    x *= rng.random((n, features)) > 0.6
    y = rng.integers(0, classes, n).astype(np.uint8)
    return x, y


def book_model():
    return keras.Sequential([layers.Dense(512, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def train_fit(strategy, jit_compile, callbacks=(), batch_size=64, epochs=EPOCHS):
    """The book's model trained by fit (2 epochs): 300 samples by 64 leave a last batch of
    44, and shuffling is on."""
    x, y = data()
    tf.random.set_seed(SEED)
    with strategy.scope():
        model = book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit_compile)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=2,
                        callbacks=list(callbacks))
    return model, history


# -- chapter 2's from-scratch model and loop, data-parallel by the two marked lines ---------

class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        self.W = tf.Variable(tf.random.uniform((input_size, output_size), minval=0, maxval=1e-1))
        self.b = tf.Variable(tf.zeros((output_size,)))

    def __call__(self, inputs):
        return self.activation(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        for layer in self.layers:
            inputs = layer(inputs)
        return inputs

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]


def train_custom(strategy, use_function, batch_size=64):
    """The chapter's GradientTape loop with RMSprop's apply_gradients; 300 samples by 64."""
    x, y = data()
    tf.random.set_seed(SEED)
    model = NaiveSequential([NaiveDense(784, 512, tf.nn.relu),
                             NaiveDense(512, 10, tf.nn.softmax)])
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-3)

    def one_training_step(model, images_batch, labels_batch):
        with tf.GradientTape() as tape:
            predictions = model(images_batch)
            per_sample_losses = tf.keras.losses.sparse_categorical_crossentropy(
                labels_batch, predictions)
            average_loss = tf.reduce_mean(per_sample_losses)
        gradients = tape.gradient(average_loss, model.weights)
        gradients = tf.distribute.get_replica_context().all_reduce("mean", gradients)  # (2)
        optimizer.apply_gradients(zip(gradients, model.weights))
        return average_loss

    step = tf.function(one_training_step) if use_function else one_training_step
    with strategy.scope():
        for epoch in range(EPOCHS):
            for start in range(0, len(x), batch_size):
                images_batch, labels_batch = x[start:start + batch_size], y[start:start + batch_size]
                images_batch, labels_batch = strategy.shard(images_batch, labels_batch)  # (1)
                step(model, images_batch, labels_batch)
    return model.weights


def train_graph(communicator, batch_size=64):
    """A captured training step, rewritten by data_parallel and run compiled; the global
    batch is split evenly (256 samples by 64: every rank's share has one shape)."""
    x, y = data(256)
    tf.random.set_seed(SEED)
    model = book_model()
    model.build((None, 784))
    optimizer = keras.optimizers.RMSprop()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    share = batch_size // communicator.size
    start = communicator.rank * share
    graph = tf.function(step).get_graph(x[:share], y[:share])
    run = tf.compiler.compile(tf.distribute.data_parallel(graph, communicator))
    for epoch in range(EPOCHS):
        for first in range(0, len(x), batch_size):
            rows = slice(first + start, first + start + share)
            run(x[rows], y[rows])
    return model.weights


class _KillAt(keras.callbacks.Callback):
    """Kills this process at the start of epoch ``epoch`` (a crash, not an exception), once
    the file ``wait_for`` (rank 0's backup) exists, so the crash cannot cut its writing."""

    def __init__(self, epoch, wait_for):
        super().__init__()
        self.epoch, self.wait_for = epoch, wait_for

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            deadline = time.monotonic() + 60
            while not os.path.exists(self.wait_for) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)


def _save(out_dir, name, weights, **extra):
    arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(weights)}
    np.savez(os.path.join(out_dir, f"{name}.npz"), **arrays, **extra)


def run_mode(strategy, mode, out_dir):
    comm = strategy.communicator
    if mode in ("fit", "fit_jit"):
        model, history = train_fit(strategy, jit_compile=(mode == "fit_jit"))
        x, y = data()
        evaluated = model.evaluate(x, y, batch_size=70, verbose=0)
        predicted = model.predict(x, batch_size=70, verbose=0)
        _save(out_dir, f"{mode}_rank{comm.rank}", model.weights, loss=history.history["loss"],
              accuracy=history.history["accuracy"], evaluated=evaluated, predicted=predicted)
    elif mode in ("custom", "custom_function"):
        _save(out_dir, f"{mode}_rank{comm.rank}",
              train_custom(strategy, mode == "custom_function"))
    elif mode == "graph":
        _save(out_dir, f"{mode}_rank{comm.rank}", train_graph(comm))
    elif mode == "collectives":  # the MPI communicator's own operations
        r = comm.rank
        in_place = comm.all_reduce(np.full(3, r + 1.0, np.float32), "sum")
        source = np.full(3, r + 1.0, np.float32)
        into = comm.all_reduce(source, "mean", out=np.empty(3, np.float32))
        scalar = comm.all_reduce(np.array(r + 1.0), "sum", out=np.empty(()))
        root = comm.broadcast(np.full(2, float(r), np.float32), root=1)
        comm.barrier()
        np.savez(os.path.join(out_dir, f"{mode}_rank{r}.npz"), in_place=in_place, into=into,
                 source=source, scalar=scalar, root=root, gathered=comm.allgather(r * 10),
                 obj=comm.broadcast_object({"from": r})["from"])


AGREEMENT_TIMEOUT = 10  # seconds: how long the out_of_step modes wait for a missing rank


def _timed(rank, what, call):
    """Runs ``call``; prints ``rank R WHAT after S s: ERROR`` for its RuntimeError."""
    start = time.monotonic()
    try:
        call()
        said = "no error"
    except RuntimeError as e:
        said = f"{type(e).__name__}: {e}"
    print(f"rank {rank} {what} after {time.monotonic() - start:.1f} s: {said}", flush=True)


def out_of_step(what, rank):
    """Ranks that do not take the same path through fit/evaluate: each must end with the
    same clear error (or, for the rank left waiting, a timeout) instead of hanging."""
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=AGREEMENT_TIMEOUT)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    x, y = data(128)
    with strategy.scope():
        model = book_model()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    model.build((None, 784))

    def batches(n):  # a Dataset of n batches of 16
        return tf.data.Dataset.from_tensor_slices((x[:16 * n], y[:16 * n])).batch(16)

    if what == "evaluate_datasets":  # 5 batches on rank 0, 4 on rank 1
        _timed(rank, what, lambda: model.evaluate(batches(5 - rank), verbose=0))
    elif what == "validation_datasets":
        _timed(rank, what, lambda: model.fit(x, y, batch_size=32, verbose=0,
                                             validation_data=batches(5 - rank)))
    elif what == "validation_arrays":  # 64 and 48 samples
        _timed(rank, what, lambda: model.fit(x, y, batch_size=32, verbose=0,
                                             validation_data=(x[:64 - 16 * rank],
                                                              y[:64 - 16 * rank])))
    elif what == "validation_on_one_rank":
        _timed(rank, what, lambda: model.fit(x, y, batch_size=32, verbose=0,
                                             validation_data=(x, y) if rank == 0 else None))
    elif what == "fit_datasets_with_steps":  # 8 and 6 batches, 3 per epoch, 3 epochs
        _timed(rank, what, lambda: model.fit(batches(8 - 2 * rank), epochs=3, steps_per_epoch=3,
                                             verbose=0))
    elif what == "skip_fit":  # rank 1 never calls fit
        if rank == 0:
            _timed(rank, what, lambda: model.fit(x, y, batch_size=32, verbose=0))
    elif what == "evaluate_instead":  # rank 1 evaluates while rank 0 fits
        _timed(rank, what, lambda: model.fit(x, y, batch_size=32, verbose=0) if rank == 0
               else model.evaluate(x, y, batch_size=32, verbose=0))
    else:
        raise SystemExit(f"unknown case {what!r}")


EQUIVALENCE = ("collectives", "fit", "fit_jit", "custom", "custom_function", "graph")


def main(mode, out_dir, *args):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    comm = strategy.communicator
    if mode == "equivalence":  # all in one job: one start-up, one import
        for each in EQUIVALENCE:
            run_mode(strategy, each, out_dir)
    elif mode == "backup":  # args: backup_dir, and "kill" to crash rank 1 at epoch 1
        callbacks = [keras.callbacks.BackupAndRestore(args[0], delete_checkpoint=False)]
        if len(args) > 1 and args[1] == "kill" and comm.rank == 1:
            callbacks.append(_KillAt(1, os.path.join(args[0], "backup.chainrule")))
        model, _ = train_fit(strategy, jit_compile="auto", callbacks=callbacks)
        _save(out_dir, f"backup_rank{comm.rank}", model.weights)
    elif mode == "endless":  # args: backup_dir; trains (writing backups) until stopped
        with open(os.path.join(out_dir, f"pid_rank{comm.rank}"), "w") as f:
            f.write(str(os.getpid()))
        callbacks = [keras.callbacks.BackupAndRestore(args[0], delete_checkpoint=False)]
        train_fit(strategy, jit_compile="auto", callbacks=callbacks, epochs=10**6)
    elif mode == "progress":  # what fit, evaluate and predict print (default verbose)
        x, y = data()
        alone = book_model()  # no strategy: each rank trains its own
        alone.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        alone.fit(x, y, epochs=EPOCHS, batch_size=64)
        alone.evaluate(x, y)
        alone.predict(x)
        with strategy.scope():
            together = book_model()
            together.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        together.fit(x, y, epochs=EPOCHS, batch_size=64)
    elif mode == "uneven":  # each rank given other data: 300 and 200, then 300 and 290 samples
        for sizes in ((300, 200), (300, 290)):
            x, y = data(sizes[comm.rank])
            with strategy.scope():
                model = book_model()
                model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
            for call in ("fit", "evaluate", "predict"):
                try:
                    if call == "predict":
                        model.predict(x, batch_size=64, verbose=0)
                    else:
                        getattr(model, call)(x, y, batch_size=64, verbose=0)
                except RuntimeError as e:
                    print(f"rank {comm.rank} {sizes} {call}: {e}", flush=True)
    elif mode == "out_of_step":  # args: the cases, in order; ranks wait 10 s for one another
        for what in args:
            out_of_step(what, comm.rank)
    elif mode == "raise":
        comm.barrier()
        if comm.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        comm.barrier()  # rank 0 would wait here forever without the abort
    elif mode == "kill":
        comm.barrier()
        if comm.rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        comm.barrier()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
