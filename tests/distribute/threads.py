"""In-process ranks for tests: a communicator whose ranks are threads of this process.

Collectives meet at a barrier and combine the ranks' data in rank order, so every rank gets
bit-identical results (as MPI's do for two ranks). chainrule's recording state is per
thread, so each thread can trace and train its own model.
"""

import threading

import numpy as np

from chainrule.distribute import Communicator
from chainrule.distribute.communicator import AgreementTimeoutError, ReduceOp, _check, _check_op


class ThreadGroup:
    def __init__(self, size):
        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots = [None] * size
        self.calls = 0  # collectives made (counted by rank 0)

    def communicators(self):
        return [ThreadCommunicator(self, rank) for rank in range(self.size)]


class ThreadCommunicator(Communicator):
    def __init__(self, group, rank):
        self.group, self.rank, self.size = group, rank, group.size

    def _exchange(self, obj):
        g = self.group
        g.slots[self.rank] = obj
        g.barrier.wait()
        out = list(g.slots)
        g.barrier.wait()  # nobody overwrites a slot before every rank has read them all
        if self.rank == 0:
            g.calls += 1
        return out

    def all_reduce(self, array, op=ReduceOp.SUM, out=None):
        out = array if out is None else out
        _check(out, "all_reduce")
        _check_op(op)
        parts = self._exchange(np.array(array, copy=True))
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        if op == ReduceOp.MEAN:
            total /= self.size
        out[...] = total
        return out

    def broadcast(self, array, root=0):
        _check(array, "broadcast")
        array[...] = self._exchange(array.copy())[root]
        return array

    def broadcast_object(self, obj, root=0):
        return self._exchange(obj)[root]

    def allgather(self, obj):
        return self._exchange(obj)

    def barrier(self):
        self._exchange(None)

    def agree(self, obj, timeout=None):
        """``allgather``, or AgreementTimeoutError when the others do not come in time (the
        group's barrier is then broken, as MPI's ranks would be out of step)."""
        g = self.group
        g.slots[self.rank] = obj
        try:
            g.barrier.wait(timeout)
        except threading.BrokenBarrierError:
            raise AgreementTimeoutError(f"rank {self.rank} of {self.size} waited {timeout:g} s "
                                        f"for the other ranks, and not every rank came") from None
        out = list(g.slots)
        g.barrier.wait()
        return out


def run_ranks(size, fn):
    """``fn(communicator)`` on ``size`` threads; returns their results in rank order and
    re-raises the first exception."""
    group = ThreadGroup(size)
    results, errors = [None] * size, []

    def work(comm):
        try:
            results[comm.rank] = fn(comm)
        except BaseException as e:  # noqa: BLE001 - reported to the caller below
            errors.append(e)
            group.barrier.abort()

    threads = [threading.Thread(target=work, args=(c,)) for c in group.communicators()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
