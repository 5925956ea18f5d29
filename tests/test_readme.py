"""Every ```python block of README.md runs as shown, and prints what the README says it prints.

A ```text block that follows a python block directly (nothing but blank lines between) is
that block's output: the test compares it with what the block prints, ``...`` standing for
any text (doctest's ELLIPSIS). Each block runs on its own, in a fresh namespace, in a
temporary working directory, so a block that writes files writes nothing into the repository.

Two blocks get more than a run:

* the book's MNIST code runs on a 1% stand-in (600 training and 100 test images, the only
  change: the sizes in its reshapes) so that it takes a second and needs no download; the
  same code runs verbatim on the real MNIST wherever it is at hand (CI's run with data);
* the block the README saves as ``train.py`` also runs on two MPI ranks through the README's
  ``python -m chainrule.launch -n 2 train.py``, where MPI is installed (always in CI).
"""

import contextlib
import doctest
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.keras._helpers import DATASETS, mnist_like

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def blocks():
    """(language, code, line, expected output or None) for every fenced block, in order."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append([match.group(1), match.group(2), line, match.start(), match.end()])
    result = []
    for i, (language, code, line, _start, end) in enumerate(found):
        expected = None
        after = found[i + 1] if i + 1 < len(found) else None
        if (language == "python" and after is not None and after[0] == "text"
                and text[end:after[3]].strip() == ""):
            expected = after[1]
        result.append((language, code, line, expected))
    return result


PYTHON = [(code, line, expected) for language, code, line, expected in blocks()
          if language == "python"]
BOOK = next(code for code, _line, _expected in PYTHON if "mnist.load_data()" in code)
TRAIN_PY = next(code for code, _line, _expected in PYTHON if "MultiWorkerMirroredStrategy" in code)


def run_block(code, line):
    """Runs ``code`` as a script in the current directory; returns what it printed."""
    printed = io.StringIO()
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
    return printed.getvalue()


def assert_prints(expected, got, line):
    checker = doctest.OutputChecker()
    if not checker.check_output(expected, got, doctest.ELLIPSIS):
        example = doctest.Example("", expected)
        raise AssertionError(f"README.md line {line}: the block printed something else:\n"
                             + checker.output_difference(example, got, doctest.ELLIPSIS))


def test_the_readme_has_its_blocks():
    # The parser found the blocks (a changed fence style would otherwise test nothing).
    assert len(PYTHON) >= 5
    assert sum(expected is not None for _c, _l, expected in PYTHON) >= 3
    with open(README, encoding="utf-8") as f:
        assert "python -m chainrule.launch -n 2 train.py" in f.read()


@pytest.mark.parametrize("code, line, expected",
                         [block for block in PYTHON if block[0] is not BOOK],
                         ids=[f"line {line}" for code, line, _e in PYTHON if code is not BOOK])
def test_block_runs_and_prints_what_the_readme_shows(code, line, expected, tmp_path,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    fresh_names(monkeypatch)
    got = run_block(code, line)
    if expected is not None:
        if "= loop(" in expected and not _numba_installed():
            # Without numba the compiler fuses nothing (same numbers, no loops to list).
            assert "matmul(" in got and "loop(" not in got
        else:
            assert_prints(expected, got, line)


def fresh_names(monkeypatch):
    """Names as in a fresh interpreter: the first Dense is ``dense``, the first Variable
    ``Variable`` (the blocks run one after another in this process)."""
    from chainrule import keras
    from chainrule.variable import Variable
    keras.utils.clear_session()
    monkeypatch.setattr(Variable, "_counts", {})


def _numba_installed():
    from chainrule.primitives import kernels
    return kernels.numba_module() is not None


def _stand_in_mnist(n_train, n_test):
    x, y = mnist_like(n_train + n_test)
    images = (x * 255).astype(np.uint8).reshape(-1, 28, 28)
    return (images[:n_train], y[:n_train]), (images[n_train:], y[n_train:])


def test_book_code_on_a_small_stand_in(tmp_path, monkeypatch):
    from chainrule.keras.datasets import mnist
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mnist, "load_data", lambda *a, **k: _stand_in_mnist(600, 100))
    code = BOOK.replace("(60000, 28 * 28)", "(600, 28 * 28)").replace("(10000, 28 * 28)",
                                                                          "(100, 28 * 28)")
    assert code.count("(600, 28 * 28)") == 1 and code.count("(100, 28 * 28)") == 1
    got = run_block(code, "book")
    assert "Epoch 5/5" in got
    accuracy = float(re.search(r"test_acc: ([0-9.]+)", got).group(1))
    assert accuracy > 0.8


@pytest.mark.skipif(not DATASETS or not os.path.exists(os.path.join(DATASETS, "mnist.npz")),
                    reason="needs mnist.npz in $CHAINRULE_DATASETS")
def test_book_code_verbatim_on_mnist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = run_block(BOOK, "book")
    assert float(re.search(r"test_acc: ([0-9.]+)", got).group(1)) >= 0.97


def _mpi_missing():
    from chainrule.launch import find_mpiexec
    try:
        import mpi4py  # noqa: F401
    except ImportError as e:
        return f"mpi4py cannot be imported ({e})"
    return None if find_mpiexec() else "no mpiexec found"


def test_train_py_on_two_ranks_with_the_readme_command(tmp_path):
    missing = _mpi_missing()
    if missing:
        if os.environ.get("CHAINRULE_REQUIRE_MPI"):
            raise RuntimeError(f"CHAINRULE_REQUIRE_MPI is set but MPI is not usable: {missing}")
        pytest.skip(missing)
    (tmp_path / "train.py").write_text(TRAIN_PY)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "chainrule.launch", "-n", "2", "train.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(re.findall(r"rank \d of \d", done.stdout)) == ["rank 0 of 2", "rank 1 of 2"]


def layout_tree():
    """The README's layout tree as {"": the names of chainrule's own lines, "ops": the files the
    ops/ line and its continuation lines name, ...}; a line that names several parts names no
    files inside them."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    tree = text[text.index("## How it is built"):].split("```")[1]
    file_names = re.compile(r"\w[\w.]*(?:\.py|/)")
    named, package = {"": set()}, None
    for line in tree.splitlines()[2:]:
        if not line.startswith(" "):
            break  # bench/, tests/: beside the package
        if line.startswith("  ") and not line.startswith("   "):
            head, _, description = line.strip().partition("  ")
            parts = file_names.findall(head)
            named[""].update(parts)
            package = parts[0][:-1] if len(parts) == 1 and parts[0].endswith("/") else None
            line = description
        if package:
            named.setdefault(package, set()).update(file_names.findall(line))
    return named


def entries(folder):
    """The modules ("x.py") and packages ("x/") in ``folder``."""
    return {name + "/" if os.path.isdir(os.path.join(folder, name)) else name
            for name in os.listdir(folder)
            if not name.startswith("__") and (name.endswith(".py") or
                                              os.path.isdir(os.path.join(folder, name)))}


def test_the_layout_tree_names_every_part_and_only_real_files():
    package = os.path.join(ROOT, "chainrule")
    named = layout_tree()
    assert named.pop("") == entries(package)
    for sub, names in named.items():
        real = entries(os.path.join(package, sub))
        assert names <= real, f"{sub}/: the README names {sorted(names - real)}, not there"
        modules = {name for name in real if name.endswith(".py")}
        assert modules <= names, f"{sub}/: the README does not name {sorted(modules - names)}"


def test_the_readme_stays_a_readme():
    # Users' pages; the benchmark's method and history live in bench/README.md.
    with open(README, encoding="utf-8") as f:
        assert len(f.read().splitlines()) <= 450
