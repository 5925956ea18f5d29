"""The examples in the graph modules' docstrings run and say what they show."""

import doctest
import importlib

import pytest

MODULES = ["chainrule.graph.graph", "chainrule.graph.capture", "chainrule.graph.dot",
           "chainrule.graph.derivatives", "chainrule.compiler.execute", "chainrule.compiler.rewrite",
           "chainrule.autodiff.tape"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failed, _attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failed == 0
