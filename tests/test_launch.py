import pytest

from chainrule import launch


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
