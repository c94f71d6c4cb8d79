"""RL rollouts: the prompt pool of a recipe's tasks, each iteration's prompts, and responses
generated through an ovr_eval engine, graded by ovr_eval.verify into rewards and tokenised for
training (:class:`Rollout`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovr_eval.engines import Engine
from ovr_eval.engines.images import load_image
from ovr_eval.evaluate import load_samples
from ovr_eval.prompting import build_request, load_template
from ovr_eval.task_registry import resolve
from ovr_eval.types import Completion, Sample, SamplingConfig, UserError, Verdict
from ovr_eval.verify import CacheKey, grade_many
from ovr_trainer.chat_data import IMAGE_TENSORS, TOKEN_TYPES
from ovr_trainer.config import RLConfig


@dataclass
class Rollout:
    """One response, tokenised for training."""

    sample: Sample | None  # None: a probe scored outside training
    prompt: dict[str, Any]  # input_ids (list) and image tensors of the prompt
    response: str
    response_ids: list[int]
    reward: float
    correct: bool
    truncated: bool

    @property
    def source(self) -> Sample:
        """The training sample this response answers (a probe has none)."""
        if self.sample is None:
            raise ValueError("a probe rollout answers no training sample")
        return self.sample


def prompt_pool(cfg: RLConfig, data_dir: Path | None, section: str = "rl") -> list[Sample]:
    """Every usable sample of the recipe's tasks (text and image problems together); a split
    named for a task outside them is refused (``section``: the recipe section, for the
    message)."""
    tasks = resolve(cfg.tasks, [])
    names = [t.name for t in tasks]
    for name in cfg.splits:
        if name not in names:
            raise UserError(f"{section}.splits names task {name!r}, which is not in "
                            f"{section}.tasks ({', '.join(names)})")
    pool = []
    for task in tasks:
        split = cfg.splits.get(task.name, task.default_split)
        pool.extend(load_samples(task, split, data_dir, cfg.limit)[0])
    return pool


def task_templates(task_names: list[str], prompt: str | None) -> dict[str, Any]:
    """The prompt template of each task: ``prompt`` when given, else the task's own."""
    return {t.name: load_template(prompt or t.default_prompt) for t in resolve(task_names, [])}


def prompts_for_step(pool: list[Sample], step: int, count: int, seed: int) -> list[Sample]:
    """The prompts of iteration ``step`` (0-based): a fresh shuffle of the pool each pass."""
    orders: dict[int, list[int]] = {}  # pass → order; one shuffle per pass touched
    chosen = []
    for i in range(step * count, (step + 1) * count):
        epoch = i // len(pool)
        if epoch not in orders:
            orders[epoch] = list(range(len(pool)))
            random.Random(seed * 1000 + epoch).shuffle(orders[epoch])
        chosen.append(pool[orders[epoch][i % len(pool)]])
    return chosen


def encode_prompt(processor: Any, text: str, images: list[Any]) -> dict[str, Any]:
    tokenizer = getattr(processor, "tokenizer", processor)
    if images:
        enc = processor(text=[text], images=[load_image(i) for i in images], return_tensors="pt")
        out = {k: enc[k] for k in IMAGE_TENSORS if k in enc}
        if TOKEN_TYPES in enc:
            out[TOKEN_TYPES] = enc[TOKEN_TYPES][0].tolist()
        return {"input_ids": enc["input_ids"][0].tolist(), **out}
    return {"input_ids": tokenizer(text, add_special_tokens=False)["input_ids"]}


def rewards(cfg: RLConfig, items: list[tuple[str, str, list[str] | None, bool]],
            verdicts: list[Verdict], rng: random.Random,
            cache: dict[CacheKey, Any] | None = None) -> list[float]:
    """The reward of each graded response ``(response, gold, choices, multiple_choice)`` under
    ``cfg.reward``; ``verdicts`` are the evaluation's (lenient) grades of the same items."""
    if cfg.reward == "lenient":
        return [v.score for v in verdicts]
    if cfg.reward == "random":  # a control: independent of the response
        return [float(rng.random() < cfg.random_reward_rate) for _ in items]
    return [v.score for v in grade_many(items, cache=cache, boxed_only=True)]


def response_ids(tokenizer: Any, completion: Completion, index: int) -> list[int]:
    """The token ids of response ``index`` as sampled: the engine's own ids (the stop token
    included when it stopped on one), or for text-only engines the re-tokenised text with the
    end-of-turn token appended when the engine reports a stop."""
    if completion.token_ids:
        ids = list(completion.token_ids[index])
    else:
        ids = tokenizer(completion.responses[index], add_special_tokens=False)["input_ids"]
        if completion.finish_reasons[index] == "stop":
            ids.append(tokenizer.eos_token_id)
    return ids or [tokenizer.eos_token_id]  # an empty response still scores its end


def collect(engine: Engine, processor: Any, samples: list[Sample], cfg: RLConfig,
            templates: dict[str, Any], seed: int, max_new_tokens: int
            ) -> tuple[list[Rollout], int]:
    """Generate ``rollouts_per_prompt`` responses per sample and grade them with ovr_eval.verify.

    Returns rollouts grouped prompt by prompt (GRPO relies on that order) and the number of
    response tokens the engine generated.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    requests = [build_request(templates[s.task], s, seed) for s in samples]
    for i, request in enumerate(requests):  # the same problem twice in a step stays distinct
        request.sample_id = f"{i}:{request.sample_id}"
    sampling = SamplingConfig(n=cfg.rollouts_per_prompt, temperature=cfg.temperature,
                              top_p=cfg.top_p, max_tokens=max_new_tokens, seed=seed)
    by_id = {c.sample_id: c for c in engine.generate(requests, sampling)}
    completions = [by_id[r.sample_id] for r in requests]
    items = [(response, s.answer, s.choices, s.answer_type == "multiple_choice")
             for s, c in zip(samples, completions, strict=True) for response in c.responses]
    # the whole step graded at once: the evaluation's (lenient) verdicts, then the rewards
    cache = dict[CacheKey, Any]()
    verdicts = grade_many(items, cache=cache)
    scores = rewards(cfg, items, verdicts, random.Random(f"reward-{seed}"), cache)
    rollouts, generated, at = [], 0, 0
    for sample, completion in zip(samples, completions, strict=True):
        generated += sum(completion.completion_tokens)
        prompt = encode_prompt(processor, completion.prompt, sample.images)
        for j, (text, reason) in enumerate(zip(completion.responses,
                                               completion.finish_reasons, strict=True)):
            truncated = reason == "length"
            zero = truncated and cfg.truncated_reward_zero and cfg.reward != "random"
            reward = 0.0 if zero else scores[at]
            rollouts.append(Rollout(sample, prompt, text, response_ids(tokenizer, completion, j),
                                    reward, verdicts[at].correct, truncated))
            at += 1
    return rollouts, generated
