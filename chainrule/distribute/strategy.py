"""``MultiWorkerMirroredStrategy``: synchronous data-parallel training, TensorFlow's way.

Every rank runs the same script. Build and compile the model inside ``strategy.scope()``;
``fit`` then trains on the ranks together (see :mod:`chainrule.keras.distribute`): weights
broadcast from rank 0, each global batch split over the ranks, gradients averaged by one
all-reduce before the identical optimizer step, losses and metrics reduced exactly, and
printing, logs and checkpoint files on rank 0 only.

Outside ``mpiexec`` (or ``python -m chainrule.launch``) the strategy has one replica and
training is exactly single-process training.

A custom training loop needs two changed lines (see :meth:`Strategy.shard` and
:meth:`ReplicaContext.all_reduce`)::

    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # before the model is made
    ...
    images_batch, labels_batch = strategy.shard(images_batch, labels_batch)   # (1)
    with tf.GradientTape() as tape:
        ...
    gradients = tape.gradient(average_loss, model.weights)
    gradients = tf.distribute.get_replica_context().all_reduce("mean", gradients)  # (2)
"""

import contextlib
import threading

import numpy as np

from .. import ops, random
from ..variable import Variable
from .collective_ops import all_reduce, all_reduce_packed, normalize_op
from .communicator import ReduceOp, get_communicator

__all__ = ["Strategy", "MultiWorkerMirroredStrategy", "ReplicaContext", "CommunicationOptions",
           "get_strategy", "has_strategy", "get_replica_context", "shard_bounds",
           "AGREEMENT_TIMEOUT"]

# How long (seconds) a rank waits at the start of fit, evaluate, predict or a validation
# pass for the other ranks to arrive, unless CommunicationOptions(timeout_seconds=...) says.
# Long enough for ranks that load their data at different speeds; short enough that a rank
# that skipped the call is reported within a minute.
AGREEMENT_TIMEOUT = 60.0


class _Scopes(threading.local):
    def __init__(self):
        self.stack = []


_scopes = _Scopes()


def shard_bounds(n, rank, size):
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``n`` items: shares differ by
    at most one item, and the last ``n % size`` ranks get the larger ones."""
    return (rank * n) // size, ((rank + 1) * n) // size


class CommunicationOptions:
    """``tf.distribute.experimental.CommunicationOptions``: ``timeout_seconds`` bounds how
    long the Keras loops wait for every rank to arrive before their first collective (see
    :mod:`chainrule.keras.distribute`); None keeps :data:`AGREEMENT_TIMEOUT`,
    ``float("inf")`` waits forever. The collectives of the steps themselves do not time out.
    ``bytes_per_pack`` and ``implementation`` are accepted for TensorFlow compatibility (one
    packed all-reduce over MPI is what chainrule does)."""

    def __init__(self, bytes_per_pack=0, timeout_seconds=None, implementation=None):
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ValueError(f"CommunicationOptions: timeout_seconds must be None or a positive "
                             f"number of seconds; received {timeout_seconds!r}")
        self.bytes_per_pack, self.implementation = bytes_per_pack, implementation
        self.timeout_seconds = timeout_seconds


class Strategy:
    """Data parallelism over a communicator's ranks; each rank is one replica.

    Attributes: ``communicator``, ``num_replicas_in_sync`` (the number of ranks),
    ``cluster_resolver.task_id`` (this rank), ``agreement_timeout`` (seconds, see
    :class:`CommunicationOptions`).
    """

    def __init__(self, communicator=None, communication_options=None):
        self.communicator = get_communicator() if communicator is None else communicator
        timeout = getattr(communication_options, "timeout_seconds", None)
        self.agreement_timeout = AGREEMENT_TIMEOUT if timeout is None else float(timeout)
        # What a rank multiplies its gradients by before the mean over ranks: its share of
        # the global batch times the number of ranks (1.0 when the shares are equal), so an
        # uneven last batch gives the gradient of the whole batch. Set by the Keras loops;
        # read live by compiled steps (it is a Variable, not a constant).
        self._gradient_scale = Variable(np.float32(1.0), trainable=False,
                                        name="gradient_scale")
        self.cluster_resolver = _ClusterResolver(self.communicator)

    @property
    def num_replicas_in_sync(self):
        return self.communicator.size

    @property
    def is_chief(self):
        return self.communicator.rank == 0

    @contextlib.contextmanager
    def scope(self):
        """Models built and compiled inside train with this strategy."""
        _scopes.stack.append(self)
        try:
            yield self
        finally:
            _scopes.stack.pop()

    def reduce(self, reduce_op, value, axis=None):
        """``value`` (this rank's) combined over the ranks by ``reduce_op`` ("sum" or
        "mean"); with ``axis``, reduced along that axis too (a mean then weighs every
        element of every rank equally, as a mean over the global batch does)."""
        op = normalize_op(reduce_op)
        value = ops.convert_to_tensor(value)
        if axis is None:
            return all_reduce(value, op, self.communicator)
        total = all_reduce(ops.reduce_sum(value, axis=axis), ReduceOp.SUM, self.communicator)
        if op == ReduceOp.SUM:
            return total
        count = np.array([value.shape[axis]], np.float64)
        self.communicator.all_reduce(count, ReduceOp.SUM)
        return total / ops.cast(count[0], total.dtype)

    def shard(self, *arrays):
        """This rank's contiguous share of each array (of a global batch, or of the whole
        data set), along the first axis: ``x, y = strategy.shard(x, y)``. One array in, one
        out. chainrule's own addition; TF distributes a ``tf.data.Dataset`` instead."""
        out = []
        for a in arrays:
            start, stop = shard_bounds(len(a), self.communicator.rank, self.communicator.size)
            out.append(a[start:stop])
        return out[0] if len(out) == 1 else tuple(out)

    def run(self, fn, args=(), kwargs=None):
        """Calls ``fn(*args, **kwargs)`` on this rank (one replica per process)."""
        return fn(*args, **(kwargs or {}))

    def experimental_local_results(self, value):
        return (value,)

    def replica_context(self):
        return ReplicaContext(self)

    def broadcast_weights(self, variables, root=0):
        """Gives ``variables`` rank ``root``'s values on every rank."""
        for v in variables:
            array = np.array(v.numpy(), copy=True, order="C")
            self.communicator.broadcast(array, root)
            v.assign(array)

    def __repr__(self):
        return f"<{type(self).__name__} {self.communicator!r}>"


class MultiWorkerMirroredStrategy(Strategy):
    """Synchronous data-parallel training on the ranks of an MPI job (one replica per process).

    ``communication_options`` and ``cluster_resolver`` are accepted for TensorFlow
    compatibility; the ranks come from MPI. Making the strategy gives every rank rank 0's
    random generator state, so weights drawn afterwards (a custom model's initial values)
    are the same everywhere. ``communicator`` replaces the process's communicator (tests).
    ``communication_options`` sets how long the ranks wait for one another before a Keras
    loop starts (:class:`CommunicationOptions`).
    """

    def __init__(self, cluster_resolver=None, communication_options=None, communicator=None):
        super().__init__(communicator, communication_options)
        comm = self.communicator
        if comm.size > 1:
            state = comm.broadcast_object((random.get_seed(),
                                           random.generator().bit_generator.state))
            seed, bit_state = state
            random.set_seed(seed)
            random.generator().bit_generator.state = bit_state


class ReplicaContext:
    """What a replica sees inside a step: its id, the number of replicas, and
    ``all_reduce`` (TensorFlow's ``tf.distribute.get_replica_context()``)."""

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def replica_id_in_sync_group(self):
        return self.strategy.communicator.rank

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    def all_reduce(self, reduce_op, value):
        """``value`` (a tensor, or a list/tuple of them: a gradient list) combined over the
        replicas; a list is packed into one buffer and reduced with one collective."""
        if isinstance(value, (list, tuple)):
            return type(value)(all_reduce_packed(value, reduce_op, self.strategy.communicator))
        return all_reduce(value, reduce_op, self.strategy.communicator)


class _ClusterResolver:
    def __init__(self, communicator):
        self.task_type, self.task_id = "worker", communicator.rank


_default = []


def get_strategy():
    """The strategy of the innermost ``scope()``; outside any, a default strategy over the
    process's communicator (one replica unless launched by MPI)."""
    if _scopes.stack:
        return _scopes.stack[-1]
    if not _default:
        _default.append(Strategy())
    return _default[0]


def has_strategy():
    """Whether a ``strategy.scope()`` is active."""
    return bool(_scopes.stack)


def get_replica_context():
    """The replica context of :func:`get_strategy` (see :class:`ReplicaContext`)."""
    return ReplicaContext(get_strategy())
