"""BFCL AST checking speed: entries scored per second on the full AST set, ours vs official.

Run by hand: ``python benchmarks/eval_checker.py [--data DIR]`` (by default the data in the
pinned official wheel, fetched once into the user cache). For every entry of the eight AST
categories it scores the ground-truth output and a wrong one (a dropped parameter), with our
checker and with the official checker loaded from the pinned wheel, in the
same process, and prints entries per second, the ratio, and whether every verdict agreed.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voice_agent.evals.bfcl import (
    AST_CATEGORIES,
    check_ast,
    fetch_official_wheel,
    ground_truth_calls,
    load_category,
)
from voice_agent.evals.bfcl._official import load_official_checker


def cases(data: Path) -> list[tuple[str, Any, Any, Any]]:
    out = []
    for category in AST_CATEGORIES:
        for entry in load_category(category, data):
            assert entry.answer is not None
            right = ground_truth_calls(entry.answer)
            wrong = copy.deepcopy(right)
            args = next(iter(wrong[0].values()))
            if args:
                args.pop(next(iter(args)))
            out += [
                (category, entry.functions, right, entry.answer),
                (category, entry.functions, wrong, entry.answer),
            ]
    return out


def main(data: Path, repeats: int) -> None:
    work = cases(data)
    official = load_official_checker(fetch_official_wheel())
    timings: dict[str, float] = {}
    verdicts: dict[str, list[tuple[bool, str | None]]] = {}
    for name in ("official bfcl-eval ast_checker (baseline)", "voice-agent check_ast"):
        best = float("inf")
        for _ in range(repeats):
            inputs = copy.deepcopy(work)  # the official checker may mutate its inputs
            found = []
            start = time.perf_counter()
            for category, docs, decoded, answer in inputs:
                if name.startswith("official"):
                    r = official(docs, decoded, answer, category, False)
                    found.append((r["valid"], None if r["valid"] else r["error_type"]))
                else:
                    v = check_ast(docs, decoded, answer, category)
                    found.append((v.valid, v.error_type))
            best = min(best, time.perf_counter() - start)
        timings[name], verdicts[name] = best, found
    base = timings["official bfcl-eval ast_checker (baseline)"]
    table = Table(
        title=f"BFCL AST checking: {len(work)} outputs over {len(work) // 2} entries, "
        f"best of {repeats}"
    )
    for column in ("checker", "entries / s", "ms total", "speed vs official"):
        table.add_column(column, justify="right" if column != "checker" else "left")
    for name, seconds in timings.items():
        table.add_row(
            name, f"{len(work) / seconds:,.0f}", f"{seconds * 1000:.1f}", f"{base / seconds:.2f}×"
        )
    Console().print(table)
    a, b = verdicts.values()
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    print(f"verdicts agreeing with the official checker: {agree} / {len(a)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    main(args.data or fetch_official_wheel(), args.repeats)
