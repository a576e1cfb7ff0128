"""Generate the learner's stubs from the worked solutions.

A solution marks the code a learner must write between two comment lines:

    # BEGIN SOLUTION
    ...
    # END SOLUTION

The stub keeps everything else (imports, signatures, docstrings with shapes and math,
helper scaffolding) and replaces each marked region by a `raise NotImplementedError` that
names the function and points at its docstring. Data flows one way: solutions -> stubs.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mlkata import catalog

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"


class StubError(Exception):
    """A solution's markers are unbalanced or misplaced."""


def _enclosing_functions(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function, outermost first."""
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                spans.append((child.lineno, child.end_lineno or child.lineno, prefix + child.name))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return spans


def make_stub(source: str, module: str) -> str:
    """The stub for one solution's source text."""
    lines = source.splitlines()
    functions = _enclosing_functions(ast.parse(source))
    out: list[str] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker.startswith(BEGIN):
            if inside:
                raise StubError(f"{module}.py line {number}: {BEGIN} inside another region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            owners = [name for first, last, name in functions if first < number <= last]
            if not owners:
                raise StubError(f"{module}.py line {number}: a solution region must be inside a function")
            out.append(f'{indent}raise NotImplementedError("{module}.{owners[-1]}: not implemented yet '
                       f'(the docstring says what to compute)")')
        elif marker.startswith(END):
            if not inside:
                raise StubError(f"{module}.py line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise StubError(f"{module}.py: {BEGIN} is never closed")
    return "\n".join(out) + "\n"


def expected_stub(name: str) -> str:
    ex = catalog.get(name)
    return make_stub(ex.solution.read_text(), name)


def out_of_sync(folder: Path | None = None) -> list[str]:
    """Names of catalog exercises whose stub in `folder` differs from the generated one."""
    return [ex.name for ex in catalog.load()
            if not (p := (folder or ex.stub.parent) / f"{ex.name}.py").is_file()
            or p.read_text() != expected_stub(ex.name)]


def write_stubs(folder: Path, names: list[str] | None = None) -> list[Path]:
    """(Re)write the stubs for `names` (default: every exercise) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").touch()
    written = []
    for name in names or catalog.names():
        path = folder / f"{name}.py"
        path.write_text(expected_stub(name))
        written.append(path)
    return written
