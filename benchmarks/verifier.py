"""Accuracy and throughput of ovr_eval.verify side by side with math-verify, in one run.

Usage: python benchmarks/verifier.py [--data ../shared/data] [--workers 2]
Prints a table and writes benchmarks/results/verifier.json.

Sets: the labelled cases in tests/data/verifier_cases.jsonl (human judgements), and the MATH500
round trip (each solution's boxed answer, inside a short response, against the answer field).
math-verify runs with its defaults: gold = parse("$" + answer + "$"), verify(gold, parse(response)).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def math_verify_one(case: tuple[str, str]) -> tuple[bool, float]:
    """math-verify's decision and its wall time for one (response, gold)."""
    from math_verify import parse, verify

    start = time.perf_counter()
    try:
        correct = bool(verify(parse(f"${case[1]}$"), parse(case[0])))
    except Exception:
        correct = False
    return correct, time.perf_counter() - start


def run_math_verify(cases: list[tuple[str, str]], workers: int) -> dict:
    start = time.perf_counter()
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(math_verify_one, cases, chunksize=8)
    else:
        results = [math_verify_one(c) for c in cases]
    return {"decisions": [r[0] for r in results], "seconds": time.perf_counter() - start,
            "max_case_s": max(r[1] for r in results)}


def run_ours(items: list[tuple], workers: int) -> dict:
    from ovr_eval.verify import grade, grade_many

    grade_many([("\\boxed{x+1}", "1+x")], workers=workers)  # start the workers
    start = time.perf_counter()
    verdicts = grade_many(items, workers=workers)
    seconds = time.perf_counter() - start
    slowest = 0.0
    for item in items:  # one at a time, for the worst single-case latency
        t = time.perf_counter()
        grade(*item)
        slowest = max(slowest, time.perf_counter() - t)
    return {"decisions": [v.correct for v in verdicts], "seconds": seconds, "max_case_s": slowest}


def accuracy(decisions: list[bool], labels: list[bool]) -> float:
    return sum(d == y for d, y in zip(decisions, labels, strict=True)) / len(labels)


def main() -> None:
    from ovr_eval.verify.extract import last_boxed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cases", type=Path, default=REPO / "tests" / "data" /
                        "verifier_cases.jsonl")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "verifier.json")
    args = parser.parse_args()

    cases = [json.loads(x) for x in args.cases.read_text().splitlines() if x.strip()]
    labels = [bool(c["correct"]) for c in cases]
    labelled_ours = run_ours([(c["response"], c["answer"], c.get("choices")) for c in cases],
                             args.workers)
    labelled_mv = run_math_verify([(c["response"], c["answer"]) for c in cases], 1)

    rows = [json.loads(x) for x in (args.data / "math500" / "test.jsonl").open()]
    trip = [(f"So the final answer is $\\boxed{{{last_boxed(r['solution'])}}}$.", r["answer"])
            for r in rows]
    trip_ours = run_ours(trip, args.workers)
    trip_mv1 = run_math_verify(trip, 1)
    trip_mv2 = run_math_verify(trip, args.workers)

    result = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "workers": args.workers,
        "labelled": {
            "n": len(cases),
            "ovr_eval": {"accuracy": accuracy(labelled_ours["decisions"], labels),
                         "seconds": labelled_ours["seconds"],
                         "max_case_s": labelled_ours["max_case_s"]},
            "math_verify": {"accuracy": accuracy(labelled_mv["decisions"], labels),
                            "seconds": labelled_mv["seconds"],
                            "max_case_s": labelled_mv["max_case_s"]},
            "disagreements_ovr_eval": [
                {"response": c["response"][-200:], "answer": c["answer"], "label": y,
                 "rule": c.get("rule")}
                for c, d, y in zip(cases, labelled_ours["decisions"], labels, strict=True)
                if d != y],
        },
        "math500_round_trip": {
            "n": len(trip),
            "ovr_eval": {"correct": sum(trip_ours["decisions"]), "seconds": trip_ours["seconds"],
                         "max_case_s": trip_ours["max_case_s"]},
            "math_verify_1_process": {"correct": sum(trip_mv1["decisions"]),
                                      "seconds": trip_mv1["seconds"]},
            f"math_verify_{args.workers}_processes": {"correct": sum(trip_mv2["decisions"]),
                                                      "seconds": trip_mv2["seconds"]},
            "speedup_vs_math_verify_same_workers": trip_mv2["seconds"] / trip_ours["seconds"],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    table = Table(title=f"verifiers ({args.workers} workers, {os.cpu_count()} CPUs)")
    for column in ("set", "verifier", "accuracy / correct", "wall s", "items/s", "max case s"):
        table.add_column(column)
    lab = result["labelled"]
    for name in ("ovr_eval", "math_verify"):
        r = lab[name]
        table.add_row("labelled", name, f"{100 * r['accuracy']:.1f}%", f"{r['seconds']:.2f}",
                      f"{lab['n'] / r['seconds']:.0f}", f"{r['max_case_s']:.2f}")
    trip_result = result["math500_round_trip"]
    for name in ("ovr_eval", "math_verify_1_process", f"math_verify_{args.workers}_processes"):
        r = trip_result[name]
        table.add_row("MATH500 round trip", name, f"{r['correct']}/{trip_result['n']}",
                      f"{r['seconds']:.2f}", f"{trip_result['n'] / r['seconds']:.0f}",
                      f"{r.get('max_case_s', float('nan')):.2f}")
    Console().print(table)
    print(f"speed-up over math-verify ({args.workers} processes each): "
          f"{trip_result['speedup_vs_math_verify_same_workers']:.1f}x; wrote {args.out}")


if __name__ == "__main__":
    main()
