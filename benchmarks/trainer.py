"""Does RL learn from the reward? Four RL arms from one biased SFT checkpoint on this CPU
machine (``rl_controls.py``: PPO and GRPO against a no-RL and a random-reward control), plus RL
throughput beside TRL's GRPOTrainer.

1. RL controls: only the reward can explain a rise. SFT teaches a prior that writes every sum
   ``a + b`` as ``\\boxed{a+b}`` 30% of the time and ``\\boxed{a+b+1}`` 70%; PPO, GRPO,
   no RL (learning rate 0) and PPO with a random reward then train from that checkpoint on 80 of
   the 100 pairs. Measured every few steps: the exact teacher-forced p(correct answer), greedy
   accuracy (RL pairs and the 20 held-out pairs) and the rollouts' reward. Passes when PPO and
   GRPO each end ≥ 0.4 above both controls in mean p(correct).
2. RL throughput from the SFT checkpoint on the text prompts, same settings on each side:
   ``ovr train`` GRPO, ``ovr train`` PPO (with its critic model) and TRL's GRPOTrainer
   (``benchmarks/trl_baseline.py``, needs the ``bench`` extra). Tokens/s counts prompt +
   response tokens per wall second of the RL steps (TRL's ``num_tokens`` convention).

Writes ``benchmarks/results/trainer.json`` and ``trainer-rl.png``; the arms' run folders
(``WORK/controls/<arm>``) stay for ``ovr report WORK/controls/{ppo,grpo,no-rl,random}``.

Usage: .venv/bin/python benchmarks/trainer.py [--quick] [--skip-throughput]
(about 12 minutes on 2 CPU cores; --quick: a few steps of each, a smoke test that writes
nothing to benchmarks/results). Needs the ``bench`` extra (TRL, matplotlib).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import rl_controls  # noqa: E402
import rl_throughput  # noqa: E402

# glibc hands every large tensor its own fresh mmap; in a profile on this VM the page faults of
# those allocations took most of a training step's time: keep freed memory in the heap instead
ALLOCATOR = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}


def show_controls(console: Console, result: dict[str, Any]) -> None:
    table = Table(title="RL controls: start (SFT) → end, mean over prompts")
    for column in ("arm", "p(correct) RL pairs", "p(correct) held-out", "greedy RL pairs",
                   "greedy held-out", "reward (first → last fifth)"):
        table.add_column(column)

    def span(pair: list[float]) -> str:
        return f"{pair[0]:.3f} → {pair[1]:.3f}"

    for arm, row in result["table"].items():
        table.add_row(arm, span(row["p_correct_rl"]), span(row["p_correct_heldout"]),
                      span(row["greedy_accuracy_rl"]), span(row["greedy_accuracy_heldout"]),
                      span(row["reward_first_last_fifth"]))
    console.print(table)
    margins = ", ".join(f"{arm} {m:+.3f}" for arm, m in
                        result["margin_over_controls_p_correct_rl"].items())
    console.print(f"end p(correct) above the better control: {margins} "
                  f"(needed ≥ {rl_controls.MARGIN}): {'PASS' if result['passed'] else 'FAIL'}")


def show_throughput(console: Console, speed: dict[str, Any]) -> None:
    table = Table(title="RL throughput, same model and text prompts (prompt + response tokens)")
    for column in ("trainer", "tokens/s", "completion tok/s", "s/step", "steps"):
        table.add_column(column)
    for name, row in speed.items():
        table.add_row(name, str(row["tokens_per_s"]), str(row["completion_tokens_per_s"]),
                      str(row["s_per_step"]), str(row["steps"]))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of each (smoke test)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ovr-bench-trainer"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/trainer.json")
    args = parser.parse_args()
    if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})
    console = Console(stderr=True)
    cfg = rl_controls.settings("quick" if args.quick else "cpu")
    began = time.monotonic()
    controls = rl_controls.run_benchmark(args.work / "controls", cfg, console)
    result: dict[str, Any] = {
        "benchmark": "trainer", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        "no GPU", "model": (f"tiny random Qwen2.5-VL (ovr_eval.tiny: hidden {cfg['hidden_size']}, "
                            f"{cfg['layers']} layers, the first {cfg['vocab']} Qwen BPE tokens)"),
        "rl_controls": controls,
    }
    show_controls(console, controls)
    if not args.skip_throughput:
        start = Path(controls["sft"]["checkpoint"])
        result["throughput"] = rl_throughput.compare(start, args.work, 2 if args.quick else 4,
                                                     console)
        result["throughput"]["settings"]["model"] = "the RL-controls SFT checkpoint"
        show_throughput(console, result["throughput"]["trainers"])
    result["wall_s"] = round(time.monotonic() - began, 1)
    console.print(f"wall time {result['wall_s']:.0f} s; arm run folders for `ovr report`: "
                  + " ".join(str(args.work / "controls" / arm) for arm in rl_controls.ARMS))
    if not args.quick:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        png = args.out.with_name("trainer-rl.png")
        rl_controls.plot(controls, png, f"RL controls on {result['machine']}: "
                         f"{result['model']}")
        console.print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
