"""What ``fit``, ``evaluate`` and ``predict`` do under a ``MultiWorkerMirroredStrategy``.

A model compiled inside ``strategy.scope()`` of a strategy with several replicas gets a
:class:`DistributedLoop` from :func:`loop_for` in each loop; ``Model`` calls it at a few
points and is otherwise unchanged:

* **start of fit**: rank 0's weights (and optimizer state, if any) and shuffling seed are
  broadcast, so every rank starts the same and shuffles the same way;
* **batches**: every rank walks the same sequence of *global* batches (``batch_size`` is the
  global batch) and takes its contiguous share of each (:meth:`DistributedLoop.shard`), so
  every rank runs the same number of steps, the short last batch included;
* **gradients** (:func:`reduce_gradients`, called in ``Model._gradient_step`` between
  ``tape.gradient`` and ``apply_gradients``): one packed all-reduce, the mean over ranks of
  each rank's gradient weighted by its share of the batch (``n_rank * size / n_batch``), which
  is the gradient of the whole global batch even when the shares are uneven. Every rank then
  makes the identical optimizer step. Under ``jit_compile`` the all-reduce is a node of the
  compiled step, its weight a Variable read at each call;
* **logs**: each metric's running (total, count) is summed over the ranks after every
  execution (every step, unless ``compile(steps_per_execution=N)``), so the logged loss and
  metrics are those of the whole global batches;
* **side effects**: rank 0 alone shows the progress bar (under a launcher, also for a model
  trained without a strategy) and writes checkpoints
  (``ModelCheckpoint``, ``BackupAndRestore``); every rank still runs the callbacks, so
  ``EarlyStopping`` and schedules decide the same everywhere (they read the reduced logs).
  After a relaunch every rank restores from rank 0's backup;
* **evaluate / predict**: the same sharding of each batch; predictions are gathered in order.

``fit``, ``evaluate`` and ``predict`` of such a model are collective: every rank must call
them, with the same data and arguments. Before their first collective step, and before each
validation pass, the ranks compare what they are about to do (:meth:`DistributedLoop.agree`:
the call, weights, epochs, steps, samples and batches, validation, a Dataset's length), and
on a difference every rank raises the same RuntimeError naming it, instead of the ranks with
more steps waiting forever. The comparison itself is bounded in time: a rank that does not
come (``if rank == 0: model.evaluate(...)``) makes the others raise an
``AgreementTimeoutError`` after the strategy's ``agreement_timeout`` (60 s, or
``CommunicationOptions(timeout_seconds=...)``). ``predict`` on a Dataset runs on each rank
alone (no collective).
"""

import copy
import weakref

import numpy as np

from .. import nest
from ..primitives.rng import saved_state
from ..distribute import MirroredStrategy, all_reduce_packed, get_strategy, has_strategy
from ..distribute.communicator import AgreementTimeoutError, ReduceOp, launched_rank
from ..distribute.strategy import shard_bounds
from . import metrics as metrics_module
from .utils import data_adapter
from .callbacks import BackupAndRestore, Callback, ModelCheckpoint, ProgbarLogger
from .layers import deserialize, serialize

__all__ = ["strategy_in_scope", "loop_for", "reduce_gradients", "filter_callbacks",
           "DistributedLoop", "replicates", "replicated"]


def strategy_in_scope():
    """The strategy of the active ``strategy.scope()`` (what ``compile`` records), or None."""
    return get_strategy() if has_strategy() else None


def _strategy(model):
    """The strategy ``model``'s loops run under in this thread (a MirroredStrategy's
    replica's), or None."""
    strategy = model.__dict__.get("_distribute_strategy")
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return None
    return strategy._in_this_thread()


# -- MirroredStrategy: the loops on every replica thread -------------------------------------

def replicates(model):
    """Whether a call of ``model``'s loops must start the replicas: it was compiled under a
    MirroredStrategy with several replicas, and this thread is none of them."""
    strategy = model.__dict__.get("_distribute_strategy")
    if not isinstance(strategy, MirroredStrategy) or strategy.num_replicas_in_sync == 1:
        return False
    if strategy._in_run():
        raise RuntimeError(f"MirroredStrategy: model '{model.name}' was compiled under the "
                           f"strategy, so its fit, evaluate and predict start the replicas "
                           f"themselves; call them outside strategy.run")
    return not strategy._in_replica()


def replicated(model, method, call):
    """``model.<method>(**call)`` run on every replica of its MirroredStrategy at once:
    replica 0 is ``model``, the others its copies (:func:`_replicas`), which first get its
    weights and optimizer state. ``fit``, ``evaluate`` and ``predict`` run whole on each
    replica (each takes its share of every global batch, as an MPI rank does);
    ``train_on_batch``, ``test_on_batch`` and ``predict_on_batch`` give each replica its
    share of the batch. Returns replica 0's result."""
    strategy = model._distribute_strategy
    call = {k: v for k, v in call.items() if k not in ("self", "__class__")}
    for name in ("x", "validation_data"):
        if data_adapter.is_dataset(call.get(name)):
            raise TypeError(
                f"MirroredStrategy: {method} of model '{model.name}' was given a Dataset "
                f"({name}=...), and the replicas do not split a Dataset's batches yet (each "
                f"would iterate it whole); pass arrays (x, y: every global batch is split "
                f"over the replicas), or iterate strategy.experimental_distribute_dataset("
                f"dataset) in a loop of your own with strategy.run")
    replicas = _replicas(model, strategy)
    on_batch = method.endswith("_on_batch")

    def one(index):
        replica = replicas[index]
        if not on_batch:
            return getattr(replica, method)(**call)
        return _on_batch(replica, strategy._replicas[index], method, call)
    return strategy.run_replicas(one)[0]


def _on_batch(replica, rstrategy, method, call):
    """One replica's part of ``train_on_batch``/``test_on_batch``/``predict_on_batch``: its
    share of the batch, the gradient weighted by that share, and the logs (or outputs) of
    the whole batch."""
    comm = rstrategy.communicator
    x = call["x"]
    n = len(nest.flatten(x)[0])
    start, stop = shard_bounds(n, comm.rank, comm.size)
    share = {k: (None if v is None else nest.map_structure(lambda a: a[start:stop], v))
             for k, v in call.items() if k in ("x", "y", "sample_weight")}
    if method == "predict_on_batch":
        local = getattr(replica, method)(share["x"])
        parts = comm.allgather(nest.flatten(local))
        joined = [np.concatenate(p, axis=0) for p in zip(*parts)]
        return nest.pack_sequence_as(local, joined) if nest.is_nested(local) else joined[0]
    scale = rstrategy._gradient_scale
    if n:
        scale.assign(np.float32((stop - start) * comm.size / n))
    try:
        rest = {k: v for k, v in call.items() if k not in ("x", "y", "sample_weight",
                                                           "return_dict")}
        logs = getattr(replica, method)(share["x"], share.get("y"),
                                        sample_weight=share.get("sample_weight"),
                                        return_dict=True, **rest)
    finally:
        scale.assign(np.float32(1.0))
    logs = DistributedLoop(replica, rstrategy).reduced_logs(logs)
    return replica._results(logs, call.get("return_dict", False))


_made = weakref.WeakKeyDictionary()  # model -> (what it was compiled with, its replicas)


def _replicas(model, strategy):
    """``[model, copy 1, ...]``: one model per replica. The copies are made (from the
    model's configuration) and compiled like it the first time, and made again after the
    model is compiled anew; at every call they get the model's weights and optimizer
    state."""
    n = strategy.num_replicas_in_sync
    key = (strategy, model.optimizer, model._compile_metrics)  # held: no id is reused
    made = _made.get(model)  # not an attribute: the model would track the copies' weights
    if made is None or any(a is not b for a, b in zip(made[0], key)) or len(made[1]) != n:
        restore = saved_state()  # the copies' initial draws (overwritten) leave no trace
        try:
            made = (key, [model] + [_copy(model, strategy) for _ in range(n - 1)])
        finally:
            restore()
        _made[model] = made
    replicas = made[1]
    for replica in replicas[1:]:
        _give_state(model, replica)
    return replicas


def _copy(model, strategy):
    try:
        replica = deserialize(serialize(model))  # clone_model's way (models sit above)
    except Exception as e:  # noqa: BLE001 - re-raised with what to do
        raise TypeError(
            f"MirroredStrategy: model '{model.name}' ({type(model).__name__}) could not be "
            f"copied for the other replicas ({type(e).__name__}: {e}); a replica needs a "
            f"model rebuilt from its configuration: a Sequential or functional model, or a "
            f"subclass with get_config() registered with "
            f"keras.saving.register_keras_serializable") from e
    optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
    args = dict(model._compile_args)
    args["metrics"] = _fresh_metrics(args["metrics"])
    args["weighted_metrics"] = _fresh_metrics(args["weighted_metrics"])
    with strategy.scope():
        replica.compile(optimizer=optimizer, jit_compile=model.jit_compile,
                        run_eagerly=model.run_eagerly,
                        steps_per_execution=model.steps_per_execution, **args)
    return replica


def _fresh_metrics(metrics):
    """``metrics`` with every Metric object replaced by a new one of its configuration (a
    replica keeps its own running totals)."""
    if metrics is None:
        return None
    return nest.map_structure(
        lambda m: type(m).from_config(m.get_config())
        if isinstance(m, metrics_module.Metric) else m, metrics)


def _give_state(model, replica):
    """``replica`` gets ``model``'s weights and optimizer state (built first if need be)."""
    if model.built and not replica.built:
        shape = getattr(model, "_build_shape", None)
        if shape is None:
            raise RuntimeError(f"MirroredStrategy: model '{model.name}' is built but does "
                               f"not say for which input shape; build it by calling it on a "
                               f"batch (or fit) inside strategy.scope()")
        replica.build(shape)
    if not model.built:
        return
    mine, theirs = model.weights, replica.weights
    if len(mine) != len(theirs):
        raise RuntimeError(f"MirroredStrategy: model '{model.name}' has {len(mine)} weights "
                           f"and its replica {len(theirs)}; a replica is rebuilt from the "
                           f"model's configuration, so the model must make the same weights "
                           f"from it")
    for a, b in zip(mine, theirs):
        b.assign(a.numpy())
    source, target = model.optimizer, replica.optimizer
    if getattr(source, "built", False):
        target._build_new(replica.trainable_weights)
        for a, b in zip(source.variables, target.variables):
            b.assign(a.numpy())
    elif getattr(target, "built", False):
        target._reset_slots()
        target.iterations.assign(source.iterations.numpy())


class _FollowChief(Callback):
    """On every replica of a MirroredStrategy (last of the callbacks): after replica 0's
    callbacks have run (at an epoch's start and end, after each training execution), the
    other replicas take its ``stop_training`` and learning rate, which its callbacks may
    have changed (EarlyStopping, LearningRateScheduler, ReduceLROnPlateau)."""

    def __init__(self, communicator):
        super().__init__()
        self.comm = communicator

    def _follow(self):
        optimizer = self.model.optimizer
        own_rate = getattr(optimizer, "_schedule", None) is None
        rate = float(optimizer._learning_rate._value) if own_rate else None
        stop, rate = self.comm.broadcast_object((bool(self.model.stop_training), rate), 0)
        if self.comm.rank:
            self.model.stop_training = stop
            if own_rate and rate != float(optimizer._learning_rate._value):
                optimizer._learning_rate.assign(np.float32(rate))

    def on_epoch_begin(self, epoch, logs=None):
        self._follow()

    def on_train_batch_end(self, batch, logs=None):
        self._follow()

    def on_epoch_end(self, epoch, logs=None):
        self._follow()


def loop_for(model):
    """A :class:`DistributedLoop` when ``model`` was compiled under a strategy with several
    replicas, else None (training is then plain single-process training)."""
    strategy = _strategy(model)
    return None if strategy is None else DistributedLoop(model, strategy)


def reduce_gradients(model, grads):
    """``grads`` averaged over the ranks (see the module docstring); unchanged without a
    multi-replica strategy."""
    strategy = _strategy(model)
    if strategy is None:
        return grads
    return all_reduce_packed(grads, ReduceOp.MEAN, strategy.communicator,
                             scale=strategy._gradient_scale)


def filter_callbacks(model, callbacks, verbose):
    """``(callbacks, verbose)`` for this rank: on ranks other than 0 of a launched job, no
    progress output (one job, one progress line, whether the model is distributed or each
    rank trains its own); under a multi-replica strategy, no checkpoint writes either (a
    ``BackupAndRestore`` there only restores)."""
    strategy = _strategy(model)
    distributed = strategy is not None
    threads = distributed and isinstance(getattr(strategy, "parent", None), MirroredStrategy)
    if threads:  # the replicas share the callback objects: replica 0 runs them
        follow = [_FollowChief(strategy.communicator)] if callbacks else []
        if strategy.is_chief:
            return callbacks + follow, verbose
        return [_RestoreOnly(cb) for cb in callbacks or []
                if isinstance(cb, BackupAndRestore)] + follow, 0
    if (strategy.is_chief if distributed else launched_rank() == 0):
        return callbacks, verbose
    kept = []
    for cb in callbacks or []:
        if isinstance(cb, ProgbarLogger) or (distributed and isinstance(cb, ModelCheckpoint)):
            continue
        kept.append(_RestoreOnly(cb) if distributed and isinstance(cb, BackupAndRestore) else cb)
    return kept, 0


class _RestoreOnly(BackupAndRestore):
    """A BackupAndRestore that restores (every rank must) but never writes or deletes."""

    def __init__(self, original):
        self.__dict__.update(copy.copy(original.__dict__))

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class DistributedLoop:
    """The distributed parts of one fit/evaluate/predict call (see the module docstring)."""

    def __init__(self, model, strategy):
        self.model, self.strategy = model, strategy
        self.comm = strategy.communicator
        self.rank, self.size = self.comm.rank, self.comm.size
        self.global_index = None  # the global batch the current shard belongs to

    def agree(self, call, **plan):
        """Checks, before the first collective of ``call`` ("fit", "evaluate", "predict",
        "validation"), that every rank is at the same call with the same ``plan``; raises the
        same RuntimeError on every rank where they differ, and an
        :class:`~chainrule.distribute.communicator.AgreementTimeoutError` on the ranks that
        came when another does not come within the strategy's ``agreement_timeout``.
        A ``weights`` entry (the model's shapes) is compared first, with its own message."""
        timeout = self.strategy.agreement_timeout
        try:
            everyone = self.comm.agree((call, plan), timeout)
        except AgreementTimeoutError as e:
            raise AgreementTimeoutError(
                f"MultiWorkerMirroredStrategy: {call} did not start: {e}. {_COLLECTIVE} "
                f"(`if rank == 0: model.{'fit' if call == 'validation' else call}(...)` "
                f"leaves the other ranks waiting). If a rank is merely slower to get there "
                f"(loading its data), give the strategy more time: "
                f"MultiWorkerMirroredStrategy(communication_options=tf.distribute.experimental."
                f"CommunicationOptions(timeout_seconds=...)) (now {timeout:g} s)") from None
        calls = [theirs for theirs, _ in everyone]
        if any(theirs != call for theirs in calls):
            each = "; ".join(f"rank {rank} is in {theirs}" for rank, theirs in enumerate(calls))
            raise RuntimeError(f"MultiWorkerMirroredStrategy: the ranks are at different calls "
                               f"({each}), and a rank would wait forever for the others. "
                               f"{_COLLECTIVE}")
        weights = [theirs.get("weights") for _, theirs in everyone]
        if any(theirs != weights[0] for theirs in weights):
            raise RuntimeError("MultiWorkerMirroredStrategy: the ranks' models have different "
                               "weights (shapes or counts differ); every rank must build the "
                               "same model and run the same script")
        _check_same_plans([{k: v for k, v in theirs.items() if k != "weights"}
                           for _, theirs in everyone], _WHAT[call])

    def begin_fit(self, **plan):
        """Checks that every rank is about to run the same training (the same weights, and
        the same ``plan``: steps per epoch, epochs, validation), then gives every rank rank
        0's weights, optimizer state and shuffling seed."""
        model = self.model
        variables = list(model.weights)
        if model.optimizer is not None:
            variables += list(model.optimizer.variables)
        shapes = [(v.shape, v.dtype.str) for v in variables]
        self.agree("fit", weights=shapes, **plan)
        self.strategy.broadcast_weights(variables)
        model._fit_seed = int(self.comm.broadcast_object(model._fit_seed))

    def shard(self, batches, call):
        """This rank's share of each global batch index in ``batches`` (slices stay
        slices); sets the gradient weight for the step that follows. First the ranks check
        that they walk the same global batches (:meth:`agree`): a rank with more would
        otherwise wait forever in a collective that the others never call."""
        batches = list(batches)
        sizes = [index.stop - index.start if isinstance(index, slice) else len(index)
                 for index in batches]
        self.agree(call, samples=sum(sizes), batches=len(sizes))
        scale = self.strategy._gradient_scale
        try:
            for index in batches:
                self.global_index = index
                if isinstance(index, slice):
                    n = index.stop - index.start
                    start, stop = shard_bounds(n, self.rank, self.size)
                    local = slice(index.start + start, index.start + stop)
                else:
                    n = len(index)
                    start, stop = shard_bounds(n, self.rank, self.size)
                    local = index[start:stop]
                weight = np.float32((stop - start) * self.size / n)
                if scale._value != weight:
                    scale.assign(weight)
                yield local
        finally:  # train_on_batch and custom steps weigh every rank alike
            if scale._value != 1:
                scale.assign(np.float32(1.0))

    def reduced_logs(self, logs):
        """``logs`` with each metric's value computed from its (total, count) summed over
        the ranks; a metric of another kind keeps this rank's value."""
        metrics = self.model.metrics
        states = [_mean_state(m) for m in metrics]
        vector = np.array([x for s in states for x in (s or (0.0, 0.0))], np.float64)
        self.comm.all_reduce(vector, ReduceOp.SUM)
        out = dict(logs)
        for k, (metric, state) in enumerate(zip(metrics, states)):
            if state is not None and metric.name in out:
                total, count = vector[2 * k], vector[2 * k + 1]
                out[metric.name] = float(total / count) if count else 0.0
        return out

    def gather(self, local_out):
        """The outputs of every rank's share of the current batch, in order, and the
        global batch index they fill."""
        parts = self.comm.allgather(local_out)
        return np.concatenate(parts, axis=0), self.global_index


_COLLECTIVE = ("fit, evaluate and predict of a model compiled under the strategy are "
               "collective: call them on every rank, with the same data and arguments (the "
               "whole data set on every rank: each rank takes its own share of every global "
               "batch; a Dataset, with as many batches on every rank)")

_WHAT = {"fit": "train differently", "evaluate": "evaluate different batches",
         "validation": "validate on different batches", "predict": "predict different batches"}


def _check_same_plans(plans, what):
    """Raises the same RuntimeError on every rank unless the ranks' ``plans`` (one dict
    each, gathered from every rank) are equal; ``what`` says what they describe."""
    if any(plan != plans[0] for plan in plans):
        each = "; ".join(f"rank {rank}: " + ", ".join(f"{k}={v}" for k, v in plan.items())
                         for rank, plan in enumerate(plans))
        raise RuntimeError(
            f"MultiWorkerMirroredStrategy: the ranks would {what} ({each}), and a rank "
            f"with more steps would wait forever for the others. {_COLLECTIVE}")


def _mean_state(metric):
    """``(total, count)`` of a running-mean metric, else None."""
    if isinstance(metric, metrics_module.ShapeResolvedAccuracy):
        metric = metric.resolved
        if metric is None:
            return (0.0, 0.0)
    if isinstance(metric, metrics_module.Mean):
        return (float(metric.total), float(metric.count))
    return None
