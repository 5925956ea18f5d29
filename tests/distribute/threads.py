"""In-process ranks for tests: ``run_ranks(size, fn)`` runs ``fn(communicator)`` on threads
of this process, each with a :class:`~chainrule.distribute.ThreadCommunicator` (the
communicator MirroredStrategy's replicas use; collectives combine the ranks' data in rank
order, so every rank gets bit-identical results). chainrule's recording state is per thread,
so each thread can trace and train its own model.
"""

import threading

from chainrule.distribute import ThreadCommunicator, ThreadGroup

__all__ = ["ThreadGroup", "ThreadCommunicator", "run_ranks"]


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
            group.abort()

    threads = [threading.Thread(target=work, args=(c,)) for c in group.communicators()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if any(t.is_alive() for t in threads):
        group.abort()
        raise RuntimeError("run_ranks: a rank was still waiting after 120 s")
    if errors:
        raise errors[0]
    return results
