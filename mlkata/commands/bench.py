"""`mlkata bench <exercise>`: time your implementation against torch's built-in (never a verdict)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from mlkata.commands import add_impl_options

HELP = "time your implementation against torch's built-in (speed and peak memory)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", nargs="?", help="exercise to benchmark (see --all)")
    parser.add_argument("--all", action="store_true", help="every exercise that has a benchmark, then a summary")
    add_impl_options(parser)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run (default cpu)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats: seconds, not minutes (not recorded in progress)")
    parser.add_argument("--grader", action="store_true",
                        help="also time `mlkata check attention` against a bare `import torch`")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 with --quick). On a busy "
                             "machine threads wait for each other: --threads 1 gives steadier numbers")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.exercise or args.all or args.grader):
        print("mlkata bench: name an exercise, or use --all (or --grader)", file=sys.stderr)
        return 2
    threads = args.threads or (1 if args.quick else None)
    if threads and "numpy" not in sys.modules:
        # numpy's BLAS (mlp_backprop) reads its thread count once, when numpy is first imported.
        for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, str(threads))
    import torch

    from mlkata import bench
    from mlkata.bench import framework

    if args.device == "cuda" and not torch.cuda.is_available():
        print("mlkata bench: --device cuda, but torch.cuda.is_available() is False (a CPU build of torch, "
              "or no GPU): see README, 'On a GPU'", file=sys.stderr)
        return 2
    names = bench.available() if args.all else ([args.exercise] if args.exercise else [])
    for name in names:
        if name not in bench.available():
            from mlkata import catalog

            catalog.get(name)  # an unknown name: CatalogError lists the exercises
            print(f"mlkata bench: {name} has no benchmark yet; these do: {', '.join(bench.available())}",
                  file=sys.stderr)
            return 2

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run(args, framework, names)
    finally:
        torch.set_num_threads(previous_threads)


def _run(args: argparse.Namespace, framework: Any, names: list[str]) -> int:
    ctx = framework.Context(args.impl, device=args.device, quick=args.quick, own_deps=args.own_deps)
    printer = None if args.json else TablePrinter(ctx)
    if printer:
        printer.start()
    sections = [(name, framework.run_cases(ctx, name)) for name in names]  # generators: run below
    if args.grader:
        from mlkata.bench import grader

        sections.append(("grader", grader.cases(ctx)))
    rows: list[framework.Row] = []
    seconds: dict[str, float] = {}
    for name, section in sections:
        if printer:
            printer.exercise(name)
        start = time.perf_counter()
        for row in section:
            rows.append(row)
            if printer:
                printer.row(row)
            if not args.quick:  # --quick sizes say nothing about your speed: not recorded
                record(row, ctx)
        seconds[name] = time.perf_counter() - start
    if args.json:
        doc: dict[str, Any] = {"impl": ctx.impl, "device": ctx.device, "quick": ctx.quick,
                               "environment": framework.environment(ctx.device),
                               "busy": framework.busy_warning(ctx.device),
                               "rows": [r.to_json() for r in rows]}
        if args.all:
            doc["summary"] = summary(rows, seconds)
        print(json.dumps(doc, indent=1))
    elif args.all and printer:
        printer.summary(summary(rows, seconds))
    return 0


def record(row: Any, ctx: Any) -> None:
    """Append a measured row to the learner's progress store, if there is one (silently not).

    The worked solutions' numbers are not the learner's progress: they are not recorded.
    """
    from mlkata import paths

    if row.mine is None or ctx.impl_dir == paths.SOLUTIONS.resolve():
        return
    metrics = row.metrics()
    try:
        from mlkata import progress

        case = f"{row.case} vs {row.baseline} [{row.size}] on {ctx.device}"
        progress.record_benchmark(row.exercise, case, ctx.impl, metrics)
    except Exception:  # noqa: BLE001 - the store is optional; a benchmark never fails on it
        pass


def summary(rows: list[Any], seconds: dict[str, float]) -> list[dict[str, Any]]:
    """Per exercise: rows measured, rows without numbers (and why), the median and range of
    ratios, and how long its benchmark took."""
    import statistics

    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row.exercise, {"exercise": row.exercise, "rows": 0, "measured": 0,
                                                "ratios": [], "problems": []})
        entry["rows"] += 1
        if row.ratio is not None:
            entry["measured"] += 1
            entry["ratios"].append(row.ratio)
        else:
            problem = row.status or row.baseline_status
            kind = "not implemented yet" if "not implemented" in problem else problem.split(":")[0]
            if kind and kind not in entry["problems"]:
                entry["problems"].append(kind)
    out = []
    for entry in table.values():
        ratios = entry.pop("ratios")
        entry["median_ratio"] = statistics.median(ratios) if ratios else None
        entry["min_ratio"] = min(ratios) if ratios else None
        entry["max_ratio"] = max(ratios) if ratios else None
        entry["seconds"] = seconds.get(entry["exercise"])
        out.append(entry)
    return out


class TablePrinter:
    """Prints rows as they are measured (a full run takes a minute or two)."""

    SIZE, TIME, RATIO = 36, 17, 8

    def __init__(self, ctx: Any) -> None:
        from mlkata.bench import framework

        self.ctx, self.fw = ctx, framework
        self.group: tuple[str, str] | None = None

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def start(self) -> None:
        from mlkata import paths

        mode = " · --quick sizes" if self.ctx.quick else ""
        where = paths.display(self.ctx.impl_dir)
        self.say(f"mlkata bench · {where} · {self.fw.environment(self.ctx.device)}{mode}")
        self.say("median time per call ± spread (median absolute deviation); ratio = yours / baseline "
                 "(below 1 is faster);")
        self.say("peak = extra memory the call allocated (docs/benchmarks.md says how it is measured).")
        busy = self.fw.busy_warning(self.ctx.device)
        if busy:
            self.say(f"note: {busy}")

    def exercise(self, name: str) -> None:
        self.group = None
        self.say()
        self.say(name)

    def _time(self, stats: Any) -> str:
        if stats.median_s <= 0 or stats.repeats < 2:
            return self.fw.format_seconds(stats.median_s)  # one sample: no spread to show
        spread = f" ±{100 * stats.spread_s / stats.median_s:.0f}%"
        return self.fw.format_seconds(stats.median_s) + spread

    def row(self, row: Any) -> None:
        fw = self.fw
        if not row.baseline:  # the exercise as a whole could not run
            self.say(f"  {row.status}")
            return
        if (row.case, row.baseline) != self.group:
            self.group = (row.case, row.baseline)
            self.say(f"  {row.case}  vs  {row.baseline}")
            self.say(f"    {'size':<{self.SIZE}}{'yours':<{self.TIME}}{'baseline':<{self.TIME}}"
                     f"{'ratio':<{self.RATIO}}peak memory yours / baseline")
        line = f"    {row.size:<{self.SIZE}}"
        if len(row.size) >= self.SIZE:  # a long size gets a line of its own
            self.say(f"    {row.size}")
            line = " " * (4 + self.SIZE)
        if row.mine is None:
            self.say(line + row.status)
        else:
            line += f"{self._time(row.mine):<{self.TIME}}"
            if row.theirs is None:
                self.say(line + f"baseline {row.baseline_status}")
            else:
                line += f"{self._time(row.theirs):<{self.TIME}}" + f"{row.ratio:.2f}×".ljust(self.RATIO)
                if row.mine.peak_bytes is not None and row.theirs.peak_bytes is not None:
                    line += f"{fw.format_bytes(row.mine.peak_bytes)} / {fw.format_bytes(row.theirs.peak_bytes)}"
                self.say(line.rstrip())
        for note in row.notes:
            self.say(f"      note: {note}")

    def summary(self, entries: list[dict[str, Any]]) -> None:
        self.say()
        total = sum(e["seconds"] or 0 for e in entries)
        self.say(f"summary ({self.ctx.device}, {total:.0f} s): ratio = yours / baseline; "
                 "median [min - max] over measured rows")
        for e in entries:
            if e["median_ratio"] is None:
                ratio = "no measurements"
            else:
                ratio = f"{e['median_ratio']:.2f}× [{e['min_ratio']:.2f}× - {e['max_ratio']:.2f}×]"
            problems = f"  ({'; '.join(e['problems'])})" if e["problems"] else ""
            took = f"{e['seconds']:5.1f} s  " if e["seconds"] is not None else ""
            self.say(f"  {e['exercise']:<20}{took}{e['measured']:>3}/{e['rows']:<3} rows  {ratio}{problems}")
