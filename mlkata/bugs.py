"""The bug catalog: realistic implementation bugs, as data (`bugs/<exercise>.toml`).

Each bug is a search-and-replace on the worked solution plus a one-line explanation:

    [[bug]]
    id = "sdpa-scale-by-dv"
    function = "scaled_dot_product_attention"   # the contract name it breaks
    explanation = "scaled by 1/sqrt(Dv); the scale uses the query/key size D"
    find = "d = q.shape[-2], k.shape[-2], q.shape[-1]"
    replace = "d = q.shape[-2], k.shape[-2], v.shape[-1]"

`find` must occur exactly once in the solution, so a bug never silently stops applying.
The catalog is used three ways: the mutation self-test (every bug must be caught), the
grader's diagnosis ("Likely bug: ..."), and the debugging track (`mlkata debug`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from mlkata import catalog


@dataclass(frozen=True)
class Bug:
    exercise: str
    id: str
    function: str
    explanation: str
    find: str
    replace: str


class BugError(Exception):
    """A catalog entry that no longer applies to its solution, or a malformed entry."""


@lru_cache(maxsize=None)
def load(exercise: str) -> tuple[Bug, ...]:
    """The cataloged bugs of one exercise (none if it has no bug file yet)."""
    path = catalog.get(exercise).bug_file
    if not path.is_file():
        return ()
    with open(path, "rb") as f:
        entries = tomllib.load(f).get("bug", [])
    bugs = []
    for entry in entries:
        try:
            bugs.append(Bug(exercise, entry["id"], entry["function"], entry["explanation"],
                            entry["find"], entry["replace"]))
        except KeyError as missing:
            raise BugError(f"{path.name}: bug {entry.get('id', '?')!r} lacks {missing}") from None
    ids = [b.id for b in bugs]
    if len(set(ids)) != len(ids):
        raise BugError(f"{path.name}: duplicate bug ids")
    return tuple(bugs)


def apply(source: str, *bugs: Bug) -> str:
    """`source` with each bug applied in turn. Raises `BugError` if one does not apply."""
    for bug in bugs:
        count = source.count(bug.find)
        if count != 1:
            raise BugError(f"bug {bug.exercise}/{bug.id}: its `find` text occurs {count} times in the "
                           "solution (it must occur exactly once); update the catalog entry")
        source = source.replace(bug.find, bug.replace)
    return source


def mutant_source(bug: Bug) -> str:
    """The worked solution with this one bug applied."""
    return apply(catalog.get(bug.exercise).solution.read_text(), bug)
