"""The examples in the distribute modules' docstrings run."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["chainrule.distribute.rewrite"])
def test_docstring_examples(name):
    failed, attempted = doctest.testmod(importlib.import_module(name),
                                        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted and failed == 0
