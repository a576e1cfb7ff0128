"""Load one exercise module from the folder being graded, as a package of its own.

The module under test comes from the graded folder (or one explicit file). Its relative
imports (`from .attention import softmax`) resolve to the worked solutions by default, so a
bug in one exercise never fails another's check; with `own_deps=True` they resolve to the
graded folder instead. Each combination gets a private package name, so several
implementations (a learner's, a mutant's) can be loaded side by side in one process.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from mlkata import paths


class LearnerCodeError(Exception):
    """The learner's file cannot be loaded. `str()` is a one-paragraph message for them."""


class MissingName(AssertionError):
    """The learner's module does not define a name the contract requires."""


class _SiblingFinder(importlib.abc.MetaPathFinder):
    """Resolves `<package>.<module>` to the file chosen for that module."""

    def __init__(self, package: str, under_test: str, file: Path, deps_dir: Path) -> None:
        self.package, self.under_test, self.file, self.deps_dir = package, under_test, file, deps_dir

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[override]
        prefix = self.package + "."
        if not fullname.startswith(prefix) or "." in fullname[len(prefix):]:
            return None
        module = fullname[len(prefix):]
        file = self.file if module == self.under_test else self.deps_dir / f"{module}.py"
        if not file.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, file)


class LearnerModule:
    """A read-only view of a learner's module that names a missing contract name clearly."""

    def __init__(self, module: ModuleType, file: Path) -> None:
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_file", file)

    def __getattr__(self, name: str):
        try:
            return getattr(self._module, name)
        except AttributeError:
            raise MissingName(
                f"{paths.display(self._file)} does not define `{name}`, a name the exercise "
                f"contract requires (check the spelling, and that it is at module level)."
            ) from None

    def __dir__(self) -> list[str]:
        return dir(self._module)


_loaded: dict[tuple[str, Path, Path], LearnerModule] = {}


def load_exercise(name: str, impl_dir: Path, *, own_deps: bool = False,
                  file: Path | None = None) -> LearnerModule:
    """Import exercise `name` from `file` (default `impl_dir/<name>.py`).

    Raises `LearnerCodeError` with a learner-facing message when the file is missing,
    does not parse, or raises while being imported.
    """
    file = (file or impl_dir / f"{name}.py").resolve()
    deps_dir = (impl_dir if own_deps else paths.SOLUTIONS).resolve()
    key = (name, file, deps_dir)
    if key in _loaded:
        return _loaded[key]
    if not file.is_file():
        raise LearnerCodeError(f"{paths.display(file)} does not exist: there is nothing to grade "
                               f"for `{name}` (run `mlkata reset {name}` for a fresh stub).")

    package = _package_name(file, deps_dir)
    _purge(package)  # a stale or half-imported copy must not be reused
    pkg = ModuleType(package)
    pkg.__path__ = []  # a namespace the finder below fills
    sys.modules[package] = pkg
    sys.meta_path.insert(0, _SiblingFinder(package, name, file, deps_dir))
    try:
        module = importlib.import_module(f"{package}.{name}")
    except SyntaxError as err:
        where = f"line {err.lineno}" + (f", column {err.offset}" if err.offset else "")
        code = f": `{err.text.strip()}`" if err.text and err.text.strip() else ""
        raise LearnerCodeError(
            f"{paths.display(Path(err.filename or file))} does not parse ({err.msg}, {where}{code}). "
            "Fix the syntax and check again; no check can run until the file imports."
        ) from None
    except BaseException as err:  # noqa: BLE001 - any failure to import is the learner's to see
        if isinstance(err, KeyboardInterrupt):
            raise
        raise LearnerCodeError(
            f"importing {paths.display(file)} raised {_describe(err, package)}"
            f"{_where(err, file)}. Code at the top level of the file runs on import: "
            "keep it to definitions."
        ) from None
    _loaded[key] = LearnerModule(module, file)
    return _loaded[key]


def forget(file: str | Path) -> None:
    """Drop every cached load of `file`, so the next `load_exercise` imports it afresh.

    Watch mode re-grades in one process: without this the edited file would never be re-read.
    """
    file = Path(file).resolve()
    for key in [key for key in _loaded if key[1] == file]:
        del _loaded[key]
        _purge(_package_name(file, key[2]))


def _package_name(file: Path, deps_dir: Path) -> str:
    return "_mlkata_" + hashlib.sha1(f"{file}|{deps_dir}".encode()).hexdigest()[:12]


def _purge(package: str) -> None:
    """Remove a private package, its modules and its finder from the import system."""
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not (isinstance(f, _SiblingFinder) and f.package == package)]


def _describe(err: BaseException, package: str) -> str:
    text = re.sub(rf"{package}\.?", "", str(err))  # hide the private package name
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _where(err: BaseException, file: Path) -> str:
    """`(line N)` of the deepest traceback frame inside the learner's file, if any."""
    frame = learner_frame(err, file)
    return f" (line {frame.lineno})" if frame else ""


def learner_frame(err: BaseException, file: Path) -> traceback.FrameSummary | None:
    """The deepest frame of `err`'s traceback that is in the learner's file."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == file]
    return frames[-1] if frames else None
