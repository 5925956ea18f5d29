"""Package-level checks: docstring examples run, dependencies point one way, the core stays
small, and recording is per thread."""

import ast
import doctest
import importlib
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "chainrule"
# Every module whose docstrings hold examples; each must run at least one.
DOCUMENTED = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py") if ">>>" in path.read_text())


def test_the_documented_modules_are_found():
    assert {"chainrule.tensor", "chainrule.autodiff.tape", "chainrule.compiler.execute"} <= \
        set(DOCUMENTED)


@pytest.mark.parametrize("module", DOCUMENTED)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def code_lines(path):
    """Lines that are neither blank, comments nor docstrings."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for n, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and n not in docstrings)


def test_autodiff_stays_small():
    total = sum(code_lines(p) for p in (PACKAGE / "autodiff").rglob("*.py"))
    assert 100 < total <= 600, f"autodiff/ has {total} code lines"


def test_the_tape_stays_small():
    lines = code_lines(PACKAGE / "autodiff" / "tape.py")
    assert 100 < lines <= 300, f"autodiff/tape.py has {lines} code lines"


def test_core_import_does_not_load_keras_or_plotting():
    code = ("import sys, chainrule; "
            "print(sorted(m for m in sys.modules if m.startswith(('chainrule.keras', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_version_is_the_one_pyproject_declares():
    import chainrule
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert f'version = "{chainrule.__version__}"' in pyproject


def test_keras_namespace_is_reachable_from_the_top():
    import chainrule as tf
    assert importlib.import_module("chainrule.keras") is tf.keras


def run_in_threads(work, count=2):
    errors, threads = [], []

    def guarded(i):
        try:
            work(i)
        except BaseException as e:  # noqa: BLE001 (reported to the test below)
            errors.append(e)

    for i in range(count):
        threads.append(threading.Thread(target=guarded, args=(i,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_tapes_and_fits_in_two_threads_never_see_each_other():
    import chainrule as cr
    from chainrule import keras
    from chainrule.keras import layers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 8)).astype(np.float32)
    y = rng.integers(0, 3, 96)

    def tapes(i):
        for _ in range(30):
            v = cr.Variable(float(i + 1))
            with cr.GradientTape() as tape:
                out = v * v * v
            grad = tape.gradient(out, v)
            assert grad is not None and float(grad) == 3.0 * (i + 1) ** 2

    def fits(i):
        model = keras.Sequential([layers.Dense(8, activation="relu"),
                                  layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      jit_compile=bool(i % 2))
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        assert np.isfinite(history.history["loss"][0])

    def both(i):
        (tapes if i % 2 else fits)(i // 2)

    for _ in range(50):
        assert run_in_threads(tapes) == []
        assert run_in_threads(both, 4) == []


def test_a_crashed_tape_does_not_stay_registered():
    import chainrule as cr
    from chainrule import recording

    with pytest.raises(ZeroDivisionError):
        with cr.GradientTape():
            1 / 0
    assert recording.recorders() == []
