"""Watch mode: re-grade on every save, in one process (torch stays imported).

`follow` is the loop behind `mlkata watch`: it grades one exercise, then again each time
its file is saved; without a fixed exercise it starts at the first one not passing yet,
switches to whichever exercise file the learner saves, and moves on when one passes.
The pieces (`changes`, `keys`, `regrade`) are shared with `mlkata interview`.

A re-grade must see the edited file, so `regrade` first drops the cached module
(`mlkata.loader.forget`). `q` (then Enter, when stdin is not a terminal) or Ctrl-C stops.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mlkata import catalog, paths, status

if TYPE_CHECKING:
    from mlkata.grader import GradeResult

QUIT_KEYS = ("q", "Q")


def changes(folder: Path, stop: threading.Event, *, poll: bool = False) -> Iterator[set[Path]]:
    """Each batch of saved `.py` files under `folder` (resolved paths), until `stop` is set.

    `poll=True` checks the files' modification times instead of asking the OS for
    notifications: slower, but works on network drives, WSL mounts and some containers.
    """
    import watchfiles

    def python_file(change: watchfiles.Change, path: str) -> bool:
        return change != watchfiles.Change.deleted and path.endswith(".py") and "__pycache__" not in path

    batches = watchfiles.watch(folder, watch_filter=python_file, stop_event=stop, force_polling=poll,
                               poll_delay_ms=200, rust_timeout=500, ignore_permission_denied=True)
    try:
        for batch in batches:
            yield {Path(p).resolve() for _, p in batch}
    except KeyboardInterrupt:  # Ctrl-C while waiting for a save: a normal way to stop
        stop.set()


@contextmanager
def keys(stop: threading.Event) -> Iterator[None]:
    """While inside, typing `q` sets `stop` (in a terminal at once; otherwise `q` + Enter)."""
    stream = sys.stdin
    if stream is None or stream.closed:
        yield
        return
    try:
        # A private copy of the descriptor: pytest (inside each grading) points fd 0 at /dev/null.
        fd = os.dup(stream.fileno())
    except (OSError, ValueError):  # pytest's captured stdin, a closed stream
        yield
        return
    terminal = os.isatty(fd)

    def read_keys() -> None:
        while not stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(fd, 1 if terminal else 1024)
            except (OSError, ValueError):
                return
            if not data:
                return  # end of input (e.g. </dev/null): keep watching, Ctrl-C still stops
            if any(line.strip() in QUIT_KEYS for line in data.decode(errors="replace").splitlines()):
                stop.set()
                return

    saved = None
    if terminal:
        try:
            import termios
            import tty

            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)  # keys arrive one at a time, unechoed; Ctrl-C still sends SIGINT
        except (ImportError, OSError):  # no termios (Windows): q + Enter still works
            terminal = False
    reader = threading.Thread(target=read_keys, name="mlkata-keys", daemon=True)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join(timeout=0.5)
        if saved is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        os.close(fd)


@contextmanager
def interrupts(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets `stop`: a grading under way finishes (unshown), then the loop ends.

    Raising KeyboardInterrupt at once is unsafe here: landing inside torch's first import
    leaves it half-initialised (even a segfault at exit). A second Ctrl-C does interrupt, for
    a learner's infinite loop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ANN001
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def regrade(exercise: str, folder: Path, *, file: Path | None = None,
            own_deps: bool = False) -> tuple[GradeResult, float]:
    """Grade afresh (the edited file is re-imported); returns (the result, seconds it took)."""
    from mlkata import grader, loader

    # Forgetting the module drops its private package too, so with `own_deps` the sibling
    # exercises it imports are re-read as well.
    loader.forget(file or folder / f"{exercise}.py")
    started = time.perf_counter()
    result = grader.grade(exercise, folder, own_deps=own_deps, file=file)
    return result, time.perf_counter() - started


def rule(text: str, out: TextIO, color: bool) -> None:
    """A separator line between two gradings: `── 14:02:11 · attention · 0.41 s ──────`."""
    line = f"── {time.strftime('%H:%M:%S')} · {text} "
    line += "─" * max(0, 78 - len(line))
    print(f"\n\033[2m{line}\033[0m" if color else f"\n{line}", file=out, flush=True)


def exercise_for(file: Path, folder: Path) -> str | None:
    """The catalog exercise whose file in `folder` this is (None for anything else)."""
    if file.parent != folder.resolve():
        return None
    names = {ex.name for ex in catalog.load() if status.available(ex)}
    return file.stem if file.stem in names else None


def follow(folder: Path, exercise: str | None, batches: Iterable[set[Path]], *, own_deps: bool = False,
           record: bool = True, stop: threading.Event | None = None, out: TextIO = sys.stdout,
           color: bool = False, regrade_fn: Callable[..., tuple[GradeResult, float]] = regrade) -> int:
    """The watch loop. `exercise=None` follows the learner through the catalog. Returns an exit status."""
    from mlkata import progress, report

    stop = stop or threading.Event()
    fixed = exercise is not None
    current = exercise or status.next_to_do(_records(record), folder=folder)
    if current is None:
        print("Every exercise in the kit passes. Watch one anyway: `mlkata watch <exercise>`.", file=out)
        return 0
    print(f"Watching {paths.display(folder)}/ · grading {current} now and on every save "
          f"(q{' + Enter' if not _is_terminal() else ''} or Ctrl-C to stop).", file=out, flush=True)

    def grade(name: str) -> bool:
        result, seconds = regrade_fn(name, folder, own_deps=own_deps)
        if stop.is_set():
            return False  # interrupted half-way: do not show or record a partial grade
        rule(f"{name} · graded in {seconds:.2f} s", out, color)
        print(report.format_result(result, color=color), file=out, flush=True)
        if record:
            try:
                progress.record_attempt(result, mode="watch")
            except progress.ProgressError as err:  # keep watching; say so once per grading
                print(f"mlkata: this grading was not recorded: {err}", file=out)
        return result.ok

    passed_here: set[str] = set()  # passed in this session (without a record, status cannot tell)
    passed = grade(current)
    saves = iter(_until(batches, stop))
    while True:
        while passed and not fixed and not stop.is_set():  # move on to the next exercise to do
            passed_here.add(current)
            following = status.next_to_do(_records(record), after=current, skip=passed_here, folder=folder)
            if following is None:
                print(f"\n{current} passes, and so does every other exercise in the kit. Well done!", file=out)
                return 0
            print(f"\n{current} passes. Next up: {following} (open {paths.display(folder / f'{following}.py')}).",
                  file=out, flush=True)
            current = following
            passed = grade(current)
        batch = next(saves, None)
        if batch is None:
            break
        saved = [exercise_for(path, folder) for path in sorted(batch)]
        if current not in saved:
            if fixed or not any(saved):
                continue  # some other file
            current = next(name for name in saved if name)  # the learner switched exercise
        passed = grade(current)
    print("\nStopped watching.", file=out)
    return 0


def _until(batches: Iterable[set[Path]], stop: threading.Event) -> Iterator[set[Path]]:
    for batch in batches:
        if stop.is_set():
            return
        yield batch


def _records(record: bool) -> dict:
    from mlkata import progress

    return progress.summaries() if record else {}


def _is_terminal() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):
        return False
