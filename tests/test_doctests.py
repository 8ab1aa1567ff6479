"""The Examples sections of every qerror module's docstrings, run as doctests (the docs
show them; this keeps them true)."""

import doctest
import importlib
import pkgutil

import pytest

import qerror

MODULES = sorted(m.name for m in pkgutil.walk_packages(qerror.__path__, "qerror."))


def test_every_module_is_collected():
    assert {"qerror.error", "qerror.optimal", "qerror.data.solver", "qerror.nonuniform",
            "qerror.symbolic"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                             | doctest.NORMALIZE_WHITESPACE, verbose=False, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
