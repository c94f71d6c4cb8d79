"""Recipes: YAML files resolved into typed dataclasses."""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ovr_eval.types import UserError

RECIPES = Path(__file__).parent / "recipes"
# how per-token losses become one number (verl's loss_agg_mode names; see algos.aggregate)
LOSS_AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                  "seq-mean-token-sum-norm")
FP16_REFUSED = ("model.dtype float16 needs a loss scaler to train (fp16 gradients underflow), "
                "which this trainer does not have: use bfloat16 (or float32)")


@dataclass
class ModelConfig:
    """The starting weights and how they are trained."""

    # HF checkpoint folder or hub id; ``tiny``: the tiny random Qwen2.5-VL, built into the run
    path: str = "tiny"
    # compute dtype of forward and backward passes (autocast): auto = bfloat16 on GPU, float32
    # on CPU. Parameters, gradients and optimiser state are always float32 master weights
    # (DeepSpeed/FSDP mixed precision): 1e-6 updates vanish in bf16 weights. float16 is refused
    # (no loss scaler). The rollout engine and the reference policy get the compute dtype.
    dtype: str = "auto"
    # recompute each decoder layer's activations in the backward pass (less memory, ~30% more
    # compute); the 7B recipes need it at 24k-64k tokens (ORZ and verl turn it on)
    gradient_checkpointing: bool = False
    freeze_vision: bool = False  # the vision tower (OVR's cold start trains the LLM only)
    freeze_projector: bool = False  # the vision-language projector (merger)


@dataclass
class SFTConfig:
    """Supervised cold start on chat data; loss on assistant tokens only."""

    enabled: bool = True
    # task:NAME (its worked solutions) | path.jsonl | path.parquet | hub dataset id
    data: str = "task:math500"
    data_revision: str | None = None  # hub commit of a hub dataset (None: the hub's head)
    data_split: str | None = None  # None: the task's default split / "train" on the hub
    data_dir: str | None = None  # for task:NAME — benchmark-style folder or "embedded"
    prompt: str | None = None  # for task:NAME — template (None: the task's own)
    limit: int | None = None  # the first N chats
    max_length: int = 2048  # tokens per chat (longer ones are cut; chats with images refused)
    batch_size: int = 4  # chats per micro-batch (ignored when batch_tokens is set)
    # padded tokens per micro-batch instead of a chat count: chats of similar length fill a
    # micro-batch up to this budget, the padded reading of "batch 640 sequences of 64k tokens"
    # (OVR's cold start: batch_tokens 65536 × grad_accum 640 per optimiser step)
    batch_tokens: int | None = None
    grad_accum: int = 1  # micro-batches per optimiser step (token-mean over all of them)
    grouping: str = "length"  # length: similar lengths batched together | none
    epochs: int = 1
    max_steps: int | None = None  # optimiser steps; None: epochs × data
    lr: float = 1e-5
    warmup_steps: int = 0  # linear warm-up, then cosine to min_lr_ratio × lr
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    max_grad_norm: float = 1.0
    save_every: int = 0  # 0: only at the end
    seed: int = 0


@dataclass
class RLConfig:
    """PPO with GAE and a critic (ORZ/OVR), or GRPO (group-relative, no critic)."""

    enabled: bool = True
    algorithm: str = "ppo"  # ppo | grpo
    # model: a full critic (its own copy of the policy trunk + value head; ORZ/OVR) |
    # head: a value head on the policy's detached features (no second model in memory)
    critic: str = "model"
    tasks: list[str] = field(default_factory=lambda: ["math500"])  # prompt sources (tasks)
    splits: dict[str, str] = field(default_factory=dict)  # {task: split}; default: its own
    data_dir: str | None = None  # benchmark-style data folder (default: hub / embedded)
    limit: int | None = None  # prompts per task
    prompt: str | None = None  # template; None: each task's own ("reasoning" for benchmarks)
    steps: int = 1  # iterations (OVR ~900-1,000)
    prompts_per_step: int = 8  # OVR 512
    rollouts_per_prompt: int = 4  # OVR 16
    temperature: float = 1.0  # sampling, and the divisor of the trainer's logits (OVR 1.0)
    top_p: float = 1.0  # OVR 1.0; top-k and penalties are always off
    max_new_tokens: int = 1024
    length_schedule: dict[int, int] = field(default_factory=dict)  # {from step: max_new_tokens}
    gamma: float = 1.0  # GAE discount (OVR 1)
    lam: float = 1.0  # GAE λ (OVR 1)
    clip_eps: float = 0.2  # PPO ratio clip
    value_clip: float = 0.2  # critic value clip (ORZ 0.2)
    # PPO: whiten GAE advantages over the batch; GRPO: divide by the group's std (False:
    # mean-centring only, Dr. GRPO)
    normalize_advantages: bool = True
    # how per-token policy losses become one number (verl's loss_agg_mode): token-mean (ORZ,
    # verl) | seq-mean-token-mean | seq-mean-token-sum | seq-mean-token-sum-norm (Dr. GRPO)
    loss_agg: str = "token-mean"
    # k3 KL to the initial policy as a loss term; 0 (ORZ/OVR): no reference model is loaded
    # and no KL is logged
    kl_coef: float = 0.0
    truncated_reward_zero: bool = True  # ORZ: a truncated response earns 0
    # boxed: only the answer in the last \boxed{} earns a reward (ORZ/OVR); lenient: the
    # evaluation's extraction (answer phrases, a bare last line, ...); random: a control that
    # earns 1 with probability random_reward_rate whatever the response (seeded by rl.seed)
    reward: str = "boxed"
    random_reward_rate: float = 0.5
    policy_lr: float = 1e-6  # OVR 1e-6, constant after warm-up
    critic_lr: float = 5e-6  # OVR 5e-6
    warmup_steps: int = 0  # linear warm-up of both learning rates, in iterations (OVR 50)
    max_grad_norm: float = 1.0  # gradient clipping of policy and critic (ORZ 1.0)
    # critic optimiser steps per iteration, on disjoint mini-batches of one shuffled pass over
    # the iteration's rollouts (ORZ's critic_update_steps; verl's critic mini-batch). OVR 4.
    # The policy always takes one step over the whole batch (strictly on-policy, ORZ/OVR).
    critic_updates: int = 4
    micro_batch_size: int = 8  # rollouts per forward/backward (gradient accumulation)
    # positions per chunk when scoring log-probs and entropy: the vocabulary projection of a
    # whole response is never held at once. Peak memory stays ~1.6 GiB at 256 for Qwen's 152k
    # vocabulary whatever the length (all logits: 5.8 GiB at 2k tokens, ~140 GiB at 48k by
    # extrapolation; benchmarks/logprob_memory.py)
    logprob_chunk: int = 256
    engine: str = "hf"  # hf (live model, CPU) | vllm (GPU, weights pushed after each update)
    save_every: int = 0  # full checkpoints (optimiser state included) every N iterations
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_reward_rate <= 1.0:
            raise UserError(f"rl.random_reward_rate: {self.random_reward_rate!r} is not a "
                            "probability (0 to 1)")


@dataclass
class EvalConfig:
    """``ovr eval`` on the final checkpoint (and every ``every`` RL steps if > 0)."""

    enabled: bool = True
    tasks: list[str] = field(default_factory=lambda: ["math500", "mathvision", "mathverse"])
    splits: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    limit: int | None = None
    engine: str = "hf"
    prompt: str | None = None  # None: each task's own
    max_tokens: int = 32768
    samples: int = 1
    temperature: float = 0.0
    every: int = 0  # also evaluate every N RL steps (into eval/step-N), 0: only at the end
    # SFT/RL items that are also evaluation items (same task and id, or the same question
    # text): refuse (stop before training, naming them) | drop (train without them, counted
    # in train/overlap.json) | allow (a training-set score, not a test score)
    train_overlap: str = "refuse"


@dataclass
class CheckpointConfig:
    """What the run keeps in ``checkpoints/``."""

    # keep the newest N checkpoints (0: all); the newest resumable one and the one RL
    # started from are always kept
    keep_last: int = 0
    # > 1: after training, the uniform average of the last N checkpoints' weights becomes the
    # final model (checkpoints/average-...), as OVR's released model averages intermediate
    # checkpoints (which ones OVR averaged is not stated)
    average_last: int = 0


@dataclass
class Recipe:
    """One training run: model, stages, evaluation, checkpoints."""

    name: str = "recipe"
    model: ModelConfig = field(default_factory=ModelConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples become lists


CHOICES = {"algorithm": ("ppo", "grpo"), "critic": ("model", "head"),
           "reward": ("boxed", "lenient", "random"),
           "engine": ("hf", "vllm"), "grouping": ("length", "none"),
           "dtype": ("auto", "float32", "bfloat16", "float16"),
           "loss_agg": LOSS_AGG_MODES, "train_overlap": ("refuse", "drop", "allow")}


def _number(value: Any, where: str) -> float | int:
    """A number; strings such as "2e-3" (YAML 1.1 reads them as text) are converted."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: expected a number, got {value!r}") from None


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping of keys, got {data!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {where}.{near[0]}?" if near else ""
            raise UserError(f"{where}: unknown key {key!r}{hint} "
                            f"(keys: {', '.join(known)})")
    values = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value or {}, f"{where}.{name}")
        elif isinstance(default, tuple):
            value = tuple(value)
        elif name in CHOICES and value not in CHOICES[name]:
            raise UserError(f"{where}.{name}: {value!r} is not one of "
                            f"{', '.join(CHOICES[name])}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            value = _number(value, f"{where}.{name}")
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise UserError(f"{where}.{name}: expected a mapping such as {{a: b}}, got {value!r}")
        elif isinstance(default, list) and not isinstance(value, list):
            if not isinstance(value, str):
                raise UserError(f"{where}.{name}: expected a list such as [a, b], got {value!r}")
            value = [value]  # one name: tasks: math500
        values[name] = value
    return cls(**values)


def packaged_recipes() -> list[str]:
    """Names of the recipes shipped in ``ovr_trainer/recipes``."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def find_recipe(value: str | Path) -> Path:
    """A recipe file: the path itself, or a packaged recipe named ``NAME``, ``NAME.yaml`` or
    ``.../recipes/NAME.yaml`` (so the README's ``trainer/recipes/ovr-7b-rl.yaml`` works from
    any folder once installed)."""
    path = Path(value)
    if path.is_file():
        return path
    bare = path.parent == Path(".") or path.parent.name == "recipes"
    packaged = RECIPES / f"{path.name.removesuffix('.yaml')}.yaml"
    if bare and packaged.is_file():
        return packaged
    raise UserError(f"recipe {value} does not exist (packaged recipes: "
                    f"{', '.join(packaged_recipes())}; or give the path of a YAML file)")


def check(recipe: Recipe) -> Recipe:
    """Refuse combinations no single key check catches."""
    if recipe.model.dtype == "float16":
        raise UserError(f"{recipe.name}.{FP16_REFUSED}")
    if recipe.rl.critic_updates < 1:
        raise UserError(f"{recipe.name}.rl.critic_updates must be at least 1")
    keep, average = recipe.checkpoints.keep_last, recipe.checkpoints.average_last
    if keep and average > keep:
        raise UserError(f"{recipe.name}.checkpoints.average_last ({average}) needs at least as "
                        f"many kept checkpoints: checkpoints.keep_last is {keep}")
    return recipe


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a recipe YAML (a bare name means a packaged recipe, see :func:`find_recipe`)."""
    path = find_recipe(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"recipe {path} is not valid YAML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return check(_build(Recipe, data, path.stem))


def save_recipe(recipe: Recipe, path: Path) -> None:
    """Write the resolved recipe (every default spelled out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
