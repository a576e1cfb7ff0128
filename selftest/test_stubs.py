"""Stubs are generated from the solutions, and committed in sync with them."""

from __future__ import annotations

import pytest

from mlkata import stubs


def test_exercises_folder_is_in_sync_with_solutions():
    stale = stubs.out_of_sync()
    assert not stale, f"exercises/ is out of sync for {stale}: run `mlkata stubs` (or `make stubs`)"


def test_regions_become_not_implemented_and_the_rest_is_kept():
    source = '''import torch


def f(x):
    """Docstring with shapes."""
    y = x + 1  # scaffolding stays
    # BEGIN SOLUTION
    return y * 2
    # END SOLUTION


class M:
    def forward(self, x):
        # BEGIN SOLUTION
        return x
        # END SOLUTION
'''
    stub = stubs.make_stub(source, "demo")
    assert '"""Docstring with shapes."""' in stub and "y = x + 1" in stub
    assert "return y * 2" not in stub and "return x\n" not in stub
    assert 'raise NotImplementedError("demo.f: not implemented yet' in stub
    assert '        raise NotImplementedError("demo.M.forward: not implemented yet' in stub
    compile(stub, "demo.py", "exec")


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    # BEGIN SOLUTION\n    pass\n", "never closed"),
    ("def f():\n    pass\n    # END SOLUTION\n", "without"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n", "inside another"),
])
def test_malformed_markers_are_reported(source, problem):
    with pytest.raises(stubs.StubError, match=problem):
        stubs.make_stub(source, "demo")
