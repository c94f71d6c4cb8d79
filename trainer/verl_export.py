"""``ovr train export-verl``: a recipe's RL stage as a verl 0.9.1 PPO job, for many GPUs.

The export folder holds ``train.parquet`` / ``val.parquet`` in verl's RL format (one row per
prompt, the same user text ``ovr train`` and ``ovr eval`` send, ``<image>`` where an image
goes), ``ovr_reward.py`` (verl's ``compute_score`` over ``ovr_eval.verify``),
``run_verl_ppo.sh`` (``python3 -m verl.trainer.main_ppo`` with the recipe's settings as Hydra
overrides) and a README with the pins.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ovr_eval.engines.images import png_bytes
from ovr_eval.prompting import build_request
from ovr_eval.task_registry import resolve
from ovr_eval.types import Sample, UserError
from ovr_trainer.collect import prompt_pool, task_templates
from ovr_trainer.config import Recipe, RLConfig
from ovr_trainer.evaluation import hub_note, resolve_data_dir
from ovr_trainer.overlap import EvalIndex, apply_policy, sample_key

VERL_VERSION = "0.9.1"
REWARD_SOURCE = Path(__file__).with_name("verl_reward.py")
PLACEHOLDERS = ("<image>", "<video>", "<audio>")  # verl splits prompt strings on these
ROW_GROUP = 256


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([
            ("index", pa.int64()), ("split", pa.string()), ("id", pa.string()),
            ("task", pa.string()), ("task_split", pa.string()), ("answer_type", pa.string()),
            ("choices", pa.list_(pa.string())), ("metadata", pa.string()),
        ])),
    ])


def task_splits(task_names: list[str], splits: dict[str, str]) -> dict[str, str]:
    return {t.name: splits.get(t.name, t.default_split) for t in resolve(task_names, [])}


def flatten_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat messages with text/image parts → verl's string contents with ``<image>`` marks."""
    flat = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = "".join("<image>" if part["type"] == "image" else part["text"]
                              for part in content)
        flat.append({"role": message["role"], "content": content})
    return flat


def to_row(sample: Sample, template: Any, index: int, split: str, task_split: str
           ) -> dict[str, Any]:
    """One verl row; ``ValueError`` when the question itself holds a ``<image>`` marker."""
    prompt = flatten_messages(build_request(template, sample, 0).messages)
    marks = sum(m["content"].count(p) for m in prompt for p in PLACEHOLDERS)
    if marks != len(sample.images):
        raise ValueError("question text contains a literal <image>/<video>/<audio> marker")
    return {
        "data_source": f"ovr/{sample.task}",
        "prompt": prompt,
        "images": [{"bytes": png_bytes(i), "path": None} for i in sample.images] or None,
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(sample.answer)},
        "extra_info": {
            "index": index, "split": split, "id": sample.id, "task": sample.task,
            "task_split": task_split, "answer_type": sample.answer_type,
            "choices": [str(c) for c in sample.choices] if sample.choices is not None else None,
            "metadata": json.dumps(sample.metadata, default=str, ensure_ascii=False),
        },
    }


def rows(samples: list[Sample], task_names: list[str], prompt: str | None,
         splits: dict[str, str], split: str, skipped: list[str]) -> Iterator[dict[str, Any]]:
    """verl rows for ``samples``; samples that cannot be expressed are named in ``skipped``."""
    chosen, used = task_templates(task_names, prompt), task_splits(task_names, splits)
    index = 0
    for sample in samples:
        try:
            row = to_row(sample, chosen[sample.task], index, split, used[sample.task])
        except (ValueError, OSError, TypeError) as exc:
            skipped.append(f"{split}/{sample.id}: {exc}")
            continue
        index += 1
        yield row


def write_parquet(table_rows: Iterable[dict[str, Any]], path: Path) -> dict[str, int]:
    """Write rows in row groups (images are not all held in memory); counts of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, counts, batch = _schema(), {"rows": 0, "image_rows": 0}, []
    tmp = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(tmp, schema) as writer:
        for row in table_rows:
            batch.append(row)
            counts["rows"] += 1
            counts["image_rows"] += bool(row["images"])
            if len(batch) == ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    tmp.replace(path)
    return counts


def model_path(recipe: Recipe, out: Path) -> tuple[str, bool]:
    """The starting checkpoint for verl and whether it lives inside the export folder."""
    if recipe.model.path == "tiny":  # as ``ovr train``: built into the output folder
        from ovr_eval.tiny import build_tiny_qwen2_5_vl

        build_tiny_qwen2_5_vl(out / "base-model")
        return "base-model", True
    local = Path(recipe.model.path).expanduser()
    return (str(local.resolve()) if local.exists() else recipe.model.path), False


def hydra_str(value: str) -> str:
    """A Hydra quoted string (paths with spaces or ``=`` survive the override parser)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dq(value: str) -> str:
    """Literal text inside a double-quoted shell word."""
    return "".join("\\" + c if c in '\\"$`' else c for c in value)


def overrides(recipe: Recipe, has_val: bool) -> list[tuple[str, str]]:
    """(key, value) Hydra overrides for verl 0.9.1; values may reference the script's vars."""
    rl, ev = recipe.rl, recipe.eval
    ppo = rl.algorithm == "ppo"
    batch = rl.prompts_per_step
    items: list[tuple[str, str]] = [
        ("algorithm.adv_estimator", "gae" if ppo else "grpo"),
        ("algorithm.gamma", repr(rl.gamma)), ("algorithm.lam", repr(rl.lam)),
        ("algorithm.use_kl_in_reward", "False"),
        ("data.train_files", "['$HERE/train.parquet']"),
        ("data.val_files", "['$HERE/val.parquet']" if has_val else "['$HERE/train.parquet']"),
        ("data.prompt_key", "prompt"), ("data.image_key", "images"),
        ("data.reward_fn_key", "data_source"),
        ("data.train_batch_size", str(batch)),
        ("data.max_prompt_length", "$MAX_PROMPT_LENGTH"),
        ("data.max_response_length", "$MAX_RESPONSE_LENGTH"),
        ("data.filter_overlong_prompts", "True"), ("data.truncation", "error"),
        ("data.shuffle", "True"), ("data.seed", str(rl.seed)),
        ("actor_rollout_ref.model.path", "'$MODEL'"),
        ("actor_rollout_ref.model.enable_gradient_checkpointing", "True"),
        ("actor_rollout_ref.model.use_remove_padding", "True"),
        ("actor_rollout_ref.actor.freeze_vision_tower", str(recipe.model.freeze_vision)),
        ("actor_rollout_ref.actor.ppo_mini_batch_size", str(batch)),  # one policy step / batch
        ("actor_rollout_ref.actor.ppo_epochs", "1"),
        ("actor_rollout_ref.actor.use_dynamic_bsz", "True"),
        ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu", "$ACTOR_TOKENS_PER_GPU"),
        ("actor_rollout_ref.actor.clip_ratio", repr(rl.clip_eps)),
        ("actor_rollout_ref.actor.clip_ratio_low", repr(rl.clip_eps)),
        ("actor_rollout_ref.actor.clip_ratio_high", repr(rl.clip_eps)),
        ("actor_rollout_ref.actor.loss_agg_mode", rl.loss_agg),
        ("actor_rollout_ref.actor.entropy_coeff", "0"),
        *_kl(rl.kl_coef),
        *_optim("actor_rollout_ref.actor.optim", rl.policy_lr, rl.warmup_steps, rl.max_grad_norm),
        ("actor_rollout_ref.rollout.name", "vllm"),
        ("actor_rollout_ref.rollout.n", str(rl.rollouts_per_prompt)),
        ("actor_rollout_ref.rollout.temperature", repr(rl.temperature)),
        ("actor_rollout_ref.rollout.top_p", repr(rl.top_p)),
        ("actor_rollout_ref.rollout.tensor_model_parallel_size", "$ROLLOUT_TP"),
        ("actor_rollout_ref.rollout.gpu_memory_utilization", "$ROLLOUT_GPU_MEMORY"),
        # no multimodal processor cache: host memory stays flat over many images
        ("+actor_rollout_ref.rollout.engine_kwargs.vllm.mm_processor_cache_gb", "0"),
        ("actor_rollout_ref.rollout.val_kwargs.n", str(ev.sampling.n)),
        ("actor_rollout_ref.rollout.val_kwargs.temperature", repr(ev.sampling.temperature)),
        ("actor_rollout_ref.rollout.val_kwargs.do_sample", str(ev.sampling.temperature > 0)),
    ]
    items += _critic_items(rl, batch) if ppo else [
        ("algorithm.norm_adv_by_std_in_grpo", str(rl.normalize_advantages))]
    return items + _trainer_items(recipe, has_val)


def _critic_items(rl: RLConfig, batch: int) -> list[tuple[str, str]]:
    """PPO's critic: ORZ/OVR take critic_updates critic steps within one pass over the batch
    (ovr train: the same), then one policy step."""
    return [
        ("critic.model.path", "'$MODEL'"),
        ("critic.model.enable_gradient_checkpointing", "True"),
        ("critic.model.use_remove_padding", "True"),
        ("critic.ppo_mini_batch_size", str(max(1, batch // max(1, rl.critic_updates)))),
        ("critic.ppo_epochs", "1"),
        ("critic.ppo_max_token_len_per_gpu", "$CRITIC_TOKENS_PER_GPU"),
        ("critic.cliprange_value", repr(rl.value_clip)),
        *_optim("critic.optim", rl.critic_lr, rl.warmup_steps, rl.max_grad_norm),
        ("trainer.critic_warmup", "0"),
    ]


def _trainer_items(recipe: Recipe, has_val: bool) -> list[tuple[str, str]]:
    """The reward function, logging, schedule of saves and validations, resume."""
    rl, ev = recipe.rl, recipe.eval
    test_freq = ev.every if ev.every > 0 else rl.steps  # 0: validate at the end only
    return [
        ("reward.custom_reward_function.path", "'$HERE/ovr_reward.py'"),
        ("reward.custom_reward_function.name", "compute_score"),
        ("trainer.project_name", "ovr"),
        ("trainer.experiment_name", hydra_str(recipe.name)),
        ("trainer.logger", "[console,tensorboard]"),
        ("trainer.nnodes", "$NNODES"), ("trainer.n_gpus_per_node", "$N_GPUS"),
        ("trainer.total_training_steps", str(rl.steps)),
        ("trainer.save_freq", str(rl.save_every if rl.save_every > 0 else rl.steps)),
        ("trainer.test_freq", str(test_freq) if has_val and ev.enabled else "-1"),
        ("trainer.val_before_train", str(has_val and ev.enabled)),
        ("trainer.resume_mode", "auto"),
        ("trainer.default_local_dir", "'$CKPT_DIR'"),
    ]


def _kl(coef: float) -> list[tuple[str, str]]:
    if coef <= 0:  # ORZ/OVR: no KL term (no reference model is loaded)
        return [("actor_rollout_ref.actor.use_kl_loss", "False")]
    return [("actor_rollout_ref.actor.use_kl_loss", "True"),
            ("actor_rollout_ref.actor.kl_loss_coef", repr(coef)),
            ("actor_rollout_ref.actor.kl_loss_type", "low_var_kl")]  # k3, as ovr train


def _optim(prefix: str, lr: float, warmup: int, clip: float) -> list[tuple[str, str]]:
    # ovr train: AdamW(0.9, 0.95), no weight decay, linear warm-up then constant
    return [(f"{prefix}.lr", repr(lr)), (f"{prefix}.lr_warmup_steps", str(warmup)),
            (f"{prefix}.betas", "[0.9,0.95]"), (f"{prefix}.weight_decay", "0.0"),
            (f"{prefix}.clip_grad", repr(clip))]


def write_reward(path: Path, boxed_only: bool) -> None:
    """The reward shim, reading answers as the recipe's ``rl.reward`` says."""
    source = REWARD_SOURCE.read_text(encoding="utf-8")
    marker = "\nBOXED_ONLY = True\n"
    if marker not in source:
        raise RuntimeError(f"{REWARD_SOURCE} lost its BOXED_ONLY setting")
    path.write_text(source.replace(marker, f"\nBOXED_ONLY = {boxed_only}\n"), encoding="utf-8")


def caveats(recipe: Recipe) -> list[str]:
    """Recipe settings verl 0.9.1 cannot express (written into the script and printed)."""
    rl, notes = recipe.rl, []
    if recipe.sft.enabled:
        notes.append("the recipe's SFT stage is not exported: the run starts from model.path "
                     "(run the SFT stage first and pass --set model.path=CHECKPOINT)")
    if rl.reward == "random":
        notes.append("rl.reward=random (a control) is not exported: ovr_reward.py rewards the "
                     "boxed answer")
    if rl.truncated_reward_zero:
        notes.append("truncated responses are not forced to reward 0 (verl's naive reward "
                     "manager passes no finish reason to compute_score)")
    if rl.length_schedule:
        stages = ", ".join(f"{n} from step {s}" for s, n in sorted(rl.length_schedule.items()))
        notes.append(f"rl.length_schedule ({stages}) is not applied: run each stage with "
                     "its MAX_RESPONSE_LENGTH and trainer.total_training_steps=<its last "
                     "step>; each re-run resumes from CKPT_DIR")
    if rl.algorithm == "ppo" and not rl.normalize_advantages:
        notes.append("verl always whitens GAE advantages (rl.normalize_advantages=false)")
    if rl.algorithm == "ppo" and rl.critic != "model":
        notes.append(f"rl.critic={rl.critic}: verl trains a separate full critic model")
    if recipe.model.freeze_projector:
        notes.append("model.freeze_projector has no verl key (only the vision tower freezes)")
    if rl.algorithm == "ppo" and rl.prompts_per_step % max(1, rl.critic_updates):
        notes.append("rl.prompts_per_step is not a multiple of rl.critic_updates: the critic "
                     "mini-batch is rounded down")
    if recipe.checkpoints.average_last > 1:
        notes.append(f"checkpoints.average_last={recipe.checkpoints.average_last} is not "
                     "applied: merge verl's checkpoints to HF format (verl.model_merger), then "
                     "`ovr train average CKPT... --out DIR`")
    return notes


def script(recipe: Recipe, model: str, in_folder: bool, has_val: bool) -> str:
    """``run_verl_ppo.sh``: the verl command with every override, paths relative to itself."""
    model_value = "$HERE/" + dq(model) if in_folder else dq(model)
    lines = [
        "#!/usr/bin/env bash",
        f"# verl {VERL_VERSION} {'PPO + GAE' if recipe.rl.algorithm == 'ppo' else 'GRPO'} run "
        f"of the ovr-eval recipe {recipe.name!r}, written by `ovr train export-verl`.",
        f"# Needs Python < 3.13, verl[vllm,fsdp]=={VERL_VERSION} and ovr-eval: see README.md.",
        "# Launch settings come from the environment (defaults below); extra Hydra overrides",
        "# given as arguments win, e.g.  bash run_verl_ppo.sh trainer.total_training_steps=10",
        *(f"# not carried over: {note}" for note in caveats(recipe)),
        "set -euo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'PYTHON="${PYTHON:-python3}"',
        f'MODEL="${{MODEL:-{model_value}}}"',
        'NNODES="${NNODES:-1}"',
        'N_GPUS="${N_GPUS:-8}"                     # GPUs per node',
        'ROLLOUT_TP="${ROLLOUT_TP:-2}"             # vLLM tensor parallel size',
        'ROLLOUT_GPU_MEMORY="${ROLLOUT_GPU_MEMORY:-0.6}"',
        'MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-4096}"   # tokens, image tokens included',
        f'MAX_RESPONSE_LENGTH="${{MAX_RESPONSE_LENGTH:-{recipe.rl.max_new_tokens}}}"',
        'ACTOR_TOKENS_PER_GPU="${ACTOR_TOKENS_PER_GPU:-$((MAX_PROMPT_LENGTH + '
        'MAX_RESPONSE_LENGTH))}"',
        'CRITIC_TOKENS_PER_GPU="${CRITIC_TOKENS_PER_GPU:-$((2 * ACTOR_TOKENS_PER_GPU))}"',
        'CKPT_DIR="${CKPT_DIR:-$HERE/checkpoints}"',
        "",
        'exec "$PYTHON" -m verl.trainer.main_ppo \\',
    ]
    for key, value in overrides(recipe, has_val):
        lines.append(f'    "{key}={value}" \\')
    lines.append('    "$@"')
    return "\n".join(lines) + "\n"


def readme(recipe: Recipe, counts: dict[str, dict[str, int]], skipped: list[str]) -> str:
    """The export folder's README: what is here, the pins, how to run it."""
    train, val = counts["train"], counts.get("val")
    lines = [
        f"# verl export of the ovr-eval recipe `{recipe.name}`",
        "",
        f"- `train.parquet`: {train['rows']} RL prompts ({train['image_rows']} with images) "
        f"from {', '.join(recipe.rl.tasks)}",
    ]
    if val is not None:
        lines.append(f"- `val.parquet`: {val['rows']} evaluation prompts "
                     f"({val['image_rows']} with images) from {', '.join(recipe.eval.tasks)}")
    lines += [
        "- `ovr_reward.py`: verl's `compute_score`, a shim over `ovr_eval.verify` (the verifier "
        "that scores `ovr eval`)",
        "- `run_verl_ppo.sh`: `python3 -m verl.trainer.main_ppo` with the recipe as Hydra "
        "overrides",
        "",
        "## Install (on every node)",
        "",
        "```bash",
        "python3 -m venv verl-env && . verl-env/bin/activate   # Python >= 3.10, < 3.13",
        f'pip install "verl[vllm,fsdp]=={VERL_VERSION}" "ovr-eval @ git+<ovr-eval repository>"',
        "# or, from a checkout: pip install -e <ovr-eval checkout>",
        "```",
        "",
        f"verl {VERL_VERSION} pins transformers >=5.5.3,<5.11 (its extras: torch 2.11.0, "
        "vllm 0.24.0, transformers 5.9.0, flash-attn 2.8.3, trl 0.27.0); ovr-eval's own "
        "requirements fit beside them. The reward needs only `ovr_eval.verify` (sympy, "
        "math-verify); verl's extras bring the vision path's qwen-vl-utils and torchvision.",
        "",
        "## Run",
        "",
        "Smoke-test first: verl's critic path for vision-language models is its least tested "
        "part, so run 10 steps and check the reward, the critic's value loss and the GPU memory "
        "before a long run:",
        "",
        "```bash",
        "N_GPUS=8 bash run_verl_ppo.sh trainer.total_training_steps=10 "
        "trainer.val_before_train=False",
        "bash run_verl_ppo.sh                    # the full run (resumes from CKPT_DIR)",
        "```",
        "",
        "Several nodes: `ray start --head` on one, `ray start --address=HEAD:6379` on the others, "
        "then `NNODES=N bash run_verl_ppo.sh` on the head node. Environment settings: `MODEL`, "
        "`NNODES`, `N_GPUS`, `ROLLOUT_TP`, `ROLLOUT_GPU_MEMORY`, `MAX_PROMPT_LENGTH` (longer "
        "prompts are dropped, never truncated), `MAX_RESPONSE_LENGTH`, `ACTOR_TOKENS_PER_GPU`, "
        "`CRITIC_TOKENS_PER_GPU`, `CKPT_DIR`.",
    ]
    notes = caveats(recipe)
    if notes:
        lines += ["", "## Not carried over from the recipe", "", *(f"- {n}" for n in notes)]
    if skipped:
        lines += ["", f"## Skipped prompts ({len(skipped)})", "",
                  *(f"- {s}" for s in skipped[:50])]
    return "\n".join(lines) + "\n"


def export_verl(recipe: Recipe, out: Path, data_dir: Path | None = None,
                say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the verl export of ``recipe`` into ``out``; returns counts and file paths.

    RL prompts come from ``rl.tasks`` (``data_dir`` wins over ``rl.data_dir``, as in
    ``ovr train``), validation prompts from ``eval.tasks`` / ``eval.data_dir``. RL prompts that
    are validation items follow ``eval.train_overlap``, as in ``ovr train``. ``say`` hears
    what is read from the network before it is.
    """
    say = say or (lambda line: None)
    if not recipe.rl.enabled:
        raise UserError(f"recipe {recipe.name!r} has no RL stage (rl.enabled is false)")
    if recipe.rl.algorithm not in ("ppo", "grpo"):
        raise UserError(f"rl.algorithm {recipe.rl.algorithm!r}: expected ppo or grpo")
    skipped: list[str] = []
    rl, ev = recipe.rl, recipe.eval
    val: list[Sample] = []
    if ev.enabled and ev.tasks:
        val_dir = resolve_data_dir(ev.data_dir)
        if note := hub_note(ev.tasks, val_dir, "the validation prompts (eval.tasks)"):
            say(note)
        val_cfg = dataclasses.replace(rl, tasks=ev.tasks, splits=ev.splits, limit=ev.limit)
        val = prompt_pool(val_cfg, val_dir, section="eval")
    rl_dir = data_dir or resolve_data_dir(rl.data_dir)
    if note := hub_note(rl.tasks, rl_dir, "the RL prompts (rl.tasks)"):
        say(note)
    pool = prompt_pool(rl, rl_dir)
    if not pool:
        raise UserError(f"no usable RL prompts in rl.tasks {rl.tasks}")
    out.mkdir(parents=True, exist_ok=True)
    if ev.train_overlap != "allow":
        pool = apply_policy(pool, sample_key, EvalIndex(val), "RL prompts (rl.tasks)",
                            ev.train_overlap, out / "overlap.json")
    counts = {"train": write_parquet(
        rows(pool, rl.tasks, rl.prompt, rl.splits, "train", skipped), out / "train.parquet")}
    if val:
        counts["val"] = write_parquet(rows(val, ev.tasks, ev.prompt, ev.splits, "val", skipped),
                                      out / "val.parquet")
    if counts["train"]["rows"] == 0:
        raise UserError("every RL prompt was skipped: " + "; ".join(skipped[:3]))
    has_val = counts.get("val", {}).get("rows", 0) > 0
    model, in_folder = model_path(recipe, out)
    write_reward(out / "ovr_reward.py", boxed_only=recipe.rl.reward != "lenient")
    run = out / "run_verl_ppo.sh"
    run.write_text(script(recipe, model, in_folder, has_val))
    run.chmod(0o755)
    (out / "README.md").write_text(readme(recipe, counts, skipped))
    return {"out": str(out), "counts": counts, "skipped": len(skipped), "model": model,
            "notes": caveats(recipe), "run": f"bash {shlex.quote(str(run))}"}
