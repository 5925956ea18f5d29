import numpy as np
import pytest

import chainrule as tf
from chainrule.distribute import LocalCommunicator, MultiWorkerMirroredStrategy
from chainrule.distribute.strategy import shard_bounds
from tests.distribute.threads import run_ranks


def test_reachable_as_tf_distribute_and_one_replica_outside_mpi():
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communicator=LocalCommunicator())
    assert strategy.num_replicas_in_sync == 1 and strategy.cluster_resolver.task_id == 0
    assert not tf.distribute.has_strategy()
    with strategy.scope() as s:
        assert s is strategy and tf.distribute.get_strategy() is strategy
        assert tf.distribute.get_replica_context().num_replicas_in_sync == 1
    assert tf.distribute.get_strategy() is not strategy


@pytest.mark.parametrize("n,size", [(128, 2), (97, 2), (10, 3), (1, 2), (0, 4), (7, 7)])
def test_shards_cover_the_batch_in_order_and_differ_by_at_most_one(n, size):
    bounds = [shard_bounds(n, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_shard_takes_this_ranks_rows():
    x, y = np.arange(10), np.arange(10) * 2

    def work(comm):
        strategy = MultiWorkerMirroredStrategy(communicator=comm)
        return [a.tolist() for a in strategy.shard(x, y)]

    assert run_ranks(2, work) == [[[0, 1, 2, 3, 4], [0, 2, 4, 6, 8]],
                                  [[5, 6, 7, 8, 9], [10, 12, 14, 16, 18]]]


def test_reduce_over_ranks_and_along_an_axis():
    def work(comm):
        strategy = MultiWorkerMirroredStrategy(communicator=comm)
        value = tf.constant(np.arange(comm.rank + 1, dtype=np.float32) + 1)  # [1] and [1, 2]
        return (float(strategy.reduce("SUM", value, axis=0)),
                float(strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=0)),
                strategy.reduce("mean", tf.constant([2.0 * comm.rank]), axis=None).numpy().tolist())

    assert run_ranks(2, work) == [(4.0, float(np.float32(4) / np.float32(3)), [1.0])] * 2


def test_making_the_strategy_gives_every_rank_rank_0s_random_state():
    tf.random.set_seed(5)
    rank0_state = (5, tf.random.generator().bit_generator.state)
    expected = tf.random.uniform((3,)).numpy()

    class Rank1Of2(LocalCommunicator):  # receives what rank 0 broadcasts
        rank, size = 1, 2

        def broadcast_object(self, obj, root=0):
            return rank0_state

    tf.random.set_seed(99)  # this rank's own state differs
    MultiWorkerMirroredStrategy(communicator=Rank1Of2())
    assert tf.random.get_seed() == 5
    np.testing.assert_array_equal(tf.random.uniform((3,)).numpy(), expected)


def test_replica_context_all_reduce_of_a_gradient_list():
    def work(comm):
        with MultiWorkerMirroredStrategy(communicator=comm).scope():
            ctx = tf.distribute.get_replica_context()
            grads = [tf.constant([1.0 + comm.rank]), tf.constant([[3.0 * comm.rank]])]
            out = ctx.all_reduce("mean", grads)
            return ctx.replica_id_in_sync_group, [g.numpy().tolist() for g in out]

    assert run_ranks(2, work) == [(0, [[1.5], [[1.5]]]), (1, [[1.5], [[1.5]]])]
