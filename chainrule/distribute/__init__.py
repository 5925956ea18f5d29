"""Data-parallel training over several processes (MPI), TensorFlow's ``tf.distribute`` names.

* :mod:`.communicator`: rank, size and the collectives (all-reduce, broadcast, barrier,
  allgather); a one-process :class:`LocalCommunicator` and an :class:`MPICommunicator`
  (``mpi4py``, imported only when used: ``pip install chainrule[mpi]``).
* ``all_reduce``: a primitive op (:mod:`chainrule.primitives.collectives`), so taped,
  traced, drawn and compiled like any other.
* :func:`data_parallel`: a captured training step rewritten as a graph whose gradients pass
  through one packed ``all_reduce`` before the update.
* :class:`MultiWorkerMirroredStrategy`: ``with strategy.scope():`` around building and
  compiling a Keras model makes ``fit``, ``evaluate`` and ``predict`` data-parallel.
* :class:`MirroredStrategy`: the same over threads of one process, one replica per core:
  each global batch split over the cores (it pays at large batches).

Start the ranks with ``python -m chainrule.launch -n 4 script.py`` (or ``mpiexec``/``srun``
with ``python -m mpi4py script.py``).
"""

import types

from .communicator import (AgreementTimeoutError, Communicator, LocalCommunicator,
                           MPICommunicator, ReduceOp, ThreadCommunicator, ThreadGroup,
                           get_communicator, launched_by_mpi)
from .collective_ops import all_reduce, all_reduce_packed
from .rewrite import data_parallel
from .strategy import (CommunicationOptions, MirroredStrategy, MultiWorkerMirroredStrategy,
                       PerReplica, ReplicaContext, Strategy, get_replica_context, get_strategy,
                       has_strategy)

# TensorFlow's ``tf.distribute.experimental`` names that chainrule has.
experimental = types.SimpleNamespace(CommunicationOptions=CommunicationOptions)

__all__ = ["AgreementTimeoutError", "Communicator", "LocalCommunicator", "MPICommunicator",
           "ReduceOp", "ThreadCommunicator", "ThreadGroup", "get_communicator",
           "launched_by_mpi", "all_reduce", "all_reduce_packed", "data_parallel",
           "MirroredStrategy", "MultiWorkerMirroredStrategy", "PerReplica", "ReplicaContext",
           "Strategy", "get_replica_context", "get_strategy", "has_strategy", "experimental"]
