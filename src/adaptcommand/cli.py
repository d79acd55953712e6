"""The `adaptcommand` command line (installed with the package).

    adaptcommand chat --method hybrid --persona persona_003 "make it cosy for reading"

run in a finished workflow directory (or with --workdir): prints the reply of that persona's model of
that method, built, prompted and decoded exactly as the evaluation does (`adaptcommand.chat`).

    adaptcommand compare-runs runs/demo runs/smollm2 --out results/runs

puts finished runs (other base models, budgets, recipes; the same test turns and headline) side by
side: runs.csv and runs.png in --out (`adaptcommand.compare.runs`).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings


def _context(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--context {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="adaptcommand", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="talk to a trained method as one persona", description=__doc__)
    chat.add_argument("message", help="the user's message")
    chat.add_argument("--method", required=True, help="a method of the run (results/methods/<method>/)")
    chat.add_argument("--persona", required=True, help="persona id, e.g. persona_003")
    chat.add_argument("--history", metavar="FILE", help="earlier turns: JSON list of {role, text}")
    chat.add_argument(
        "--context",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="session context for the system message, e.g. --context time_of_day=evening (repeatable)",
    )
    chat.add_argument("--seed", help="which training seed's models (default: the run's first)")
    chat.add_argument("--workdir", default=".", help="the finished workflow directory (default: here)")
    runs = sub.add_parser("compare-runs", help="finished runs side by side (one table, one figure)")
    runs.add_argument("dirs", nargs="+", metavar="DIR", help="finished workflow directories")
    runs.add_argument("--out", required=True, help="where runs.csv and runs.png are written")
    args = parser.parse_args(argv)
    if args.command == "compare-runs":
        return _compare_runs(args.dirs, args.out)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # one reply: no progress bars
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    # (torch and transformers are imported only once the request is known to be valid: a wrong
    # method or persona is answered at once)
    from adaptcommand.chat import Assistant, ChatError, read_history
    from adaptcommand.prompts import ControlTokenError

    try:
        context = _context(args.context)
        history = read_history(args.history) if args.history else None
        bot = Assistant.load(args.method, args.persona, args.workdir, args.seed)
        print(bot.reply(args.message, history, context))
    except (ChatError, ControlTokenError, argparse.ArgumentTypeError, FileNotFoundError) as exc:
        print(f"adaptcommand chat: {exc}", file=sys.stderr)
        return 2
    return 0


def _compare_runs(dirs: list[str], out: str) -> int:
    from adaptcommand.compare.runs import RunsError, compare_runs

    try:
        table = compare_runs(dirs, out)
    except RunsError as exc:
        print(f"adaptcommand compare-runs: {exc}", file=sys.stderr)
        return 2
    print(f"{table['run'].nunique()} runs, {len(table)} rows: {out}/runs.csv, {out}/runs.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
