"""fit / evaluate / predict under MultiWorkerMirroredStrategy, without MPI: ranks are
threads of this process (tests/distribute/threads.py), or one rank of two whose peer is
assumed to hold the same data (``Mirror``)."""

import io
import time
import os

import numpy as np
import pytest

import chainrule as tf
from chainrule import keras
from chainrule.distribute import LocalCommunicator, MultiWorkerMirroredStrategy
from chainrule.distribute.communicator import TERMINAL_VARIABLE
from chainrule.keras import layers
from chainrule.keras.utils.progbar import Progbar
from tests.distribute.threads import run_ranks

RNG = np.random.default_rng(0)
X = RNG.random((203, 20), dtype=np.float32)
Y = RNG.integers(0, 10, 203).astype(np.uint8)


class Mirror(LocalCommunicator):
    """Rank ``rank`` of two whose peer holds the same values as this rank."""

    def __init__(self, rank):
        self.rank, self.size = rank, 2

    def all_reduce(self, array, op="sum", out=None):
        out = array if out is None else out
        np.multiply(array, 2 if op == "sum" else 1, out=out, casting="unsafe")
        return out

    def allgather(self, obj):
        return [obj, obj]


class Recording(keras.Sequential):
    """Records the size of every batch its train_step gets."""

    def train_step(self, data):
        self.sizes.append(len(data[0]))
        return super().train_step(data)


def build(cls=keras.Sequential, jit_compile=False):
    model = cls([layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    model.build((None, 20))
    return model


def reference(jit_compile, x=X, y=Y, batch_size=32):
    model = build(jit_compile=jit_compile)
    initial = model.get_weights()
    history = model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, shuffle=False)
    return initial, model, history


def distributed(initial, jit_compile, x=X, y=Y, batch_size=32, size=2):
    def work(comm):
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = build(jit_compile=jit_compile)
        if comm.rank == 0:
            model.set_weights(initial)  # the others get these by the broadcast
        history = model.fit(x, y, epochs=2, batch_size=batch_size, verbose=0, shuffle=False)
        return (model, history.history, model.evaluate(x, y, batch_size=50, verbose=0),
                model.predict(x, batch_size=50, verbose=0))
    return run_ranks(size, work)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_two_ranks_end_with_the_weights_and_logs_of_one(jit_compile):
    # 203 samples by 32: the last global batch of 11 splits 5 / 6, so the weighting matters
    initial, ref, history = reference(jit_compile)
    ranks = distributed(initial, jit_compile)
    for model, logs, evaluated, predicted in ranks:
        for a, b in zip(ref.get_weights(), model.get_weights()):
            assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
        for name in ("loss", "accuracy"):
            np.testing.assert_allclose(logs[name], history.history[name], rtol=1e-6)
        np.testing.assert_allclose(evaluated, ref.evaluate(X, Y, batch_size=50, verbose=0),
                                   rtol=1e-6)
        np.testing.assert_allclose(predicted, ref.predict(X, verbose=0), atol=1e-6)
    for a, b in zip(ranks[0][0].get_weights(), ranks[1][0].get_weights()):
        np.testing.assert_array_equal(a, b)  # in step, bit for bit


def test_three_ranks_and_a_last_batch_smaller_than_the_ranks():
    x, y = X[:66], Y[:66]  # by 32: 32, 32 and 2 (one rank gets no rows of the last batch)
    initial, ref, history = reference(False, x, y)
    (model, logs, _, predicted), *_ = distributed(initial, False, x, y, size=3)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
    np.testing.assert_allclose(logs["loss"], history.history["loss"], rtol=1e-6)
    assert predicted.shape == (66, 10)


def test_compiled_step_holds_the_all_reduce():
    def work(comm):
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = build(jit_compile=True)
        model.fit(X[:64], Y[:64], batch_size=32, verbose=0)
        return [[n.prim.name for n in traced.graph]
                for (method, _), traced in model._jit._by_shapes.items()
                if method == "_measured_gradient_step"]

    for graphs in run_ranks(2, work):
        assert graphs and all(names.count("all_reduce") == 1 for names in graphs)


def test_every_rank_runs_every_step_on_its_share():
    def work(comm):
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = build(Recording)
        model.sizes = []
        model.fit(X, Y, epochs=1, batch_size=64, verbose=0)
        return model.sizes

    # 203 by 64: 64, 64, 64, 11; the 11 split 5 / 6
    assert run_ranks(2, work) == [[32, 32, 32, 5], [32, 32, 32, 6]]


def test_one_replica_is_plain_training():
    initial, ref, _ = reference(True)
    with MultiWorkerMirroredStrategy(communicator=LocalCommunicator()).scope():
        model = build(jit_compile=True)
    model.set_weights(initial)
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rank", [0, 1])
def test_only_rank_0_prints_and_writes_checkpoints(rank, tmp_path, capsys):
    with MultiWorkerMirroredStrategy(communicator=Mirror(rank)).scope():
        model = build()
    checkpoint = tmp_path / "model-{epoch}.keras"
    backup = tmp_path / "backup"
    history = model.fit(X, Y, epochs=2, batch_size=64, verbose=1, callbacks=[
        keras.callbacks.ModelCheckpoint(str(checkpoint)),
        keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False)])
    out = capsys.readouterr().out
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert len(history.history["loss"]) == 2  # every rank keeps the history
    if rank == 0:
        assert "Epoch 2/2" in out
        assert written == ["backup.chainrule", "model-1.keras", "model-2.keras"]
    else:
        assert out == "" and written == []


def test_every_rank_restores_from_rank_0s_backup(tmp_path):
    backup = str(tmp_path)
    model = build()  # one process writes the backup of epoch 1 of 3
    model.fit(X, Y, epochs=1, batch_size=64, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    saved = model.get_weights()
    path = os.path.join(backup, "backup.chainrule")
    stamp = os.stat(path).st_mtime_ns

    with MultiWorkerMirroredStrategy(communicator=Mirror(1)).scope():
        other = build()
    seen = []
    restore = keras.callbacks.BackupAndRestore(backup)
    history = other.fit(X, Y, epochs=3, batch_size=64, verbose=0,
                        callbacks=[restore, _Probe(seen)])
    assert [epoch for epoch, _ in seen] == [1, 2]  # resumed after the backup's epoch
    for a, b in zip(saved, seen[0][1]):
        np.testing.assert_array_equal(a, b)
    assert len(history.history["loss"]) == 2
    assert os.stat(path).st_mtime_ns == stamp  # rank 1 neither rewrote nor deleted it


class _Probe(keras.callbacks.Callback):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append((epoch, [w.copy() for w in self.model.get_weights()]))


def test_ranks_with_different_models_are_told():
    def work(comm):
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = keras.Sequential([layers.Dense(8 + comm.rank), layers.Dense(10)])
            model.compile(optimizer="sgd", loss="mse")
        model.fit(X[:8], np.zeros((8, 10), np.float32), verbose=0)

    with pytest.raises(RuntimeError, match="different weights"):
        run_ranks(2, work)


def test_the_gradient_weight_is_back_to_one_after_fit():
    def work(comm):
        strategy = MultiWorkerMirroredStrategy(communicator=comm)
        with strategy.scope():
            model = build()
        model.fit(X[:70], Y[:70], batch_size=32, verbose=0)  # last batch 6: weights 1.0 / 1.0
        model.fit(X[:67], Y[:67], batch_size=32, verbose=0)  # last batch 3: 2/3 and 4/3
        return float(strategy._gradient_scale.numpy())

    assert run_ranks(2, work) == [1.0, 1.0]


@pytest.mark.parametrize("rank", ["0", "1"])
def test_under_a_launcher_only_rank_0_prints_progress_even_without_a_strategy(
        rank, monkeypatch, capsys):
    # What Open MPI sets in each rank; a model trained alone on each rank, verbose as default.
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", rank)
    model = build()
    model.fit(X, Y, epochs=2, batch_size=64)
    model.evaluate(X, Y)
    model.predict(X)
    out = capsys.readouterr().out
    if rank == "0":
        assert out.count("Epoch") == 2 and out.count("\n") == 2 + 2 + 2
    else:
        assert out == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("launched, says, animated", [
    (False, None, True),  # a terminal, no launcher
    (True, None, False),  # mpiexec alone: every rank's pty may be a log file's
    (True, "0", False),  # chainrule.launch writing to a file or a pipe
    (True, "1", True)])  # chainrule.launch on a terminal
def test_progress_animates_where_the_jobs_output_is_a_terminal(launched, says, animated,
                                                               monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "PMI_RANK",
                 TERMINAL_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    if launched:
        monkeypatch.setenv("PMIX_RANK", "0")
    if says is not None:
        monkeypatch.setenv(TERMINAL_VARIABLE, says)
    stream = FakeTerminal()
    bar = Progbar(3, stream=stream, interval=0.0)
    for step in (1, 2, 3):
        bar.update(step, [("loss", 0.5)])
    out = stream.getvalue()
    assert ("\r" in out and "\x1b[" in out) == animated
    assert animated or out.count("\n") == 1 and out.startswith("3/3 ")


@pytest.mark.parametrize("n_other", [100, 190])  # fewer steps; the same steps, fewer samples
def test_ranks_given_uneven_data_all_raise_the_same_error(n_other):
    def work(comm):
        n = 203 if comm.rank == 0 else n_other
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = build()
        told = []
        for call in (lambda: model.fit(X[:n], Y[:n], batch_size=64, verbose=0),
                     lambda: model.evaluate(X[:n], Y[:n], batch_size=64, verbose=0),
                     lambda: model.predict(X[:n], batch_size=64, verbose=0)):
            with pytest.raises(RuntimeError, match="the same data") as info:
                call()
            told.append(str(info.value))
        return told

    first, second = run_ranks(2, work)
    assert first == second
    assert f"rank 0: samples=203, batches=4; rank 1: samples={n_other}, batches=" in first[1]


def test_a_rank_that_skips_fit_makes_the_others_give_up_after_the_timeout():
    from chainrule.distribute.communicator import AgreementTimeoutError
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=0.5)

    def work(comm):
        strategy = MultiWorkerMirroredStrategy(communicator=comm, communication_options=options)
        with strategy.scope():
            model = build()
        if comm.rank == 1:
            return None  # never calls fit
        start = time.monotonic()
        with pytest.raises(AgreementTimeoutError, match="fit did not start: rank 0 of 2 waited "
                                                        "0.5 s") as info:
            model.fit(X, Y, batch_size=64, verbose=0)
        return time.monotonic() - start, str(info.value)

    (waited, said), _ = run_ranks(2, work)
    assert 0.5 <= waited < 5 and "timeout_seconds" in said and "collective" in said


def test_uneven_datasets_in_evaluate_and_validation_all_raise_the_same_error():
    def work(comm):
        n = 4 - comm.rank  # batches of 50: 4 on rank 0, 3 on rank 1
        data = tf.data.Dataset.from_tensor_slices((X[:50 * n], Y[:50 * n])).batch(50)
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            model = build()
        told = []
        for call in (lambda: model.evaluate(data, verbose=0),
                     lambda: model.fit(X, Y, batch_size=64, verbose=0, validation_data=data)):
            with pytest.raises(RuntimeError, match="the same data") as info:
                call()
            told.append(str(info.value))
        return told

    first, second = run_ranks(2, work)
    assert first == second
    assert "would evaluate different batches (rank 0: batches=4; rank 1: batches=3)" in first[0]
    assert "would validate on different batches (rank 0: batches=4; rank 1: batches=3)" in \
        first[1]
