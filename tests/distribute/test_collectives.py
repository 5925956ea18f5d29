import numpy as np
import pytest

import chainrule as cr
from chainrule.distribute import LocalCommunicator, all_reduce, all_reduce_packed
from chainrule.primitives.collectives import all_reduce as all_reduce_primitive
from chainrule.testing import check_grads
from tests.distribute.threads import run_ranks


class Counting(LocalCommunicator):
    """One process that counts the collectives it is asked for."""

    def __init__(self):
        self.calls = 0

    def all_reduce(self, array, op="sum", out=None):
        self.calls += 1
        return super().all_reduce(array, op, out)


def test_all_reduce_is_a_primitive_with_the_communicator_as_a_parameter():
    comm = Counting()
    x = cr.constant([1.0, 2.0])
    y = all_reduce(x, "MEAN", comm)
    assert y.numpy().tolist() == [1.0, 2.0] and comm.calls == 1
    assert y._value is not x._value  # never in place: x may be read elsewhere


def test_gradient_of_all_reduce_on_one_rank_is_the_identity():
    comm = LocalCommunicator()
    check_grads(lambda x: all_reduce(x * x, "sum", comm), np.array([0.5, -1.5, 2.0]), order=2)


def test_gradient_over_ranks_is_the_all_reduce_of_the_output_gradients():
    def work(comm):
        x = cr.Variable(np.full(2, comm.rank + 1.0, np.float32))
        with cr.GradientTape() as tape:
            # every rank's loss: (rank + 1) * sum(all_reduce(x)); d/dx = sum over ranks of (r + 1)
            loss = cr.reduce_sum(all_reduce(x, "sum", comm)) * float(comm.rank + 1)
        return tape.gradient(loss, x).numpy().tolist()

    assert run_ranks(2, work) == [[3.0, 3.0], [3.0, 3.0]]


def test_a_tracing_run_does_not_communicate_but_every_replay_does():
    comm = Counting()
    f = cr.function(lambda x: all_reduce(x, "mean", comm) * 2.0)
    graph = f.get_graph(cr.constant([1.0]))
    assert comm.calls == 0 and [n.prim.name for n in graph] == ["all_reduce", "multiply"]
    f(cr.constant([1.0]))
    f(cr.constant([2.0]))
    assert comm.calls == 2


def test_packed_all_reduce_keeps_shapes_dtypes_and_nones():
    def work(comm):
        r = comm.rank + 1.0
        values = [cr.constant(np.full((2, 3), r, np.float32)), None,
                  cr.constant(np.full((3,), 10 * r, np.float32)),
                  cr.constant(np.full((2,), r, np.float64))]
        out = all_reduce_packed(values, "mean", comm)
        return [None if o is None else (o.shape, o.dtype.name, o.numpy().ravel()[0]) for o in out]

    results = run_ranks(2, work)
    expected = [((2, 3), "float32", 1.5), None, ((3,), "float32", 15.0), ((2,), "float64", 1.5)]
    assert results == [expected, expected]


def test_packed_all_reduce_counts_collectives():
    def work(comm):
        before = comm.group.calls
        all_reduce_packed([cr.ones((4, 5)), cr.ones((5,)), cr.ones((5, 2))], "sum", comm)
        comm.barrier()
        return comm.group.calls - before

    assert run_ranks(2, work)[0] == 2  # one all-reduce and the barrier


def test_scale_weighs_this_ranks_buffer():
    def work(comm):
        scale = cr.Variable(np.float32(0.5 if comm.rank == 0 else 2.5), trainable=False)
        (out,) = all_reduce_packed([cr.constant([2.0, 4.0])], "mean", comm, scale=scale)
        return out.numpy().tolist()

    assert run_ranks(2, work) == [[3.0, 6.0], [3.0, 6.0]]  # (0.5 x + 2.5 x) / 2


def test_unknown_reduce_op_is_named():
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        all_reduce(cr.constant([1.0]), "max", LocalCommunicator())
    assert all_reduce_primitive.differentiable
