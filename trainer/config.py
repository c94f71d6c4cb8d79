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


@dataclass
class ModelConfig:
    """Where the starting weights come from: a path/hub id, or ``tiny`` (built in the run)."""

    path: str = "tiny"
    dtype: str = "auto"  # auto: bf16 on GPU, fp32 on CPU
    freeze_vision: bool = False
    freeze_projector: bool = False


@dataclass
class SFTConfig:
    """Supervised cold start on chat data; loss on assistant tokens only."""

    enabled: bool = True
    data: str = "task:math500"  # task:NAME (worked solutions) | path.jsonl | .parquet | hub id
    data_split: str | None = None  # None: the task's default split / "train" on the hub
    data_dir: str | None = None  # for task:NAME — benchmark-style folder or "embedded"
    prompt: str | None = None  # for task:NAME — template (None: the task's own)
    limit: int | None = None
    max_length: int = 2048
    batch_size: int = 4  # sequences per micro-batch
    grad_accum: int = 1
    grouping: str = "length"  # length | none
    epochs: int = 1
    max_steps: int | None = None  # optimiser steps; None: epochs × data
    lr: float = 1e-5
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    max_grad_norm: float = 1.0
    save_every: int = 0  # 0: only at the end
    seed: int = 0


@dataclass
class RLConfig:
    """PPO with GAE and a value head (ORZ/OVR), or GRPO (group-relative, no critic)."""

    enabled: bool = True
    algorithm: str = "ppo"  # ppo | grpo
    critic: str = "model"  # model: a full critic (trunk copy + value head, ORZ) | head
    tasks: list[str] = field(default_factory=lambda: ["math500"])
    splits: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None  # benchmark-style data folder (default: hub / embedded)
    limit: int | None = None  # prompts per task
    prompt: str | None = None  # template; None: each task's own ("reasoning" for benchmarks)
    steps: int = 1
    prompts_per_step: int = 8
    rollouts_per_prompt: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    length_schedule: dict[int, int] = field(default_factory=dict)  # {from step: max_new_tokens}
    gamma: float = 1.0
    lam: float = 1.0
    clip_eps: float = 0.2
    value_clip: float = 0.2
    normalize_advantages: bool = True
    kl_coef: float = 0.0  # KL to the initial policy as a loss term (ORZ: 0, still logged)
    truncated_reward_zero: bool = True  # ORZ: a truncated response earns 0
    # boxed: only the answer in the last \boxed{} earns a reward (ORZ/OVR); lenient: the
    # evaluation's extraction (answer phrases, a bare last line, ...); random: a control that
    # earns 1 with probability random_reward_rate whatever the response (seeded by rl.seed)
    reward: str = "boxed"
    random_reward_rate: float = 0.5
    policy_lr: float = 1e-6
    critic_lr: float = 5e-6
    warmup_steps: int = 0
    critic_updates: int = 4  # OVR: 4 critic optimiser steps per PPO update
    micro_batch_size: int = 8
    max_grad_norm: float = 1.0
    engine: str = "hf"  # hf (live model, CPU) | vllm (GPU, weights pushed after each update)
    save_every: int = 0
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


@dataclass
class Recipe:
    """One training run: model, stages, evaluation."""

    name: str = "recipe"
    model: ModelConfig = field(default_factory=ModelConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples become lists


CHOICES = {"algorithm": ("ppo", "grpo"), "critic": ("model", "head"),
           "reward": ("boxed", "lenient", "random"),
           "engine": ("hf", "vllm"), "grouping": ("length", "none"),
           "dtype": ("auto", "float32", "bfloat16", "float16")}


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


def load_recipe(path: Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a recipe YAML (a bare name means trainer/recipes/<name>.yaml)."""
    path = Path(path)
    if not path.is_file() and (RECIPES / f"{path}.yaml").is_file():
        path = RECIPES / f"{path}.yaml"
    if not path.is_file():
        raise UserError(f"recipe {path} does not exist")
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
    return _build(Recipe, data, path.stem)


def save_recipe(recipe: Recipe, path: Path) -> None:
    """Write the resolved recipe (every default spelled out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
