"""Package-level checks: docstring examples run, and dependencies point one way."""

import doctest
import importlib
import subprocess
import sys

import pytest

DOCUMENTED = ["chainrule.tensor", "chainrule.autodiff.tape", "chainrule.primitives.kernels",
              "chainrule.debug", "chainrule.ops.custom_gradient", "chainrule.testing.gradcheck"]


@pytest.mark.parametrize("module", DOCUMENTED)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_core_import_does_not_load_keras_or_plotting():
    code = ("import sys, chainrule; "
            "print(sorted(m for m in sys.modules if m.startswith(('chainrule.keras', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_keras_namespace_is_reachable_from_the_top():
    import chainrule as tf
    assert importlib.import_module("chainrule.keras") is tf.keras
