"""Recipes: YAML files resolved into typed dataclasses."""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ovr_eval.evaluate import EvalOptions, check_distinct_samples
from ovr_eval.types import UserError
from ovr_trainer.algos import LOSS_AGG_MODES

RECIPES = Path(__file__).parent / "recipes"
FP16_REFUSED = ("model.dtype float16 needs a loss scaler to train (fp16 gradients underflow), "
                "which this trainer does not have: use bfloat16 (or float32)")


@dataclass
class ModelConfig:
    """The starting weights and how they are trained (``model:``).

    Attributes:
        path (`str`, defaults to `"tiny"`): HF checkpoint folder or hub id to start from;
            `tiny` builds the tiny random Qwen2.5-VL into the run folder (CPU demo and tests).
            OVR: Qwen2.5-VL-7B-Instruct.
        dtype (`str`, defaults to `"auto"`): compute dtype of forward and backward passes
            (autocast): `auto` is bfloat16 on GPU and float32 on CPU; `float32`, `bfloat16`.
            Parameters, gradients and optimiser state are always float32 master weights
            (DeepSpeed/FSDP mixed precision), since 1e-6 updates vanish in bf16 weights.
            `float16` is refused (no loss scaler). The rollout engine and the reference policy
            run in the compute dtype.
        gradient_checkpointing (`bool`, defaults to `False`): recompute each decoder layer's
            activations in the backward pass (less memory, ~30% more compute); the 7B recipes
            need it at 24k-64k tokens (ORZ and verl turn it on).
        freeze_vision (`bool`, defaults to `False`): keep the vision tower fixed (OVR's cold
            start trains the language model only).
        freeze_projector (`bool`, defaults to `False`): keep the vision-language projector
            (merger) fixed.
    """

    path: str = "tiny"
    dtype: str = "auto"
    gradient_checkpointing: bool = False
    freeze_vision: bool = False
    freeze_projector: bool = False


@dataclass
class SFTConfig:
    """Supervised cold start on chat data, loss on assistant tokens only (``sft:``).

    Attributes:
        enabled (`bool`, defaults to `True`): run the stage.
        data (`str`, defaults to `"task:math500"`): `task:NAME` (a task's prompts with its
            worked solutions), a `.jsonl` / `.parquet` file of `messages` (+ `images`), or a
            hub dataset id. OVR: ≈2M text-only chats distilled from DeepSeek-R1 (unreleased).
        data_revision (`str` or `None`, defaults to `None`): hub commit of a hub dataset
            (`None`: the hub's head).
        data_split (`str` or `None`, defaults to `None`): the split to read (`None`: the
            task's default split, or `train` on the hub).
        data_dir (`str` or `None`, defaults to `None`): for `task:NAME`, a benchmark-style data
            folder or `embedded` (the slices shipped with ovr_eval); `None`: the hub.
        prompt (`str` or `None`, defaults to `None`): for `task:NAME`, the prompt template
            (`None`: the task's own).
        limit (`int` or `None`, defaults to `None`): the first N chats only.
        max_length (`int`, defaults to `2048`): tokens per chat; longer chats are cut (chats
            with images are refused instead).
        batch_size (`int`, defaults to `4`): chats per micro-batch (ignored with
            `batch_tokens`).
        batch_tokens (`int` or `None`, defaults to `None`): padded tokens per micro-batch
            instead of a chat count: chats of similar length fill a micro-batch up to this
            budget, the padded reading of "batch 640 sequences of 64k tokens" (OVR's cold
            start: 65536 × `grad_accum` 640 per optimiser step).
        grad_accum (`int`, defaults to `1`): micro-batches per optimiser step (the loss is a
            token-mean over all of them).
        grouping (`str`, defaults to `"length"`): `length` batches chats of similar length
            together; `none` keeps the data order.
        epochs (`int`, defaults to `1`): passes over the data (OVR: 5).
        max_steps (`int` or `None`, defaults to `None`): optimiser steps; `None`: epochs ×
            data.
        lr (`float`, defaults to `1e-5`): peak learning rate (AdamW; OVR: 2e-4).
        warmup_steps (`int`, defaults to `0`): linear warm-up steps, then a cosine decay to
            `min_lr_ratio` × `lr`.
        min_lr_ratio (`float`, defaults to `0.0`): the cosine's floor, as a share of `lr`.
        weight_decay (`float`, defaults to `0.0`): AdamW weight decay.
        betas (`tuple[float, float]`, defaults to `(0.9, 0.95)`): AdamW betas.
        max_grad_norm (`float`, defaults to `1.0`): gradient clipping.
        save_every (`int`, defaults to `0`): a checkpoint every N optimiser steps; `0`: only
            at the end.
        seed (`int`, defaults to `0`): data order and initialisation seed.
    """

    enabled: bool = True
    data: str = "task:math500"
    data_revision: str | None = None
    data_split: str | None = None
    data_dir: str | None = None
    prompt: str | None = None
    limit: int | None = None
    max_length: int = 2048
    batch_size: int = 4
    batch_tokens: int | None = None
    grad_accum: int = 1
    grouping: str = "length"
    epochs: int = 1
    max_steps: int | None = None
    lr: float = 1e-5
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    max_grad_norm: float = 1.0
    save_every: int = 0
    seed: int = 0


@dataclass
class RLConfig:
    """PPO with GAE and a critic (ORZ/OVR), or GRPO (group-relative, no critic) (``rl:``).

    Attributes:
        enabled (`bool`, defaults to `True`): run the stage.
        algorithm (`str`, defaults to `"ppo"`): `ppo` (GAE advantages and a critic; OVR) or
            `grpo` (group-relative advantages, no critic).
        critic (`str`, defaults to `"model"`): `model`, a full critic: its own copy of the
            policy trunk with a value head (ORZ/OVR); `head`, a value head on the policy's
            detached features (no second model in memory).
        tasks (`list[str]`, defaults to `["math500"]`): the tasks whose prompts are the RL
            data (text and image tasks mix).
        splits (`dict[str, str]`, defaults to `{}`): task → split (default: the task's own);
            a task not in `tasks` is refused.
        data_dir (`str` or `None`, defaults to `None`): a benchmark-style data folder or
            `embedded`; `None`: the hub.
        limit (`int` or `None`, defaults to `None`): prompts per task.
        prompt (`str` or `None`, defaults to `None`): the prompt template (`None`: each
            task's own, the ORZ reasoning prompt for the benchmarks).
        steps (`int`, defaults to `1`): iterations (OVR: ~900-1,000).
        prompts_per_step (`int`, defaults to `8`): prompts per iteration (OVR: 512).
        rollouts_per_prompt (`int`, defaults to `4`): responses sampled per prompt (OVR: 16).
        temperature (`float`, defaults to `1.0`): sampling temperature, and the divisor of
            the trainer's logits (OVR: 1.0).
        top_p (`float`, defaults to `1.0`): nucleus sampling (OVR: 1.0); top-k and penalties
            are always off.
        max_new_tokens (`int`, defaults to `1024`): the response length cap.
        length_schedule (`dict[int, int]`, defaults to `{}`): {from iteration: cap} raising
            `max_new_tokens` during training (OVR: 24k → 32k → 48k).
        gamma (`float`, defaults to `1.0`): GAE discount (OVR: 1).
        lam (`float`, defaults to `1.0`): GAE λ (OVR: 1).
        clip_eps (`float`, defaults to `0.2`): PPO ratio clip.
        value_clip (`float`, defaults to `0.2`): critic value clip (ORZ: 0.2).
        normalize_advantages (`bool`, defaults to `True`): PPO whitens GAE advantages over
            the batch; GRPO divides by the group's standard deviation (`False`: mean-centring
            only, Dr. GRPO).
        loss_agg (`str`, defaults to `"token-mean"`): how per-token policy losses become one
            number (verl's `loss_agg_mode`): `token-mean` (ORZ, verl), `seq-mean-token-mean`,
            `seq-mean-token-sum`, `seq-mean-token-sum-norm` (Dr. GRPO).
        kl_coef (`float`, defaults to `0.0`): weight of a k3 KL to the initial policy in the
            loss; `0` (ORZ/OVR) loads no reference model and logs no KL.
        truncated_reward_zero (`bool`, defaults to `True`): a truncated response earns 0
            (ORZ).
        reward (`str`, defaults to `"boxed"`): `boxed`, only the answer in the last
            `\\boxed{}` earns a reward (ORZ/OVR); `lenient`, the evaluation's extraction
            (answer phrases, a bare last line, ...); `random`, a control that earns 1 with
            probability `random_reward_rate` whatever the response (seeded by `seed`).
        random_reward_rate (`float`, defaults to `0.5`): the `random` reward's probability.
        policy_lr (`float`, defaults to `1e-6`): policy learning rate, constant after warm-up
            (OVR: 1e-6).
        critic_lr (`float`, defaults to `5e-6`): critic learning rate (OVR: 5e-6).
        warmup_steps (`int`, defaults to `0`): linear warm-up of both learning rates, in
            iterations (OVR: 50).
        max_grad_norm (`float`, defaults to `1.0`): gradient clipping of policy and critic
            (ORZ: 1.0).
        critic_updates (`int`, defaults to `4`): critic optimiser steps per iteration, on
            disjoint mini-batches of one shuffled pass over the iteration's rollouts (ORZ's
            `critic_update_steps`, verl's critic mini-batch; OVR: 4). The policy always takes
            one step over the whole batch (strictly on-policy, ORZ/OVR).
        micro_batch_size (`int`, defaults to `8`): rollouts per forward/backward (gradient
            accumulation).
        logprob_chunk (`int`, defaults to `256`): positions per chunk when scoring log-probs
            and entropy, so the vocabulary projection of a whole response is never held at
            once: peak memory stays ~1.6 GiB at 256 for Qwen's 152k vocabulary whatever the
            length (all logits: 5.8 GiB at 2k tokens; benchmarks/logprob_memory.py).
        engine (`str`, defaults to `"hf"`): the rollout engine: `hf` generates with the live
            model (CPU); `vllm` runs vLLM in process, its weights pushed after each update and
            checked.
        save_every (`int`, defaults to `0`): full checkpoints (optimiser state included)
            every N iterations; `0`: only at the end.
        seed (`int`, defaults to `0`): prompt order, sampling and the random reward.
    """

    enabled: bool = True
    algorithm: str = "ppo"
    critic: str = "model"
    tasks: list[str] = field(default_factory=lambda: ["math500"])
    splits: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    limit: int | None = None
    prompt: str | None = None
    steps: int = 1
    prompts_per_step: int = 8
    rollouts_per_prompt: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    length_schedule: dict[int, int] = field(default_factory=dict)
    gamma: float = 1.0
    lam: float = 1.0
    clip_eps: float = 0.2
    value_clip: float = 0.2
    normalize_advantages: bool = True
    loss_agg: str = "token-mean"
    kl_coef: float = 0.0
    truncated_reward_zero: bool = True
    reward: str = "boxed"
    random_reward_rate: float = 0.5
    policy_lr: float = 1e-6
    critic_lr: float = 5e-6
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    critic_updates: int = 4
    micro_batch_size: int = 8
    logprob_chunk: int = 256
    engine: str = "hf"
    save_every: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_reward_rate <= 1.0:
            raise UserError(f"rl.random_reward_rate: {self.random_reward_rate!r} is not a "
                            "probability (0 to 1)")


@dataclass
class EvalStage(EvalOptions):
    """``ovr eval`` of the final checkpoint, and every ``every`` RL iterations (``eval:``):
    the evaluation's own options (``ovr_eval.evaluate.EvalOptions``), whose model and run
    folder ``ovr train`` sets to each checkpoint, and when and how training meets it.

    Attributes:
        tasks (`list[str]`, defaults to `["math500", "mathvision", "mathverse"]`): tasks or
            suites to evaluate (`ovr tasks` lists them).
        engine (`str`, defaults to `"hf"`): `hf` (transformers, CPU) or `vllm`.
        sampling (`SamplingConfig`, defaults to `ovr eval`'s): `n` responses per prompt,
            `temperature`, `top_p`, `max_tokens` (32768) and `seed`, e.g.
            `sampling: {max_tokens: 32}`.
        prompt (`str` or `None`, defaults to `None`): the prompt template (`None`: each
            task's own).
        splits (`dict[str, str]`, defaults to `{}`): task → split (default: the task's own).
        data_dir (`str` or `None`, defaults to `None`): a benchmark-style data folder or
            `embedded`; `None`: the hub (`--data-dir` overrides it).
        limit (`int` or `None`, defaults to `None`): the first N samples of each task.
        preset (`str` or `None`, defaults to `None`): a paper's sampling per benchmark
            (`ovr`: see `ovr eval --preset`); `sampling` overrides it.
        second_opinion (`bool`, defaults to `True`): Math-Verify grades every evaluated
            response too, beside the rules (`ovr eval --no-second-opinion` turns it off);
            never part of the RL reward.
        enabled (`bool`, defaults to `True`): evaluate at all.
        every (`int`, defaults to `0`): also evaluate every N RL iterations (into
            `evals/step-N`); `0`: only the final checkpoint.
        train_overlap (`str`, defaults to `"refuse"`): SFT chats and RL prompts that are also
            evaluation items (same task and id, or the same question text): `refuse` stops
            before training, naming them; `drop` trains without them (counted in
            `train/overlap.json`); `allow` keeps them (a training-set score, not a test score).
    """

    # set by ovr train (each checkpoint and its folder) or not offered in a recipe
    SET_BY_THE_RUN: ClassVar[tuple[str, ...]] = (
        "model", "out", "revision", "engine_options", "shard", "sampling_overrides", "judge",
        "task_dirs", "verbose")
    MOVED: ClassVar[dict[str, str]] = {"max_tokens": "sampling.max_tokens",
                                       "samples": "sampling.n",
                                       "temperature": "sampling.temperature"}

    engine: str = "hf"
    enabled: bool = True
    every: int = 0
    train_overlap: str = "refuse"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.data_dir, str):  # from YAML; "embedded": ovr_eval's own slices
            self.data_dir = Path(self.data_dir)

    def for_checkpoint(self, checkpoint: Path, out: Path, data_dir: Path | None
                       ) -> EvalOptions:
        """The ``ovr eval`` options of one checkpoint, evaluated into ``out``."""
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(EvalOptions)}
        return EvalOptions(**{**own, "model": str(checkpoint), "out": out,
                              "data_dir": data_dir})


@dataclass
class CheckpointConfig:
    """What the run keeps in ``checkpoints/`` (``checkpoints:``).

    Attributes:
        keep_last (`int`, defaults to `0`): keep the newest N checkpoints (`0`: all); the
            newest resumable one and the one RL started from are always kept.
        average_last (`int`, defaults to `0`): above 1, after training the uniform average of
            the last N checkpoints' weights becomes the final model (`checkpoints/average-...`),
            as OVR's released model averages intermediate checkpoints (which ones OVR averaged
            is not stated).
    """

    keep_last: int = 0
    average_last: int = 0


@dataclass
class Recipe:
    """One training run: model, stages, evaluation, checkpoints (a recipe YAML file).

    Attributes:
        name (`str`, defaults to `"recipe"`): the recipe's name (its file name when read).
        model (`ModelConfig`): the starting weights and how they are trained.
        sft (`SFTConfig`): the supervised cold start.
        rl (`RLConfig`): reinforcement learning.
        eval (`EvalStage`): the evaluation of the checkpoints.
        checkpoints (`CheckpointConfig`): what the run keeps.
    """

    name: str = "recipe"
    model: ModelConfig = field(default_factory=ModelConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalStage = field(default_factory=EvalStage)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)

    def to_dict(self) -> dict[str, Any]:
        data = json.loads(json.dumps(asdict(self), default=str))  # tuples become lists
        for key in EvalStage.SET_BY_THE_RUN:
            data["eval"].pop(key, None)
        return data


CHOICES = {"algorithm": ("ppo", "grpo"), "critic": ("model", "head"),
           "reward": ("boxed", "lenient", "random"),
           "engine": ("hf", "vllm"), "grouping": ("length", "none"),
           "dtype": ("auto", "float32", "bfloat16", "float16"),
           "loss_agg": LOSS_AGG_MODES, "train_overlap": ("refuse", "drop", "allow")}


# field annotations (strings: this module defers them) whose values must be whole numbers
WHOLE_OR_NONE = ("int | None",)
WHOLE_SCHEDULE = ("dict[int, int]",)
# values below 1 mean nothing to train on, or divide by zero (recipe section → keys)
AT_LEAST_ONE = {
    "sft": ("max_length", "batch_size", "grad_accum", "epochs"),
    "rl": ("steps", "prompts_per_step", "rollouts_per_prompt", "max_new_tokens",
           "critic_updates", "micro_batch_size", "logprob_chunk"),
}


def _number(value: Any, where: str, whole: bool = False) -> float | int:
    """A number; strings such as "2e-3" (YAML 1.1 reads them as text) are converted. ``whole``:
    an int, from a whole number in any spelling (``1e3`` is 1000), else a UserError."""
    if isinstance(value, bool):  # YAML's yes/no/true/false
        raise UserError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        number: float | int = value
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected a number, got {value!r}") from None
    if whole and not isinstance(number, int):
        if not number.is_integer():
            raise UserError(f"{where}: expected a whole number, got {value!r}")
        number = int(number)
    return number


def _whole_schedule(value: dict[Any, Any], where: str) -> dict[int, int]:
    """A ``{whole number: whole number}`` mapping (``rl.length_schedule``)."""
    schedule = {}
    for key, cap in value.items():
        try:
            at = _number(key, where, whole=True)
        except UserError:
            raise UserError(f"{where}: key {key!r} is not a whole number (an iteration)") from None
        schedule[int(at)] = int(_number(cap, f"{where}.{key}", whole=True))
    return schedule


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping of keys, got {data!r}")
    hidden = getattr(cls, "SET_BY_THE_RUN", ())
    known = {f.name: f for f in dataclasses.fields(cls) if f.name not in hidden}
    moved: dict[str, str] = getattr(cls, "MOVED", {})
    for key in data:
        if key in moved:
            raise UserError(f"{where}.{key} is now {where}.{moved[key]}")
        if key in hidden:
            raise UserError(f"{where}.{key} is set by ovr train, not by a recipe")
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {where}.{near[0]}?" if near else ""
            raise UserError(f"{where}: unknown key {key!r}{hint} "
                            f"(keys: {', '.join(known)})")
    values = {}
    for name, value in data.items():
        default, kind = getattr(cls(), name), known[name].type
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value or {}, f"{where}.{name}")
        elif isinstance(default, tuple):
            value = tuple(value)
        elif name in CHOICES and value not in CHOICES[name]:
            raise UserError(f"{where}.{name}: {value!r} is not one of "
                            f"{', '.join(CHOICES[name])}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            value = _number(value, f"{where}.{name}", whole=isinstance(default, int))
        elif kind in WHOLE_OR_NONE and value is not None:
            value = _number(value, f"{where}.{name}", whole=True)
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise UserError(f"{where}.{name}: expected a mapping such as {{a: b}}, got {value!r}")
        elif kind in WHOLE_SCHEDULE:
            value = _whole_schedule(value, f"{where}.{name}")
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
    for section, keys in AT_LEAST_ONE.items():
        for key in keys:
            if (value := getattr(getattr(recipe, section), key)) < 1:
                raise UserError(f"{recipe.name}.{section}.{key} must be at least 1, got {value}")
    if recipe.sft.max_steps is not None and recipe.sft.max_steps < 1:
        raise UserError(f"{recipe.name}.sft.max_steps must be at least 1 (or null: epochs x "
                        f"data), got {recipe.sft.max_steps}")
    if recipe.sft.batch_tokens is not None and recipe.sft.batch_tokens < 1:
        raise UserError(f"{recipe.name}.sft.batch_tokens must be at least 1 (or null), got "
                        f"{recipe.sft.batch_tokens}")
    for at, cap in recipe.rl.length_schedule.items():
        if at < 0 or cap < 1:
            raise UserError(f"{recipe.name}.rl.length_schedule: {{{at}: {cap}}} needs an "
                            "iteration of 0 or more and a cap of at least 1")
    if recipe.eval.enabled and recipe.eval.preset is None:  # refused before training, not after
        check_distinct_samples(recipe.eval.sampling, f"{recipe.name}: ", "eval.sampling.n",
                               "eval.sampling.temperature")
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
