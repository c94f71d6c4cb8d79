"""Do small learning rates move bf16 weights? In-place bf16 AdamW vs fp32 master weights with
bf16 compute (what ``ovr train`` does for ``model.dtype: bfloat16``), on this CPU.

Two measurements, each at lr 1e-6 (OVR's policy) and 5e-6 (its critic):
- ``linear``: 4 Linear(1024, 1024) layers, weights ~ N(0, 0.02) (the usual initializer range),
  10 AdamW steps (betas 0.9/0.95, no weight decay) on a regression loss; the share of weights
  that changed at all and the mean |Δw| against the sum of the steps an exact optimizer takes.
- ``rl-step``: one RL policy step of ovr train's RLTrainer on the tiny Qwen2.5-VL (init 0.02)
  with compute dtype bfloat16 over float32 masters, against the same gradients applied by AdamW
  to the model held in bfloat16; the share of weights with a full-size update that changed.

Usage: python benchmarks/master_weights.py   (prints a table, writes
benchmarks/results/master_weights.json)
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "master_weights.json"
LRS = (1e-6, 5e-6)


def linear_case(mode: str, lr: float, steps: int = 10, seed: int = 0) -> dict[str, float]:
    """``bf16``: weights held and updated in bf16; ``master``: fp32 weights, bf16 autocast;
    ``fp32``: everything fp32 (the reference)."""
    torch.manual_seed(seed)
    layers = torch.nn.Sequential(*[torch.nn.Linear(1024, 1024, bias=False) for _ in range(4)])
    for layer in layers:
        torch.nn.init.normal_(layer.weight, std=0.02)
    if mode == "bf16":
        layers = layers.to(torch.bfloat16)
    start = [p.detach().float().clone() for p in layers.parameters()]
    optimizer = torch.optim.AdamW(layers.parameters(), lr=lr, betas=(0.9, 0.95),
                                  weight_decay=0.0)
    data = torch.randn(64, 1024)
    target = torch.randn(64, 1024)
    for _ in range(steps):
        optimizer.zero_grad()
        x = data.to(next(layers.parameters()).dtype)
        if mode == "master":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = layers(x)
        else:
            out = layers(x)
        torch.nn.functional.mse_loss(out.float(), target).backward()
        optimizer.step()
    changed = total = 0
    moved = 0.0
    for before, param in zip(start, layers.parameters(), strict=True):
        delta = param.detach().float() - before
        changed += int((delta != 0).sum())
        total += delta.numel()
        moved += float(delta.abs().sum())
    return {"changed_fraction": changed / total,
            "mean_abs_update_over_steps_x_lr": moved / total / (steps * lr)}


def moved_fraction(before: dict[str, torch.Tensor], model: torch.nn.Module) -> float:
    """Share of the weights AdamW gives a full-size update (|gradient| > its eps) that moved."""
    changed = touched = 0
    for name, param in model.named_parameters():
        if param.grad is not None:
            live = param.grad.abs() > 1e-8
            touched += int(live.sum())
            changed += int(((param.detach() != before[name]) & live).sum())
    return changed / max(touched, 1)


def rl_step_case(tiny: Path, lr: float) -> dict[str, float]:
    """One RL policy step of ovr train (GRPO, bf16 compute over fp32 masters) on four text
    rollouts; then the same gradients applied by AdamW to the model held in bf16."""
    from dataclasses import replace

    from ovr_eval.types import Sample
    from ovr_trainer.collect import Rollout, encode_prompt
    from ovr_trainer.config import load_recipe
    from ovr_trainer.modeling import Policy, load_policy
    from ovr_trainer.rl import RLTrainer

    cfg = replace(load_recipe("ovr-7b-rl").rl, algorithm="grpo", rollouts_per_prompt=2,
                  micro_batch_size=2, warmup_steps=0, policy_lr=lr)
    model, processor = load_policy(tiny, "float32")
    trainer = RLTrainer(cfg, Policy(model, processor, torch.bfloat16), tiny)
    items = []
    for i, reward in enumerate([1.0, 0.0, 0.0, 1.0]):
        prompt = processor.apply_chat_template([{"role": "user", "content": f"Compute {i} + 3."}],
                                               tokenize=False, add_generation_prompt=True)
        ids = processor.tokenizer(f"The sum is {i + 3}.", add_special_tokens=False)["input_ids"]
        items.append(Rollout(Sample(str(i), "arithmetic", "", ""), encode_prompt(
            processor, prompt, []), "", ids, reward, bool(reward), False))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    began = time.monotonic()
    batches = trainer.micro_batches(items)
    trainer.policy_step(items, batches, trainer.experience(items, batches), 1, 16)
    seconds = time.monotonic() - began
    bf16, _ = load_policy(tiny, "bfloat16")
    old = {n: p.detach().clone() for n, p in bf16.named_parameters()}
    grads = dict(model.named_parameters())
    for name, param in bf16.named_parameters():
        grad = grads[name].grad
        param.grad = None if grad is None else grad.to(torch.bfloat16)
    torch.optim.AdamW(bf16.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0).step()
    return {"master_moved_fraction": moved_fraction(before, model),
            "bf16_in_place_moved_fraction": moved_fraction(old, bf16),
            "policy_step_s": round(seconds, 2)}


def main() -> None:
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    console = Console()
    linear = {f"{mode}@{lr:g}": linear_case(mode, lr)
              for lr in LRS for mode in ("bf16", "master", "fp32")}
    with tempfile.TemporaryDirectory() as work:
        tiny = build_tiny_qwen2_5_vl(Path(work) / "tiny", init_std=0.02)
        rl = {f"{lr:g}": rl_step_case(tiny, lr) for lr in LRS}
    table = Table(title="AdamW at small learning rates: bf16 in place vs fp32 master weights")
    for column in ("case", "lr", "weights changed", "mean |Δw| / (steps·lr)"):
        table.add_column(column)
    for key, row in linear.items():
        mode, lr = key.split("@")
        table.add_row(f"linear, {mode}", lr, f"{row['changed_fraction']:.4f}",
                      f"{row['mean_abs_update_over_steps_x_lr']:.3f}")
    for lr, row in rl.items():
        table.add_row("tiny VLM RL step, master + bf16 compute", lr,
                      f"{row['master_moved_fraction']:.4f}", "")
        table.add_row("tiny VLM RL step, bf16 in place", lr,
                      f"{row['bf16_in_place_moved_fraction']:.4f}", "")
    console.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, CPU",
        "torch": torch.__version__, "linear_10_steps": linear, "rl_policy_step": rl,
    }, indent=2) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
