"""Grading accuracy and throughput of ovr_eval.verify beside Math-Verify, in one run.

Usage: python benchmarks/verifier.py [--data ../shared/data] [--workers 2] [--quick]
Prints tables and writes benchmarks/results/verifier.json.

Sets:
- ours: the labelled cases in tests/data/verifier_cases.jsonl (written for this project);
- peers: ../shared/data/verifier-peers/cases.jsonl, 372 labelled cases from other answer
  checkers' test suites (every case given as a response, as a new user's `ovr grade` would);
- published: ../shared/data/published-outputs, real model responses with the benchmarks' own
  per-sample verdicts, graded as `ovr grade --task` grades them (the task's choices, official
  rules; LogicVista and MathVision items joined with their data by id). A *miss* is a response
  the official pipeline credits and ovr does not; "official right" keeps the misses whose
  official extraction, graded by itself, really names the gold answer (MathVista's judge maps
  refusals such as "N/A" to the nearest option and so credits them). *Extra credit* is the other
  way round: ovr credits, the official verdict does not;
- published v2: ../shared/data/published-outputs-v2, real text-maths responses (MATH500, AIME,
  AMC, OlympiadBench, Minerva, Gaokao) with their pipelines' verdicts, graded free-form. The
  official pipelines credit an answer stated with no marker through their last-number fallback:
  verdicts read from no marker (``last_line``/``last_sentence``) are counted apart; so is extra
  credit where the official extraction, graded here, is right (its comparator was stricter:
  "3.83 \\times 10^{35}" for 3.83e35), and items whose official gold normalised to "";
- invariance: every rewrite of ovr_eval.verify.metamorphic over our labelled cases, and over a
  sample of the published v2 and multimodal responses (the share of verdicts each rewrite
  keeps: a rewrite that changes a verdict is a rule reading the surrounding, not the answer);
- MATH500 round trip: each solution's boxed answer inside a short response (throughput).
Math-Verify 0.9 runs with its defaults (gold = parse("$" + answer + "$"), verify(gold,
parse(response))); for multiple-choice items it gets its documented letter extraction
(StringExtractionConfig) on both sides: the configuration of `ovr eval`'s second opinion
(ovr_eval.verify.second_opinion.opinion), here with Math-Verify's own 5 s alarms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
TASK_OF = {"mathvista": "mathvista", "mathvision": "mathvision", "logicvista": "logicvista",
           "mmmu_pro": "mmmu_pro"}


# ---------------------------------------------------------------- Math-Verify
def math_verify_one(case: tuple[str, str, bool]) -> tuple[bool, float]:
    """Math-Verify's decision and its wall time for one (response, gold, multiple choice):
    ``ovr eval``'s second opinion (``second_opinion.opinion``) on the whole response, with
    Math-Verify's own 5 s alarms and its default letters A-D, as a user running it alone."""
    from ovr_eval.verify.second_opinion import DEFAULT_LETTERS, opinion

    response, gold, choice = case
    start = time.perf_counter()
    try:
        correct = opinion(response, gold, DEFAULT_LETTERS if choice else None,
                          timeout_seconds=5)
    except Exception:
        correct = False
    return correct, time.perf_counter() - start


def run_math_verify(cases: list[tuple[str, str, bool]], workers: int) -> dict[str, Any]:
    start = time.perf_counter()
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(math_verify_one, cases, chunksize=16)
    else:
        results = [math_verify_one(c) for c in cases]
    return {"decisions": [r[0] for r in results], "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- ovr
def run_ours(items: list[Any], workers: int) -> dict[str, Any]:
    from ovr_eval.verify import grade_many

    grade_many([("\\boxed{x+1}", "1+x")], workers=workers)  # start the workers
    start = time.perf_counter()
    verdicts = grade_many(items, workers=workers)
    return {"decisions": [v.correct for v in verdicts], "verdicts": verdicts,
            "seconds": time.perf_counter() - start}


def agreement(decisions: list[bool], labels: list[bool]) -> dict[str, Any]:
    agree = sum(d == y for d, y in zip(decisions, labels, strict=True))
    false_positives = sum(d and not y for d, y in zip(decisions, labels, strict=True))
    return {"n": len(labels), "agree": agree, "accuracy": agree / len(labels) if labels else None,
            "false_positives": false_positives}


def labelled_sets(args: argparse.Namespace) -> dict[str, Any]:
    """Our own labelled cases and the peers' cases: ovr vs Math-Verify, per source file."""
    out = {}
    own = [json.loads(x) for x in args.cases.read_text().splitlines() if x.strip()]
    peers = [json.loads(x) for x in (args.data / "verifier-peers" / "cases.jsonl").open()]
    for name, cases, label_key in (("ours", own, "correct"), ("peers", peers, "expected")):
        labels = [bool(c[label_key]) for c in cases]
        items = [{"response": c["response"], "answer": c["answer"], "choices": c.get("choices")}
                 for c in cases]
        ours = run_ours(items, args.workers)
        letter = [_is_letter(c["answer"]) for c in cases]
        theirs = run_math_verify([(c["response"], c["answer"], m)
                                  for c, m in zip(cases, letter, strict=True)], args.workers)
        result = {"ovr_eval": {**agreement(ours["decisions"], labels), "seconds": ours["seconds"]},
                  "math_verify": {**agreement(theirs["decisions"], labels),
                                  "seconds": theirs["seconds"]}}
        if name == "peers":
            by_source: dict[str, dict[str, list[bool]]] = defaultdict(
                lambda: {"labels": [], "ovr": [], "mv": []})
            for case, y, o, m in zip(cases, labels, ours["decisions"], theirs["decisions"],
                                     strict=True):
                source = ":".join(case["source"].split(":")[:2])
                by_source[source]["labels"].append(y)
                by_source[source]["ovr"].append(o)
                by_source[source]["mv"].append(m)
            result["by_source"] = {
                s: {"n": len(v["labels"]), "ovr_eval": agreement(v["ovr"], v["labels"])["agree"],
                    "math_verify": agreement(v["mv"], v["labels"])["agree"]}
                for s, v in sorted(by_source.items())}
        result["disagreements_ovr_eval"] = [
            {"response": c["response"][-200:], "answer": c["answer"], "label": y,
             "extracted": v.extracted, "method": v.method}
            for c, y, v in zip(cases, labels, ours["verdicts"], strict=True) if v.correct != y]
        out[name] = result
    return out


def _is_letter(gold: str) -> bool:
    from ovr_eval.verify.choices import gold_letters

    return gold_letters(str(gold)) is not None


# ---------------------------------------------------------------- published outputs
def published(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Each published file graded as `ovr grade --task` does, against the official verdicts."""
    from ovr_eval.grading import grade_file
    from ovr_eval.task_registry import resolve
    files = sorted((args.data / "published-outputs").glob("*.jsonl"))
    if args.quick:
        files = files[::4]
    out: dict[str, Any] = {"files": {}, "benchmarks": {}}
    scratch = Path(tempfile.mkdtemp(prefix="ovr-published-"))
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in files:
        bench = path.name.split("-")[0]
        task = resolve(TASK_OF[bench])[0]
        start = time.perf_counter()
        graded = grade_file(path, scratch / path.name, workers=args.workers, task=task,
                            data_dir=args.data, console=Console(stderr=True, quiet=True),
                            second_opinion=False)  # Math-Verify is measured on its own below
        seconds = time.perf_counter() - start
        lines = [json.loads(x) for x in (scratch / path.name).open()]
        # the official pipeline's own extraction, graded as a prediction by the same task
        # rules: does what the official pipeline read really name the gold answer?
        readings = scratch / f"official-{path.name}"
        readings.write_text("".join(
            json.dumps({**{k: v for k, v in x.items() if k not in ("response", "extracted",
                                                                 "correct", "method", "error",
                                                                 "task_correct")},
                        "prediction": str(x.get("official_extracted") or "")}) + "\n"
            for x in lines))
        grade_file(readings, scratch / f"official-graded-{path.name}", workers=args.workers,
                   task=task, data_dir=args.data, console=Console(stderr=True, quiet=True),
                   second_opinion=False)
        official_reads = [bool(json.loads(x)["task_correct"])
                          for x in (scratch / f"official-graded-{path.name}").open()]
        stats = {"n": len(lines), "seconds": seconds, "joined_with_task_data": graded.joined,
                 "official_score": 0, "ovr_score": 0, "agree": 0, "misses": 0,
                 "misses_official_right": 0, "extra_credit": 0,
                 "extra_credit_official_extraction_right": 0}
        examples = []
        for line, read in zip(lines, official_reads, strict=True):
            ours, official = bool(line["task_correct"]), bool(line["official_correct"])
            stats["official_score"] += official
            stats["ovr_score"] += ours
            stats["agree"] += ours == official
            if official and not ours:
                stats["misses"] += 1
                if read:
                    stats["misses_official_right"] += 1
                    if len(examples) < 20:
                        examples.append({"id": line.get("id"), "gold": line["answer"],
                                         "extracted": line.get("extracted")})
            if ours and not official:
                stats["extra_credit"] += 1
                stats["extra_credit_official_extraction_right"] += read
        for key in ("official_score", "ovr_score"):
            stats[key] = 100 * stats[key] / stats["n"]
        stats["miss_examples"] = examples
        out["files"][path.name] = stats
        for key in ("n", "agree", "misses", "misses_official_right", "extra_credit",
                    "extra_credit_official_extraction_right", "seconds"):
            totals[bench][key] += stats[key]
        console.print(f"  {path.name}: {stats['n']} graded in {seconds:.1f} s")
    shutil.rmtree(scratch, ignore_errors=True)
    for bench, t in totals.items():
        n = t["n"]
        out["benchmarks"][bench] = {
            "n": int(n), "agreement_%": 100 * t["agree"] / n, "miss_%": 100 * t["misses"] / n,
            "miss_official_right_%": 100 * t["misses_official_right"] / n,
            "extra_credit_%": 100 * t["extra_credit"] / n,
            "extra_credit_official_extraction_right_%":
                100 * t["extra_credit_official_extraction_right"] / n,
            "items_per_s": n / t["seconds"]}
    return out


def published_math_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Math-Verify's agreement with the official verdicts on the same published files."""
    files = sorted((args.data / "published-outputs").glob("*.jsonl"))
    if args.quick:
        files = files[::4]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seconds = 0.0
    for path in files:
        bench = path.name.split("-")[0]
        lines = [json.loads(x) for x in path.open()]
        cases = [(x["response"], x["answer"], _is_letter(x["answer"])) for x in lines]
        result = run_math_verify(cases, args.workers)
        seconds += result["seconds"]
        totals[bench][0] += len(lines)
        totals[bench][1] += sum(d == bool(x["official_correct"])
                                for d, x in zip(result["decisions"], lines, strict=True))
    return {"benchmarks": {b: {"n": n, "agreement_%": 100 * a / n}
                           for b, (n, a) in totals.items()},
            "seconds": seconds}


# ---------------------------------------------------------------- published outputs v2
UNMARKED = ("last_line", "last_sentence")


def published_v2(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Free-form grading of the v2 files against their pipelines' verdicts, beside Math-Verify."""
    rows = []
    files = sorted((args.data / "published-outputs-v2").glob("*.jsonl"))
    for path in files[::4] if args.quick else files:
        rows += [{**json.loads(x), "_bench": path.name.split("-")[0], "_file": path.name}
                 for x in path.open()]
    empty_gold = [r for r in rows if r.get("official_gold") == ""]
    rows = [r for r in rows if r.get("official_gold") != ""]
    items = [{"response": r["response"], "answer": r["answer"], "choices": r.get("choices")}
             for r in rows]
    ours = run_ours(items, args.workers)
    console.print(f"  ovr-eval: {len(rows)} responses in {ours['seconds']:.1f} s")
    theirs = run_math_verify([(r["response"], r["answer"], False) for r in rows], args.workers)
    console.print(f"  Math-Verify: {len(rows)} responses in {theirs['seconds']:.1f} s")
    readings = run_ours([{"response": "", "prediction": str(r.get("official_extracted") or ""),
                          "answer": r["answer"]} for r in rows], args.workers)["decisions"]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples: list[dict[str, Any]] = []
    for r, verdict, mv, read in zip(rows, ours["verdicts"], theirs["decisions"], readings,
                                    strict=True):
        official = bool(r["official_correct"])
        for key in (r["_bench"], "all"):
            t = totals[key]
            t["n"] += 1
            t["agree"] += verdict.correct == official
            t["math_verify_agree"] += mv == official
            t["misses"] += official and not verdict.correct
            t["math_verify_misses"] += official and not mv
            t["extra_credit"] += verdict.correct and not official
            t["extra_credit_official_extraction_right"] += verdict.correct and not official and read
            unmarked = verdict.method.split("/")[0] in UNMARKED
            t["unmarked"] += unmarked
            t["unmarked_agree"] += unmarked and verdict.correct == official
        if official and not verdict.correct and len(examples) < 40:
            examples.append({"file": r["_file"], "gold": r["answer"],
                             "extracted": verdict.extracted, "method": verdict.method,
                             "official_extracted": r.get("official_extracted"),
                             "id": r.get("id")})  # ids, not texts: no copy of the data
    benchmarks = {}
    for key, t in totals.items():
        n = t["n"]
        comparable = n - t["extra_credit_official_extraction_right"]
        benchmarks[key] = {
            **t, "agreement_%": 100 * t["agree"] / n,
            "math_verify_agreement_%": 100 * t["math_verify_agree"] / n,
            "agreement_without_official_comparator_misses_%":
                100 * t["agree"] / comparable if comparable else None}
    return {"benchmarks": benchmarks, "empty_official_gold": len(empty_gold),
            "seconds": {"ovr_eval": ours["seconds"], "math_verify": theirs["seconds"]},
            "miss_examples": examples}


# ---------------------------------------------------------------- invariance
def invariance(args: argparse.Namespace) -> dict[str, Any]:
    """The share of verdicts each metamorphic rewrite keeps: on our labelled cases (where the
    verdict must equal the label) and on a sample of published v2 responses (where it must
    equal the verdict on the response as written)."""
    import random

    from ovr_eval.verify import grade_many
    from ovr_eval.verify.metamorphic import INVARIANT, flip_boxed_number

    own = [json.loads(x) for x in args.cases.read_text().splitlines() if x.strip()]
    sets = {"ours": [(c["response"], c["answer"], c.get("choices"), bool(c["correct"]))
                     for c in own]}
    for folder in ("published-outputs-v2", "published-outputs"):
        rows = [json.loads(x) for path in sorted((args.data / folder).glob("*.jsonl"))
                for x in path.open()]
        sample = random.Random(0).sample(rows, min(args.invariance_sample, len(rows)))
        as_written = grade_many([(r["response"], r["answer"], r.get("choices")) for r in sample],
                                workers=args.workers)
        sets[f"{folder}_sample"] = [(r["response"], r["answer"], r.get("choices"), v.correct)
                                    for r, v in zip(sample, as_written, strict=True)]
    out: dict[str, Any] = {}
    for name, cases in sets.items():
        items, expected, rewrites = [], [], []
        for response, gold, choices, verdict in cases:
            for rewrite_name, rewrite in INVARIANT.items():
                items.append((rewrite(response), gold, choices))
                expected.append(verdict)
                rewrites.append(rewrite_name.split(":")[0])
            flipped = flip_boxed_number(response) if verdict else None
            if flipped is not None:
                items.append((flipped, gold, choices))
                expected.append(False)
                rewrites.append("flip_boxed_number")
        verdicts = grade_many(items, workers=args.workers)
        kept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for kind, want, verdict in zip(rewrites, expected, verdicts, strict=True):
            kept[kind][0] += verdict.correct == want
            kept[kind][1] += 1
        total_kept = sum(k for k, _ in kept.values())
        out[name] = {"rewrites": len(items), "kept": total_kept,
                     "invariance_%": 100 * total_kept / len(items),
                     "by_rewrite": {k: {"n": n, "kept": c} for k, (c, n) in sorted(kept.items())}}
    return out


# ---------------------------------------------------------------- throughput
def round_trip(args: argparse.Namespace) -> dict[str, Any]:
    from ovr_eval.verify.extract import last_boxed

    rows = [json.loads(x) for x in (args.data / "math500" / "test.jsonl").open()]
    trip = [(f"So the final answer is $\\boxed{{{last_boxed(r['solution'])}}}$.", r["answer"])
            for r in rows]
    ours = run_ours(trip, args.workers)
    theirs = run_math_verify([(r, g, False) for r, g in trip], args.workers)
    return {"n": len(trip),
            "ovr_eval": {"correct": sum(ours["decisions"]), "seconds": ours["seconds"]},
            "math_verify": {"correct": sum(theirs["decisions"]), "seconds": theirs["seconds"]},
            "speedup": theirs["seconds"] / ours["seconds"]}


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cases", type=Path,
                        default=REPO / "tests" / "data" / "verifier_cases.jsonl")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="every fourth published file")
    parser.add_argument("--invariance-sample", type=int, default=1000,
                        help="responses of each published set rewritten for the invariance rate")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "verifier.json")
    args = parser.parse_args()
    console = Console()
    if not (args.data / "verifier-peers" / "cases.jsonl").is_file():
        sys.exit(f"{args.data} does not hold the shared data (verifier-peers/, published-outputs/)")

    console.print("labelled sets ...")
    labelled = labelled_sets(args)
    console.print("published outputs (ovr grade --task) ...")
    pub = published(args, console)
    console.print("published outputs (Math-Verify) ...")
    pub_mv = published_math_verify(args)
    console.print("published outputs v2 (ovr-eval and Math-Verify) ...")
    pub_v2 = published_v2(args, console)
    console.print("invariance under rewrites ...")
    invariant = invariance(args)
    console.print("MATH500 round trip ...")
    trip = round_trip(args)
    ours_items_per_s = (sum(b["n"] for b in pub["benchmarks"].values())
                        / sum(f["seconds"] for f in pub["files"].values()))
    mv_items_per_s = sum(b["n"] for b in pub_mv["benchmarks"].values()) / pub_mv["seconds"]
    result = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "workers": args.workers, "labelled": labelled, "published": pub,
        "published_math_verify": pub_mv, "published_v2": pub_v2, "invariance": invariant,
        "math500_round_trip": trip,
        "throughput_published_items_per_s": {"ovr_eval": ours_items_per_s,
                                             "math_verify": mv_items_per_s,
                                             "ratio": ours_items_per_s / mv_items_per_s},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(console, result)
    console.print(f"wrote {args.out}")


def print_tables(console: Console, result: dict[str, Any]) -> None:
    table = Table(title="labelled cases: agreement with the label (false positives)")
    for column in ("set", "n", "ovr-eval", "Math-Verify"):
        table.add_column(column, justify="left" if column == "set" else "right")
    for name, r in result["labelled"].items():
        o, m = r["ovr_eval"], r["math_verify"]
        table.add_row(name, str(o["n"]), f"{100 * o['accuracy']:.1f}% ({o['false_positives']})",
                      f"{100 * m['accuracy']:.1f}% ({m['false_positives']})")
    for source, s in result["labelled"]["peers"]["by_source"].items():
        table.add_row(f"  {source}", str(s["n"]), str(s["ovr_eval"]), str(s["math_verify"]))
    console.print(table)
    table = Table(title="published outputs vs the official verdicts (% of responses)")
    for column in ("benchmark", "n", "agree ovr", "agree Math-Verify", "misses",
                   "misses (official right)", "extra credit", "items/s"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for bench, b in result["published"]["benchmarks"].items():
        mv = result["published_math_verify"]["benchmarks"][bench]
        table.add_row(bench, str(b["n"]), f"{b['agreement_%']:.2f}", f"{mv['agreement_%']:.2f}",
                      f"{b['miss_%']:.2f}", f"{b['miss_official_right_%']:.2f}",
                      f"{b['extra_credit_%']:.2f}", f"{b['items_per_s']:.0f}")
    console.print(table)
    table = Table(title="published outputs v2 vs their pipelines' verdicts (free-form)")
    for column in ("benchmark", "n", "agree ovr", "agree Math-Verify", "misses ovr",
                   "misses MV", "extra credit (official extraction right)", "no marker (agree)"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for bench, b in result["published_v2"]["benchmarks"].items():
        table.add_row(bench, str(b["n"]), f"{b['agreement_%']:.2f}",
                      f"{b['math_verify_agreement_%']:.2f}", str(b["misses"]),
                      str(b["math_verify_misses"]),
                      f"{b['extra_credit']} ({b['extra_credit_official_extraction_right']})",
                      f"{b['unmarked']} ({b['unmarked_agree']})")
    console.print(table)
    v2_seconds = result["published_v2"]["seconds"]
    console.print(f"published v2 throughput: ovr {v2_seconds['ovr_eval']:.1f} s, Math-Verify "
                  f"{v2_seconds['math_verify']:.1f} s "
                  f"({v2_seconds['math_verify'] / v2_seconds['ovr_eval']:.1f}x)")
    table = Table(title="verdicts kept under metamorphic rewrites")
    for column in ("set", "rewrites", "kept", "invariance %"):
        table.add_column(column, justify="left" if column == "set" else "right")
    for name, inv in result["invariance"].items():
        table.add_row(name, str(inv["rewrites"]), str(inv["kept"]), f"{inv['invariance_%']:.2f}")
        for kind, k in inv["by_rewrite"].items():
            table.add_row(f"  {kind}", str(k["n"]), str(k["kept"]), "")
    console.print(table)
    trip, speed = result["math500_round_trip"], result["throughput_published_items_per_s"]
    console.print(f"MATH500 round trip: ovr {trip['ovr_eval']['correct']}/{trip['n']} in "
                  f"{trip['ovr_eval']['seconds']:.2f} s, Math-Verify "
                  f"{trip['math_verify']['correct']}/{trip['n']} in "
                  f"{trip['math_verify']['seconds']:.2f} s ({trip['speedup']:.1f}x); published "
                  f"responses: ovr {speed['ovr_eval']:.0f}/s, Math-Verify "
                  f"{speed['math_verify']:.0f}/s ({speed['ratio']:.1f}x)")


if __name__ == "__main__":
    main()
