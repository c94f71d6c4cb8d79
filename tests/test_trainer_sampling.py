"""Rollouts are samples of the policy: the HF engines draw tokens from softmax(logits / T)
whatever sampling defaults the checkpoint ships, and report the token ids they drew."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ovr_eval.engines.base import render_chat
from ovr_eval.engines.hf import HFEngine
from ovr_eval.engines.options import HFOptions
from ovr_eval.types import Request, SamplingConfig

# what Qwen2.5-VL-7B-Instruct's generation_config.json ships (top_k 1, top_p 0.001,
# temperature 0.1, repetition_penalty 1.05), plus other knobs a checkpoint may carry
CHECKPOINT_DEFAULTS = {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.1,
                       "repetition_penalty": 1.05, "min_p": 0.5, "typical_p": 0.2,
                       "no_repeat_ngram_size": 1}
TEMPERATURE = 0.5  # the tiny model's top tokens then hold most of the mass
SAMPLES = 800


@pytest.fixture(scope="module")
def opinionated_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model with a generation_config.json that would make sampling near-greedy."""
    folder = tmp_path_factory.mktemp("models") / "opinionated"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, **CHECKPOINT_DEFAULTS}))
    return folder


def request() -> Request:
    return Request("q", [{"role": "user", "content": [
        {"type": "text", "text": "Name a number and say it twice."}]}], seed=3)


def chi_square_p(counts: torch.Tensor, probs: torch.Tensor, draws: int) -> float:
    """p-value of Pearson's test that ``counts`` (per token) come from ``probs``; tokens
    expected fewer than 5 times are pooled into one bin."""
    expected = probs * draws
    big = expected >= 5
    observed = torch.cat([counts[big], counts[~big].sum().reshape(1)]).double()
    wanted = torch.cat([expected[big], expected[~big].sum().reshape(1)]).double()
    statistic = float(((observed - wanted) ** 2 / wanted).sum())
    dof = len(wanted) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2), torch.tensor(statistic / 2)))


def first_token_counts(engine: HFEngine) -> tuple[torch.Tensor, torch.Tensor]:
    """(how often each token was drawn first, softmax(logits / T) of the first token)."""
    completion = next(engine.generate([request()], SamplingConfig(
        n=SAMPLES, temperature=TEMPERATURE, max_tokens=1, seed=3)))
    prompt = engine.tokenizer(render_chat(engine.processor, request()), return_tensors="pt")
    with torch.no_grad():
        logits = engine.model(**prompt.to(engine.device)).logits[0, -1].float().cpu()
    probs = torch.softmax(logits / TEMPERATURE, dim=-1)
    first = torch.tensor([ids[0] for ids in completion.token_ids])
    return torch.bincount(first, minlength=probs.numel()).float(), probs


def assert_samples_of_the_policy(engine: HFEngine) -> None:
    counts, probs = first_token_counts(engine)
    assert int((counts > 0).sum()) > 10, "near-greedy sampling: the checkpoint's knobs leaked"
    assert chi_square_p(counts, probs, SAMPLES) > 1e-3
    # the same test rejects a truncated sampler (transformers' default top_k=50, top-k 1)
    top50 = probs.clone()
    top50[probs.argsort(descending=True)[50:]] = 0
    assert chi_square_p(counts, top50 / top50.sum(), SAMPLES) < 1e-6


@pytest.mark.slow
def test_hf_engine_samples_softmax_over_temperature_despite_checkpoint_defaults(
        opinionated_model):
    engine = HFEngine(str(opinionated_model), HFOptions(dtype="float32"))
    assert engine.model.generation_config.top_k == 1  # the checkpoint's config is kept ...
    assert_samples_of_the_policy(engine)  # ... but not applied
    assert engine.model.generation_config.top_k == 1  # and restored after generating


@pytest.mark.slow
def test_live_rl_engine_samples_the_policy(opinionated_model):
    from ovr_trainer.modeling import load_policy
    from ovr_trainer.rollout import LiveHFEngine

    model, processor = load_policy(opinionated_model)
    assert_samples_of_the_policy(LiveHFEngine(model, processor))


def test_engine_token_ids_end_with_the_stop_token_only_when_stopped(tiny_model):
    engine = HFEngine(str(tiny_model), HFOptions(dtype="float32"))
    greedy = SamplingConfig(max_tokens=6)
    free = next(engine.generate([request()], greedy))
    ids = free.token_ids[0]
    assert free.finish_reasons == ["length"] and len(ids) == 6 == free.completion_tokens[0]
    assert next(engine.generate([request()], greedy)).token_ids[0] == ids  # argmax decoding
    # a checkpoint with a second stop token (Qwen's configs list two): generation stops on it
    # and the ids end with it, as sampled
    at = next(k for k in range(1, 6) if ids[k] not in ids[:k])
    stop = engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    engine.model.generation_config.eos_token_id = [stop, ids[at]]
    stopped = next(engine.generate([request()], greedy))
    assert stopped.finish_reasons == ["stop"] and stopped.token_ids[0] == ids[: at + 1]
    assert stopped.responses[0] == engine.tokenizer.decode(ids[: at + 1],
                                                           skip_special_tokens=True)
