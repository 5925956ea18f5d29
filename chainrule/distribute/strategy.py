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
import os
import re
import sys
import threading

import numpy as np

from .. import ops, random
from ..primitives import blas
from ..primitives.rng import thread_generator
from ..variable import Variable
from .collective_ops import all_reduce, all_reduce_packed, normalize_op
from .communicator import ReduceOp, ThreadGroup, get_communicator

__all__ = ["Strategy", "MultiWorkerMirroredStrategy", "MirroredStrategy", "PerReplica",
           "update_once",
           "ReplicaContext", "CommunicationOptions",
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

    def _in_this_thread(self):
        """The strategy whose communicator this thread's replica uses (itself here; a
        :class:`MirroredStrategy` answers with its replica's)."""
        return self

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
    """The replica context of :func:`get_strategy` (see :class:`ReplicaContext`); in a
    :class:`MirroredStrategy`'s replica thread, that replica's."""
    return ReplicaContext(get_strategy()._in_this_thread())


class PerReplica:
    """One value per replica of a :class:`MirroredStrategy`, in replica order (what
    ``strategy.run`` returns and ``experimental_distribute_dataset`` yields); ``values`` is
    the tuple."""

    def __init__(self, values):
        self.values = tuple(values)

    def __repr__(self):
        return f"PerReplica({list(self.values)!r})"


class _Replica(threading.local):
    owner = None  # the MirroredStrategy whose replica this thread runs
    index = None
    shared = False  # in strategy.run: the replicas share the variables


def update_once():
    """In a replica thread of ``MirroredStrategy.run`` (where the replicas share their
    variables), that replica's communicator: an optimizer's update is then made once, by
    replica 0, after every replica has come to it. Else None (each makes its own)."""
    if _replica.owner is None or not _replica.shared:
        return None
    return _replica.owner._replicas[_replica.index].communicator


_replica = _Replica()


def _parse_devices(devices):
    if devices is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            (os.cpu_count() or 1)
        return tuple(f"/cpu:{i}" for i in range(max(1, n)))
    if isinstance(devices, str):
        devices = [devices]
    devices = list(devices)
    if not devices:
        raise ValueError("MirroredStrategy: devices must name at least one device, e.g. "
                         "['/cpu:0', '/cpu:1'] (or None: one replica per core)")
    out = []
    for d in devices:
        match = re.fullmatch(r"(?:.*/)?(?:device:)?cpu:(\d+)", str(d).strip().lower())
        if match is None:
            raise ValueError(f"MirroredStrategy: chainrule runs replicas on CPU threads, one "
                             f"per device named '/cpu:N'; received {d!r} (in {devices!r})")
        index = match.group(1)
        out.append(f"/cpu:{int(index)}")
    if len(set(out)) != len(out):
        raise ValueError(f"MirroredStrategy: devices must be different; received {devices!r}")
    return tuple(out)


_controller = []  # threadpoolctl's ThreadpoolController, made once (it scans the libraries)


@contextlib.contextmanager
def _one_blas_thread():
    """The BLAS on one thread while the replicas run: each replica thread is then one
    core's work, and the threads do not fight for the cores with the BLAS's own. The
    count is process-wide (OpenBLAS has one); it is restored afterwards. Without
    threadpoolctl, NumPy's OpenBLAS is set directly where chainrule found it."""
    if not _controller:
        try:
            from threadpoolctl import ThreadpoolController
            _controller.append(ThreadpoolController())
        except ImportError:
            _controller.append(None)
    if _controller[0] is not None:
        with _controller[0].limit(limits=1, user_api="blas"):
            yield
        return
    if not blas.available():
        yield
        return
    before = blas.get_threads()
    blas.set_threads(1)
    try:
        yield
    finally:
        blas.set_threads(before)


@contextlib.contextmanager
def _one_numba_thread():
    """This thread's numba parallel loops (the native step's product slabs) on one thread:
    numba's count is per thread, and a replica is one core's work."""
    numba = sys.modules.get("numba")
    if numba is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _ReplicaStrategy(Strategy):
    """What one replica thread of a MirroredStrategy sees: a Strategy over its
    ThreadCommunicator, with its own gradient weight (its share of an uneven batch)."""

    def __init__(self, parent, communicator):
        super().__init__(communicator)
        self.parent = parent
        self.agreement_timeout = parent.agreement_timeout

    def __repr__(self):
        return f"<replica {self.communicator.rank} of {self.parent!r}>"


class MirroredStrategy(Strategy):
    """Synchronous data parallelism over threads of one process: one replica per CPU core
    (``devices``: ``["/cpu:0", "/cpu:1"]``, or None, one per core this process may use).

    It is :class:`MultiWorkerMirroredStrategy` with threads for ranks. A Keras model built
    and compiled inside ``strategy.scope()`` trains with each global batch split over the
    replicas: ``fit``, ``evaluate`` and ``predict`` run the model's loop on every replica
    thread at once, replica 0 on the model itself and the others on copies of it (made once,
    given its weights at every call), each on its share of each batch, with the BLAS on one
    thread. The gradients pass through one packed all-reduce per step that adds the
    replicas' buffers in replica order, so a run repeats bit for bit, and every replica makes
    the same update. Replica 0 runs your callbacks and shows the progress; the others follow
    its ``stop_training`` and learning rate. The NumPy products and element-wise loops
    release the GIL, so the replicas compute at once; it pays where the products are large
    (batches of several hundred and more; bench/README.md).

    Custom loops: ``strategy.run(fn, args)`` calls ``fn`` on every replica thread (a
    :class:`PerReplica` argument gives each its own value) and returns a PerReplica;
    inside, ``strategy.shard`` and ``get_replica_context().all_reduce`` work as under MPI,
    so the chapter's loop runs as written inside ``run``. The replicas share the variables
    there: ``optimizer.apply_gradients`` waits for every replica and updates once, with
    replica 0's gradients (the same on every replica after the all-reduce). ``strategy.reduce``
    combines a PerReplica in replica order.
    ``cross_device_ops`` is accepted for TensorFlow compatibility.
    """

    def __init__(self, devices=None, cross_device_ops=None):
        self.devices = _parse_devices(devices)
        self.agreement_timeout = AGREEMENT_TIMEOUT
        self._group = ThreadGroup(len(self.devices))
        self._replicas = [_ReplicaStrategy(self, comm) for comm in self._group.communicators()]
        self._lock = threading.Lock()  # one replicated call at a time

    # what the Strategy methods read: this thread's replica's
    @property
    def communicator(self):
        return self._current().communicator

    @property
    def _gradient_scale(self):
        return self._current()._gradient_scale

    @property
    def cluster_resolver(self):
        return self._current().cluster_resolver

    @property
    def num_replicas_in_sync(self):
        return len(self._replicas)

    @property
    def is_chief(self):
        return self._replica_index() in (None, 0)

    def _replica_index(self):
        return _replica.index if _replica.owner is self else None

    def _in_replica(self):
        return self._replica_index() is not None

    def _in_run(self):
        """Whether this thread is a replica of this strategy's ``run``."""
        return self._in_replica() and _replica.shared

    def _current(self):
        index = self._replica_index()
        if index is None:
            raise RuntimeError("MirroredStrategy: this is the replicas' own collective work, "
                               "and this thread is not one of them; call it inside "
                               "strategy.run(fn) (or in fit/evaluate/predict of a model "
                               "compiled under strategy.scope())")
        return self._replicas[index]

    def _in_this_thread(self):
        return self._current()

    def run_replicas(self, fn):
        """``fn(replica_index)`` on every replica at once: replica 0 on this thread, the
        others on threads of their own, the BLAS on one thread meanwhile. Returns the
        results in replica order; the first replica to fail stops the others (their
        collectives raise), and its exception is raised here."""
        if self._in_replica():
            raise RuntimeError("MirroredStrategy: a replica cannot start the replicas again "
                               "(strategy.run or fit inside strategy.run)")
        n = len(self._replicas)
        results, errors = [None] * n, [None] * n
        # replicas other than 0 draw from generators of their own (see thread_generator),
        # seeded from the global seed: repeatable, and the global stream is replica 0's
        seed = random.get_seed()
        seeds = np.random.SeedSequence(0 if seed is None else seed).spawn(n)

        def work(index):
            _replica.owner, _replica.index = self, index
            _scopes.stack.append(self)
            if index:
                thread_generator(np.random.default_rng(seeds[index]))
            try:
                with _one_numba_thread():
                    results[index] = fn(index)
            except BaseException as e:  # noqa: BLE001 - raised by the caller below
                errors[index] = e
                self._group.abort()
            finally:
                _scopes.stack.pop()
                thread_generator(None)
                _replica.owner = _replica.index = None

        with self._lock, _one_blas_thread():
            threads = [threading.Thread(target=work, args=(i,), daemon=True,
                                        name=f"MirroredStrategy replica {i}")
                       for i in range(1, n)]
            for t in threads:
                t.start()
            try:
                work(0)
            finally:
                for t in threads:
                    t.join()
                self._group.reset()
        failed = [e for e in errors if e is not None]
        if failed:  # the one that failed first, not the others' "abandoned" errors
            raise next((e for e in failed if "collective was abandoned" not in str(e)),
                       failed[0])
        return results

    def run(self, fn, args=(), kwargs=None):
        """``fn(*args, **kwargs)`` on every replica thread, a :class:`PerReplica` argument
        giving each replica its own value; returns a :class:`PerReplica` of the results
        (inside a replica, calls ``fn`` there)."""
        if self._in_replica():
            return fn(*args, **(kwargs or {}))
        kwargs = kwargs or {}

        def one(index):
            pick = lambda a: a.values[index] if isinstance(a, PerReplica) else a  # noqa: E731
            _replica.shared = True
            try:
                return fn(*[pick(a) for a in args], **{k: pick(v) for k, v in kwargs.items()})
            finally:
                _replica.shared = False
        return PerReplica(self.run_replicas(one))

    def experimental_local_results(self, value):
        return value.values if isinstance(value, PerReplica) else (value,)

    def reduce(self, reduce_op, value, axis=None):
        """A :class:`PerReplica` (``strategy.run``'s result) combined over the replicas by
        ``reduce_op`` ("sum" or "mean"), in replica order; with ``axis``, reduced along that
        axis too (a mean weighs every element of every replica equally). Inside a replica,
        the collective :meth:`Strategy.reduce`. A value that is not per replica is the same
        on every replica: "sum" multiplies it by the number of replicas, "mean" keeps it."""
        if self._in_replica():
            return super().reduce(reduce_op, value, axis)
        op = normalize_op(reduce_op)
        n = len(self._replicas)
        parts = value.values if isinstance(value, PerReplica) else (value,) * n
        parts = [np.asarray(ops.convert_to_tensor(p)) for p in parts]
        if axis is None:
            total, count = parts[0].copy(), n
            for p in parts[1:]:
                total = total + p
        else:
            total = parts[0].sum(axis=axis)
            for p in parts[1:]:
                total = total + p.sum(axis=axis)
            count = sum(p.shape[axis] for p in parts)
        if op == ReduceOp.MEAN:
            total = total / np.asarray(count, total.dtype)
        return ops.convert_to_tensor(total)

    def experimental_distribute_dataset(self, dataset, options=None):
        """``dataset`` (of global batches) as :class:`PerReplica` batches: each replica's
        contiguous share of every batch (of every array in it), for ``strategy.run``."""
        return _DistributedDataset(self, dataset)

    def shard(self, *arrays):
        if not self._in_replica():
            raise RuntimeError("MirroredStrategy.shard: a replica's share of a batch; call "
                               "it inside strategy.run(fn) (outside, "
                               "experimental_distribute_dataset splits the batches)")
        return super().shard(*arrays)

    def __repr__(self):
        return f"<MirroredStrategy {len(self.devices)} replicas on {list(self.devices)}>"


class _DistributedDataset:
    def __init__(self, strategy, dataset):
        self.strategy, self.dataset = strategy, dataset

    def __iter__(self):
        from .. import nest
        n = self.strategy.num_replicas_in_sync
        for batch in self.dataset:
            leaves = nest.flatten(batch)
            size = len(leaves[0])
            shares = []
            for r in range(n):
                start, stop = shard_bounds(size, r, n)
                shares.append(nest.pack_sequence_as(batch, [a[start:stop] for a in leaves]))
            yield PerReplica(shares)
