"""`mlkata interview <exercise>`: a timed, blank-slate attempt in a scratch copy."""

from __future__ import annotations

import argparse
import sys

HELP = "a timed blank-slate attempt in a scratch copy (your file is untouched); records time to green"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", nargs="?", help="the exercise (or --random)")
    parser.add_argument("--minutes", type=float, default=45.0, help="the time limit (default 45)")
    parser.add_argument("--random", action="store_true", help="pick an exercise for me, weighted towards weak ones")
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)  # reproducible --random (tests)
    parser.add_argument("--check", action="store_true", help="grade the open interview once, with the countdown")
    parser.add_argument("--resume", action="store_true", help="watch the open interview again")
    parser.add_argument("--no-watch", action="store_true", help="start the clock and return; check with --check")
    parser.add_argument("--poll", action="store_true", help="poll for saves instead of file notifications")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import progress

    return progress.friendly(_run)(args)


def _run(args: argparse.Namespace) -> int:
    import random
    import threading

    from mlkata import interview, paths, progress, report, watch

    if args.check or args.resume:
        session = progress.open_interview()
        if session is None:
            print("No interview is open. Start one: `mlkata interview <exercise>` or `mlkata interview --random`.")
            return 1
        if args.check:
            result = interview.check(session)
            print(report.format_result(result, color=report.use_color(sys.stdout)))
            print(interview.verdict(session, result))
            return 0 if result.ok else 1
    else:
        if bool(args.exercise) == args.random:
            print("name an exercise, or pass --random")
            return 2
        name = args.exercise or interview.pick_random(progress.summaries(), random.Random(args.seed))
        try:
            session = interview.start(name, args.minutes)
        except ValueError as err:
            print(f"mlkata: {err}")
            return 2
        print(f"Interview: {session.exercise}, {interview.clock(session.minutes * 60)} on the clock, from a blank stub"
              + (" (picked at random, weak spots weigh more)" if args.random else "") + ".")
        print(f"Write it in {paths.display(session.file)}; your exercises/{session.exercise}.py is untouched.")
        if args.no_watch:
            print("`mlkata interview --check` grades it, with the time left.")
            return 0
    print(f"Each save is graded; {interview.countdown(session)}. q or Ctrl-C stops watching (the clock keeps going).")
    stop = threading.Event()
    with watch.interrupts(stop), watch.keys(stop):
        return interview.session(session, watch.changes(session.folder, stop, poll=args.poll), stop=stop,
                                 color=report.use_color(sys.stdout))
