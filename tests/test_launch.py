import os
import signal
import subprocess
import sys
import time

import pytest

from chainrule import launch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(n, **kw):
    kw.setdefault("mpiexec", "/x/mpiexec")
    kw.setdefault("python", "/x/python")
    return launch.build_command(n, "train.py", ["--epochs", "2"], **kw)


def test_open_mpi_as_root_with_more_ranks_than_cores(monkeypatch):
    for name in launch._THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    argv, env = command(4, open_mpi=True, is_root=True, cores=2)
    assert argv[:3] == ["/x/mpiexec", "-n", "4"]
    assert "--allow-run-as-root" in argv and "--oversubscribe" in argv
    assert argv[argv.index("btl_tcp_if_include") + 1] == "127.0.0.1/8"
    assert argv[-5:] == ["-m", "mpi4py", "train.py", "--epochs", "2"]
    assert env == {name: "1" for name in launch._THREAD_VARIABLES}


def test_threads_per_rank_share_the_cores_and_respect_the_users_setting(monkeypatch):
    for name in launch._THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    argv, env = command(2, open_mpi=True, is_root=False, cores=8)
    assert "--allow-run-as-root" not in argv and "--oversubscribe" not in argv
    assert "OMP_NUM_THREADS" not in env and env["OPENBLAS_NUM_THREADS"] == "4"
    _, env = command(2, open_mpi=True, is_root=False, cores=8, threads=1)
    assert env["OMP_NUM_THREADS"] == "1"


def test_other_mpis_get_no_open_mpi_flags_and_modules_run_with_m():
    argv, _ = launch.build_command(2, "pkg.train", module=True, mpiexec="mpiexec",
                                   open_mpi=False, is_root=True, cores=1, python="py")
    assert argv == ["mpiexec", "-n", "2", "py", "-m", "mpi4py", "-m", "pkg.train"]


def test_errors_say_what_to_do(monkeypatch, capsys):
    with pytest.raises(ValueError, match="at least 1"):
        command(0, open_mpi=True)
    monkeypatch.setattr(launch, "find_mpiexec", lambda: None)
    with pytest.raises(SystemExit) as exc:
        launch.main(["-n", "2", "train.py"])
    assert exc.value.code == 2 and "chainrule[mpi]" in capsys.readouterr().err


def test_dry_run_prints_the_command(capsys):
    assert launch.main(["-n", "2", "--mpiexec", "/x/mpiexec", "--dry-run", "train.py", "a"]) == 0
    out = capsys.readouterr().out
    assert "/x/mpiexec -n 2" in out and out.rstrip().endswith("-m mpi4py train.py a")


FAKE_MPIEXEC = '''#!{python}
import os, signal, sys, time
# Stands for mpiexec: records the signals it gets, then takes a while to end "the ranks".
if sys.argv[1:] == ["--version"]:
    sys.exit(print("mpiexec (fake)"))
def ending(signum, frame):
    with open(os.path.join({out!r}, "signals"), "a") as f:
        f.write(f"{{signum}}\\n")
    time.sleep(1.0)
    with open(os.path.join({out!r}, "ended"), "w"):
        pass
    sys.exit(1)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, ending)
with open(os.path.join({out!r}, "started"), "w") as f:
    f.write(str(os.getpid()))
while True:
    time.sleep(0.05)
'''


def _default_ending_signals():
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_launcher_passes_a_signal_to_the_job_and_waits_for_it(signum, tmp_path):
    mpiexec = tmp_path / "mpiexec"
    mpiexec.write_text(FAKE_MPIEXEC.format(python=sys.executable, out=str(tmp_path)))
    mpiexec.chmod(0o755)
    job = subprocess.Popen(
        [sys.executable, "-m", "chainrule.launch", "-n", "2", "--mpiexec", str(mpiexec),
         "train.py"], cwd=REPO, env={**os.environ, "PYTHONPATH": REPO},
        # Started as from a terminal: a test run under nohup (SIGHUP ignored) or in a shell's
        # background (SIGINT ignored) would pass those on, and the launcher keeps them ignored.
        preexec_fn=_default_ending_signals)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() or not (tmp_path / "started").read_text():
            assert job.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        job.send_signal(signum)
        assert job.wait(timeout=30) == -signum
        assert (tmp_path / "ended").exists()  # the launcher ended after the job, not before
        assert (tmp_path / "signals").read_text() == f"{int(signum)}\n"
    finally:
        job.kill()
        if (tmp_path / "started").exists():  # a fake mpiexec the launcher left running
            try:
                os.kill(int((tmp_path / "started").read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
