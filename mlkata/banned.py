"""The from-scratch rule: a static (AST) check that the learner's file avoids banned APIs.

A banned *name* matches wherever it is looked up as an attribute (`F.softmax`,
`x.softmax()`, `torch.nn.functional.softmax`), imported (`from torch import softmax`) or
fetched by string (`getattr(F, "softmax")`). The learner's own `def softmax` and calls to
it by bare name are fine. A banned *import* is a module prefix (`torch.optim`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def _matches(module: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def find_violations(source: str, banned: tuple[str, ...],
                    banned_imports: tuple[str, ...]) -> list[Violation]:
    """Every use of a banned API in `source`, in line order. Raises SyntaxError if unparsable."""
    names = set(banned)
    found: list[Violation] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            found.append(Violation(node.lineno, f"uses `.{node.attr}`, which this exercise asks you to write yourself"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if prefix := _matches(alias.name, banned_imports):
                    found.append(Violation(node.lineno, f"imports `{alias.name}` ({prefix} is off limits here)"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if prefix := _matches(node.module, banned_imports):
                found.append(Violation(node.lineno, f"imports from `{node.module}` ({prefix} is off limits here)"))
                continue
            for alias in node.names:
                if alias.name in names:
                    found.append(Violation(node.lineno, f"imports `{alias.name}` from `{node.module}`, which this exercise asks you to write yourself"))
                elif prefix := _matches(f"{node.module}.{alias.name}", banned_imports):
                    found.append(Violation(node.lineno, f"imports `{node.module}.{alias.name}` ({prefix} is off limits here)"))
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            found.append(Violation(node.lineno, "imports from outside the exercise folder (`from ..`)"))
        elif isinstance(node, ast.Call) and node.args:
            found.extend(_dynamic_lookup(node, names, banned_imports))
    return sorted(found, key=lambda v: v.line)


def _dynamic_lookup(call: ast.Call, names: set[str], banned_imports: tuple[str, ...]) -> list[Violation]:
    """`getattr(obj, "softmax")`, `__import__("torch")`, `importlib.import_module("torch")`."""
    func = call.func
    func_name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    strings = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if func_name == "getattr":
        return [Violation(call.lineno, f"looks up `{s}` by name, which this exercise asks you to write yourself")
                for s in strings if s in names]
    if func_name in ("__import__", "import_module"):
        return [Violation(call.lineno, f"imports `{s}` dynamically ({p} is off limits here)")
                for s in strings if (p := _matches(s, banned_imports))]
    return []
