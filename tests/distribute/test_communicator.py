import numpy as np
import pytest

from chainrule.distribute import LocalCommunicator, MPICommunicator, ReduceOp, communicator
from tests.distribute.threads import run_ranks


def test_local_communicator_is_rank_0_of_1_and_leaves_data_alone():
    comm = LocalCommunicator()
    assert (comm.rank, comm.size, comm.is_chief) == (0, 1, True)
    a = np.arange(4, dtype=np.float32)
    assert comm.all_reduce(a, ReduceOp.MEAN) is a and a.tolist() == [0, 1, 2, 3]
    assert comm.broadcast(a) is a
    assert comm.allgather("x") == ["x"] and comm.broadcast_object(5) == 5
    comm.barrier()


def test_collectives_refuse_arrays_they_cannot_change_in_place():
    comm = LocalCommunicator()
    with pytest.raises(TypeError, match="C-contiguous"):
        comm.all_reduce(np.ones((3, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="NumPy array"):
        comm.broadcast([1.0, 2.0])
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        comm.all_reduce(np.ones(2, np.float32), "max")


def test_thread_ranks_sum_mean_broadcast_and_gather_in_rank_order():
    def work(comm):
        a = np.full(3, comm.rank + 1.0, np.float32)
        total = comm.all_reduce(a.copy(), ReduceOp.SUM)
        mean = comm.all_reduce(a.copy(), ReduceOp.MEAN)
        b = comm.broadcast(np.full(2, float(comm.rank), np.float32), root=1)
        return total.tolist(), mean.tolist(), b.tolist(), comm.allgather(comm.rank * 10)

    for result in run_ranks(3, work):
        assert result == ([6.0] * 3, [2.0] * 3, [1.0, 1.0], [0, 10, 20])


def test_get_communicator_is_local_outside_mpi(monkeypatch):
    for name in communicator._LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(communicator, "_default", [])
    assert not communicator.launched_by_mpi()
    assert isinstance(communicator.get_communicator(), LocalCommunicator)
    monkeypatch.setenv("CHAINRULE_DISTRIBUTE", "sockets")
    monkeypatch.setattr(communicator, "_default", [])
    with pytest.raises(ValueError, match="CHAINRULE_DISTRIBUTE"):
        communicator.get_communicator()


def test_mpi_communicator_says_what_to_install_without_mpi4py(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_mpi4py(name, *args, **kwargs):
        if name.startswith("mpi4py"):
            raise ImportError("No module named 'mpi4py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpi4py)
    with pytest.raises(ImportError, match=r"chainrule\[mpi\]"):
        MPICommunicator()


def test_all_reduce_into_another_buffer_leaves_the_input_alone():
    def work(comm):
        a = np.full(3, comm.rank + 1.0, np.float32)
        out = np.empty_like(a)
        assert comm.all_reduce(a, ReduceOp.SUM, out=out) is out
        return a.tolist(), out.tolist()

    assert run_ranks(2, work) == [([1.0] * 3, [3.0] * 3), ([2.0] * 3, [3.0] * 3)]
    local = LocalCommunicator()
    out = np.zeros(2, np.float32)
    assert local.all_reduce(np.ones(2, np.float32), out=out).tolist() == [1.0, 1.0]
