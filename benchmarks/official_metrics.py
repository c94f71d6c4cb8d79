"""Official metrics and error bars, measured.

Usage: python benchmarks/official_metrics.py [--data ../shared/data] [--workers 2]
Prints tables and writes benchmarks/results/official_metrics.json.

1. Error bars on simulated reruns: 30 AIME-like problems (fixed solve rates, mean 65%) sampled
   again and again at k = 1, 4, 16 responses per problem: the spread of the score over reruns
   against the mean between-problem and within-problem (rerun) standard errors, and how often
   each 95% interval covers the expected score on these problems.
2. DynaMath's average accuracy on simulated seeds (501 seeds x 10 variants whose variants share
   the seed's difficulty): the error per variant vs clustered by seed, against the spread of
   the average over fresh samples of seeds.
3. Published per-sample outputs (../shared/data/published-outputs, real responses with the
   official verdicts): per file, the official score, our official score (the verifier's
   extraction with each task's official rules and fallbacks), the verifier alone, and the share
   of items on which ours and the official verdict agree. MathVista: the official numeric rules
   applied to the official extraction, against the official verdicts (rule exactness).
   MMMU-Pro: the overall score's error paired over the 1,730 shared questions vs independent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
AIME_RATES = [1.0] * 10 + [0.9] * 5 + [0.7] * 5 + [0.3] * 5 + [0.0] * 5


# ---------------------------------------------------------------- simulations


def rerun_study(reruns: int, seed: int = 0) -> dict[str, Any]:
    from ovr_eval.metrics import summarize

    rng = random.Random(seed)
    truth = sum(AIME_RATES) / len(AIME_RATES)
    out = {"problems": len(AIME_RATES), "expected_score": truth, "reruns": reruns, "by_k": {}}
    for k in (1, 4, 16):
        runs = [summarize({str(i): [1.0 if rng.random() < p else 0.0 for _ in range(k)]
                           for i, p in enumerate(AIME_RATES)}) for _ in range(reruns)]
        scores = [r["score"] for r in runs]
        mean = sum(scores) / reruns
        sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / (reruns - 1))
        rerun = [r["stderr_rerun"] for r in runs if r["stderr_rerun"] is not None]
        out["by_k"][str(k)] = {
            "sd_over_reruns": sd,
            "mean_between_problem_stderr": sum(r["stderr"] for r in runs) / reruns,
            "mean_rerun_stderr": sum(rerun) / len(rerun) if rerun else None,
            "between_interval_covers_expected": sum(
                r["ci95"][0] <= truth <= r["ci95"][1] for r in runs) / reruns,
            "rerun_interval_covers_expected": sum(
                r["ci95_rerun"][0] <= truth <= r["ci95_rerun"][1] for r in runs) / reruns
            if rerun else None,
            "mean_between_interval": [sum(r["ci95"][i] for r in runs) / reruns for i in (0, 1)],
            "mean_rerun_interval": [sum(r["ci95_rerun"][i] for r in runs) / reruns
                                    for i in (0, 1)] if rerun else None,
        }
    return out


def dynamath_study(samples: int, seed: int = 1) -> dict[str, Any]:
    """Seeds whose solve rate is drawn from Beta(0.6, 0.4) (mean 0.6, intra-seed correlation
    0.5); every variant of a seed is a Bernoulli draw at the seed's rate."""
    from ovr_eval.metrics import task_scores
    from ovr_eval.records import Record
    from ovr_tasks.dynamath import average

    rng = random.Random(seed)
    averages, naive, clustered = [], [], []
    for _ in range(samples):
        records = []
        for s in range(501):
            rate = rng.betavariate(0.6, 0.4)
            records += [Record(id=f"{s}/v{v}", correct=[rng.random() < rate],
                               metadata={"seed": str(s)}) for v in range(10)]
        averages.append(average(records)["score"])
        clustered.append(average(records)["stderr"])
        naive.append(task_scores(records)["stderr"])
    mean = sum(averages) / samples
    sd = math.sqrt(sum((a - mean) ** 2 for a in averages) / (samples - 1))
    return {"seeds": 501, "variants": 10, "samples": samples, "sd_over_seed_samples": sd,
            "mean_stderr_per_variant": sum(naive) / samples,
            "mean_stderr_clustered_by_seed": sum(clustered) / samples}


# ---------------------------------------------------------------- published outputs


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def to_records(rows: list[dict[str, Any]], verdicts: list[Any], gold: list[str],
               metadata: list[dict[str, Any]]) -> list[Any]:
    from ovr_eval.records import Record

    return [Record.from_json({"id": str(row["id"]), "gold": g, "choices": row.get("choices"),
                              "answer_type": "multiple_choice" if row.get("choices")
                              else "free_form",
                              "metadata": meta, "responses": [row["response"] or ""],
                              "extracted": [v.extracted], "correct": [v.correct]})
            for row, v, g, meta in zip(rows, verdicts, gold, metadata, strict=True)]


def study_file(path: Path, workers: int) -> dict[str, Any]:
    from ovr_eval.metrics import record_units, summarize
    from ovr_eval.task_registry import resolve
    from ovr_eval.verify import grade_many
    from ovr_tasks._official import method_counts
    from ovr_tasks.mathverse import multiple_choice_gold

    benchmark = path.name.split("-", 1)[0]
    rows = read_jsonl(path)
    official = [bool(r["official_correct"]) for r in rows]
    if benchmark == "logicvista":
        kept = [i for i, r in enumerate(rows) if str(r["answer"]).strip()]
        gold = [multiple_choice_gold(str(rows[i]["answer"]), None) for i in kept]
        multiple = [True] * len(kept)
    else:
        kept = list(range(len(rows)))
        gold = [str(r["answer"]).strip() for r in rows]
        multiple = [bool(r.get("choices")) for r in rows]
    task_name = {"mmmu_pro": "mmmu_pro"}.get(benchmark, benchmark)
    (task,) = resolve(task_name)
    start = time.perf_counter()
    verdicts = grade_many([(rows[i]["response"] or "", g, rows[i].get("choices"), m)
                           for i, g, m in zip(kept, gold, multiple, strict=True)],
                          workers=workers)
    seconds = time.perf_counter() - start
    setting = "vision" if "vision" in path.name else "standard10"
    metadata = [{"answer_type": rows[i].get("answer_type"), "precision": rows[i].get("precision"),
                 "setting": setting, "skill": rows[i].get("skill") or []} for i in kept]
    records = to_records([rows[i] for i in kept], verdicts, gold, metadata)
    if benchmark == "mmmu_pro":  # one setting per file: ids as the task writes them
        records = [replace(r, id=f"{setting}/{r.id}") for r in records]
    ours = task.official(records)
    ours_by_id = {r.id.split("/")[-1]: r.correct[0] for r in ours}
    agree = [ours_by_id.get(str(row["id"]), False) == o for row, o in zip(rows, official,
                                                                          strict=True)]
    headline = summarize(task.units(records)) if benchmark == "logicvista" else summarize(
        record_units(ours))
    result = {
        "file": path.name, "items": len(rows), "graded_s": seconds,
        "official": sum(official) / len(official),
        "ours_official": headline["score"],
        "verifier": sum(r.correct[0] for r in records) / len(rows),
        "agreement": sum(agree) / len(agree),
        "official_methods": method_counts(ours) or {"verifier": len(ours)},
    }
    if benchmark == "mathvista":
        result["rules_on_official_extraction"] = mathvista_rule_check(rows)
    return result


def mathvista_rule_check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The official numeric rules (ovr_tasks.mathvista.official_rule) on the official
    extraction: do they give the official verdict on each free-form number item?"""
    from ovr_eval.records import Record
    from ovr_tasks.mathvista import official_rule

    checked = agree = unreadable = 0
    for row in rows:
        if row.get("choices") or row.get("answer_type") not in ("float", "integer"):
            continue
        record = Record(id=str(row["id"]), gold=str(row["answer"]), answer_type="free_form",
                        metadata={"answer_type": row["answer_type"],
                                  "precision": row["precision"]},
                        extracted=[str(row.get("official_extracted") or "")], correct=[False])
        decided = official_rule(record, 0)
        if decided is None:
            unreadable += 1
            agree += not row["official_correct"]  # no number: the official verdict is wrong
            checked += 1
            continue
        checked += 1
        agree += decided[0] == bool(row["official_correct"])
    return {"items": checked, "same_verdict": agree, "no_number_in_extraction": unreadable}


def mmmu_pro_pairing(folder: Path) -> dict[str, Any] | None:
    files = {s: folder / f"mmmu_pro-gpt4o-{s}-cot.jsonl" for s in ("standard10", "vision")}
    if not all(p.is_file() for p in files.values()):
        return None
    by_setting = {s: {r["id"]: float(r["official_correct"]) for r in read_jsonl(p)}
                  for s, p in files.items()}
    ids = sorted(set(by_setting["standard10"]) & set(by_setting["vision"]))
    n = len(ids)
    a = [by_setting["standard10"][i] for i in ids]
    b = [by_setting["vision"][i] for i in ids]

    def var(x: list[float]) -> float:
        m = sum(x) / len(x)
        return sum((v - m) ** 2 for v in x) / (len(x) - 1)

    cov = sum((x - sum(a) / n) * (y - sum(b) / n) for x, y in zip(a, b, strict=True)) / (n - 1)
    paired = math.sqrt(var([(x + y) / 2 for x, y in zip(a, b, strict=True)]) / n)
    independent = math.sqrt(var(a) / n + var(b) / n) / 2
    return {"questions": n, "standard10": sum(a) / n, "vision": sum(b) / n,
            "overall": (sum(a) + sum(b)) / (2 * n),
            "per_item_correlation": cov / math.sqrt(var(a) * var(b)),
            "stderr_paired": paired, "stderr_independent": independent}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reruns", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "official_metrics.json")
    args = parser.parse_args()
    console = Console()
    folder = args.data / "published-outputs"

    reruns = rerun_study(args.reruns)
    table = Table(title=f"error bars on {args.reruns} simulated reruns of 30 AIME-like "
                  f"problems (expected {100 * reruns['expected_score']:.1f}%)")
    for column in ("k", "SD over reruns", "between-problem SE", "rerun SE",
                   "between 95% covers", "rerun 95% covers"):
        table.add_column(column, justify="right")
    for k, r in reruns["by_k"].items():
        rerun_se = r["mean_rerun_stderr"]
        table.add_row(k, f"{100 * r['sd_over_reruns']:.2f}",
                      f"{100 * r['mean_between_problem_stderr']:.2f}",
                      "-" if rerun_se is None else f"{100 * rerun_se:.2f}",
                      f"{100 * r['between_interval_covers_expected']:.1f}%",
                      "-" if r["rerun_interval_covers_expected"] is None
                      else f"{100 * r['rerun_interval_covers_expected']:.1f}%")
    console.print(table)

    dynamath = dynamath_study(200)
    console.print(f"DynaMath average, 501 seeds x 10 correlated variants: SD over seed samples "
                  f"{100 * dynamath['sd_over_seed_samples']:.2f}, SE per variant "
                  f"{100 * dynamath['mean_stderr_per_variant']:.2f}, SE clustered by seed "
                  f"{100 * dynamath['mean_stderr_clustered_by_seed']:.2f} (points)")

    files = []
    if folder.is_dir():
        table = Table(title="published outputs: official score vs ours (points)")
        for column in ("file", "n", "official", "ours (official rules)", "verifier alone",
                       "same verdict", "decided by"):
            table.add_column(column, justify="left" if column in ("file", "decided by")
                             else "right")
        for path in sorted(folder.glob("*.jsonl")):
            r = study_file(path, args.workers)
            files.append(r)
            table.add_row(r["file"], str(r["items"]), f"{100 * r['official']:.2f}",
                          f"{100 * r['ours_official']:.2f}", f"{100 * r['verifier']:.2f}",
                          f"{100 * r['agreement']:.1f}%",
                          ", ".join(f"{k} {v}" for k, v in r["official_methods"].items()))
        console.print(table)
    pairing = mmmu_pro_pairing(folder) if folder.is_dir() else None
    if pairing:
        console.print(f"MMMU-Pro GPT-4o overall {100 * pairing['overall']:.2f}: per-item "
                      f"correlation {pairing['per_item_correlation']:.2f}, stderr paired "
                      f"{100 * pairing['stderr_paired']:.2f} vs independent "
                      f"{100 * pairing['stderr_independent']:.2f} points")
    result = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "reruns": reruns, "dynamath_clustering": dynamath, "published_outputs": files,
              "mmmu_pro_pairing": pairing}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
