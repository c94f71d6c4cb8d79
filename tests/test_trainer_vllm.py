"""RL rollouts through the vLLM engine (CPU build): weight push, sync check, an RL run."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest
import torch

from ovr_eval.types import Request, SamplingConfig

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "ovr_eval" / "embedded" / "data" / "mathvision" / "images"


def _requests() -> list[Request]:
    text = [Request(f"txt{i}", [{"role": "user", "content": [{"type": "text", "text": t}]}],
                    seed=i) for i, t in enumerate(["What is 2+2?", "Name a prime number."])]
    image = Request("img", [{"role": "user", "content": [
        {"type": "image"}, {"type": "text", "text": "How many digits are shown?"}]}],
        images=[IMAGES / "4.jpg"], seed=7)
    return [*text, image]


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """A large update of every weight (the tied embeddings / lm_head included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator).to(param.dtype))


def test_rl_run_through_vllm_records_sync_metrics(tmp_path, tiny_model):
    """First in the module: its engine is gone before the shared one below starts."""
    from ovr_trainer.config import load_recipe
    from ovr_trainer.runner import train

    recipe = load_recipe("tiny", {
        "model.path": str(tiny_model), "sft.enabled": False, "eval.enabled": False,
        "rl.engine": "vllm", "rl.steps": 2, "rl.prompts_per_step": 2,
        "rl.rollouts_per_prompt": 2, "rl.max_new_tokens": 8, "rl.algorithm": "grpo"})
    summary = train(recipe, tmp_path / "run")
    assert summary["checkpoint"].endswith("step-2")
    lines = (tmp_path / "run" / "train" / "metrics.jsonl").read_text().splitlines()
    records = [r for r in map(json.loads, lines) if r["stage"] == "rl"]
    assert [r["step"] for r in records] == [1, 2]
    for record in records:
        assert record["weight_sync_s"] > 0 and record["sync_check_s"] > 0
        assert 0 <= record["sync_logprob_gap"] <= record["sync_logprob_gap_max"] < 1e-3
    rollouts = (tmp_path / "run" / "train" / "rollouts.jsonl").read_text().splitlines()
    assert any(json.loads(r)["prompt_id"].startswith("image-") for r in rollouts)  # images too
    gc.collect()  # the run's engine is unreferenced now


@pytest.fixture(scope="module")
def policy(tiny_model):
    from ovr_trainer.modeling import load_policy

    return load_policy(tiny_model)  # float32 on CPU; this module's own copy (it is perturbed)


@pytest.fixture(scope="module")
def rollouts(tiny_model, policy):
    from ovr_trainer.config import RLConfig
    from ovr_trainer.rollout import VLLMRollouts, rollout_engine_options

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    model, processor = policy
    options = rollout_engine_options(RLConfig(prompts_per_step=3, rollouts_per_prompt=2,
                                              max_new_tokens=16), model, processor)
    assert options["dtype"] == "float32" and options["kv_cache_memory_bytes"] <= 64 << 20
    engine = VLLMRollouts(str(tiny_model), model, processor, seed=0, **options)
    yield engine
    engine.close()


def test_push_after_an_update_matches_the_trainer(rollouts, policy):
    from ovr_trainer.rollout import LiveHFEngine

    model, processor = policy
    requests = _requests()
    list(rollouts.generate(requests, SamplingConfig(n=2, temperature=1.0, max_tokens=8)))
    assert rollouts.probe is not None and rollouts.probe.images  # an image rollout is probed
    _perturb(model, seed=1)
    assert rollouts.logprob_gap()[0] > 0.1  # the update is visible to the check
    metrics = rollouts.push()
    assert set(metrics) == {"weight_sync_s", "sync_check_s", "sync_logprob_gap",
                            "sync_logprob_gap_max"}
    assert metrics["sync_logprob_gap_max"] < 1e-3
    greedy = SamplingConfig(max_tokens=12)
    engine = {c.sample_id: c for c in rollouts.generate(requests, greedy)}
    hf = {c.sample_id: c for c in LiveHFEngine(model, processor).generate(requests, greedy)}
    for key, completion in engine.items():
        assert completion.prompt_tokens == hf[key].prompt_tokens, key  # image tokens included
        assert completion.responses == hf[key].responses, key


def test_stale_engine_is_detected(rollouts, policy):
    from ovr_trainer.rollout import push_to_vllm

    model, _ = policy
    assert model.config.tie_word_embeddings  # the lm_head case below is the tied one
    list(rollouts.generate(_requests(), SamplingConfig(max_tokens=8)))
    rollouts.push()
    _perturb(model, seed=2)
    with pytest.raises(RuntimeError, match="vLLM is serving stale weights"):
        rollouts.check()  # no push after the update
    push_to_vllm(rollouts, model, with_lm_head=False)  # vLLM keeps its own output layer
    with pytest.raises(RuntimeError, match="vLLM is serving stale weights"):
        rollouts.check()
    rollouts.probe = None  # the text probe used before any rollout catches it too
    with pytest.raises(RuntimeError, match="vLLM is serving stale weights"):
        rollouts.check()
    assert rollouts.push()["sync_logprob_gap"] < 1e-3
