"""Before and after in one run: a benchmark on an earlier commit and on this tree, in turn.

A refactor must not make the hot paths slower, and this machine's speed drifts by up to
2x within minutes, so figures taken on different days cannot be compared. This script
checks the earlier commit out into a temporary git worktree, then runs the same benchmark
script from that checkout and from this tree alternately (``--rounds`` times each,
baseline first), each with its own code: the script's folder leads PYTHONPATH, so the
processes it starts import that checkout's packages, not the installed ones. It prints
every run's whole output, then the lines that carry the headline figures side by side.

    .venv/bin/python bench/compare.py webhook --baseline REV [--rounds 2] [-- ARGS...]
    .venv/bin/python bench/compare.py push --baseline REV [--rounds 2] [-- --only delivery]

ARGS go to both runs of the benchmark unchanged. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The lines of each benchmark's output that hold its headline figures.
HEADLINES = {
    "webhook": re.compile(r"^(target|app |floor |must-store |naive |app / )"),
    "push": re.compile(r"pushes/s|peak RSS|every row sent exactly once"),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", choices=sorted(HEADLINES), help="which benchmark")
    parser.add_argument("--baseline", required=True, help="the earlier commit (any git rev)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.args = argv[split + 1 :]
    return args


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """``revision`` in a temporary worktree of this repository, removed afterwards."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        sys.exit(f"bench/compare.py: no commit {revision!r} in {ROOT}")
    with tempfile.TemporaryDirectory(prefix="aixiang-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), commit.stdout.strip()],
            cwd=ROOT,
            check=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
            )


def run_bench(tree: Path, bench: str, args: list[str]) -> str:
    """One run of ``bench`` from ``tree``, with that tree's packages first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    finished = subprocess.run(
        [sys.executable, f"bench/{bench}.py", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        sys.exit(f"bench/compare.py: {bench} failed in {tree}:\n{finished.stdout}{finished.stderr}")
    return finished.stdout


def main() -> None:
    args = parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    outputs: list[tuple[str, str]] = []
    with checkout(args.baseline) as baseline:
        for number in range(1, args.rounds + 1):
            for label, tree in (
                (f"baseline {args.baseline}", baseline),
                (f"this tree {head}", ROOT),
            ):
                print(f"== {args.bench}: {label}, round {number}", flush=True)
                output = run_bench(tree, args.bench, args.args)
                print(output, flush=True)
                outputs.append((f"{label}, round {number}", output))
    print(f"== {args.bench}: headline figures side by side")
    for label, output in outputs:
        print(f"-- {label}")
        for line in output.splitlines():
            if HEADLINES[args.bench].search(line):
                print(f"   {line}")


if __name__ == "__main__":
    main()
