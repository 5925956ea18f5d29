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

import numpy as np

from ..distribute import all_reduce_packed, get_strategy, has_strategy
from ..distribute.communicator import AgreementTimeoutError, ReduceOp, launched_rank
from ..distribute.strategy import shard_bounds
from . import metrics as metrics_module
from .callbacks import BackupAndRestore, ModelCheckpoint, ProgbarLogger

__all__ = ["strategy_in_scope", "loop_for", "reduce_gradients", "filter_callbacks",
           "DistributedLoop"]


def strategy_in_scope():
    """The strategy of the active ``strategy.scope()`` (what ``compile`` records), or None."""
    return get_strategy() if has_strategy() else None


def _strategy(model):
    strategy = model.__dict__.get("_distribute_strategy")
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return None
    return strategy


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
