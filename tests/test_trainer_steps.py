"""The RL and SFT steps really train: fp32 master weights under bf16 compute, critic steps as
ORZ counts them, no reference model without KL, chunked log-probs at the sampling temperature,
named loss aggregation, gradient checkpointing."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ovr_eval.types import Completion, Sample, UserError
from ovr_trainer import algos
from ovr_trainer.collect import Rollout, encode_prompt, response_ids
from ovr_trainer.config import RLConfig, load_recipe
from ovr_trainer.modeling import Policy, enable_gradient_checkpointing, load_policy, output_layer
from ovr_trainer.precision import compute_dtype
from ovr_trainer.rl import RLTrainer, critic_minibatches


@pytest.fixture(scope="module")
def processor(tiny_model):
    return load_policy(tiny_model)[1]


def rollouts(processor, rewards: list[float], length: int = 5) -> list[Rollout]:
    """Text rollouts of arithmetic prompts with varied responses, group by group."""
    tokenizer = processor.tokenizer
    out = []
    for i, reward in enumerate(rewards):
        prompt = processor.apply_chat_template(
            [{"role": "user", "content": f"Compute {i // 2} + 3."}], tokenize=False,
            add_generation_prompt=True)
        ids = tokenizer(f"The sum is {i} and {i * 7}.", add_special_tokens=False)["input_ids"]
        sample = Sample(str(i), "arithmetic", f"Compute {i // 2} + 3.", str(i // 2 + 3))
        out.append(Rollout(sample, encode_prompt(processor, prompt, []), "", ids[:length + i % 3],
                           reward, bool(reward), False))
    return out


def trainer_for(tiny_model, cfg: RLConfig, dtype: str = "float32") -> RLTrainer:
    model, processor = load_policy(tiny_model, "float32")
    return RLTrainer(cfg, Policy(model, processor, compute_dtype(dtype)), tiny_model)


def one_policy_step(trainer: RLTrainer, items: list[Rollout]) -> None:
    batches = trainer.micro_batches(items)
    exp = trainer.experience(items, batches)
    trainer.policy_step(items, batches, exp, 1, 16)


def moved_fraction(before: dict[str, torch.Tensor], model: torch.nn.Module) -> float:
    """Share of the weights AdamW gives a full-size first update (|gradient| above its eps,
    1e-8: smaller gradients get proportionally smaller updates) that changed."""
    changed = touched = 0
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        live = param.grad.abs() > 1e-8
        touched += int(live.sum())
        changed += int(((param.detach() != before[name]) & live).sum())
    return changed / max(touched, 1)


@pytest.mark.slow
def test_master_weights_move_at_lr_1e6_with_the_7b_recipes_bf16_compute(tiny_model, processor):
    recipe = load_recipe("ovr-7b-rl")
    assert recipe.model.dtype == "bfloat16"
    cfg = replace(recipe.rl, algorithm="grpo", rollouts_per_prompt=2, micro_batch_size=2,
                  warmup_steps=0, kl_coef=0.0)
    trainer = trainer_for(tiny_model, cfg, recipe.model.dtype)
    model = trainer.model
    seen: list[torch.dtype] = []
    output_layer(model).register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    one_policy_step(trainer, rollouts(processor, [1.0, 0.0, 0.0, 1.0]))
    assert seen and set(seen) == {torch.bfloat16}  # the forward passes ran in bf16 ...
    assert all(p.dtype == torch.float32 for p in model.parameters())  # ... on fp32 masters
    states = [s for s in trainer.policy_opt.state.values() if "exp_avg" in s]
    assert states and all(s["exp_avg"].dtype == torch.float32 for s in states)
    assert moved_fraction(before, model) > 0.999  # lr 1e-6 moves every updated weight

    # the failure this prevents: the same update applied in place to bf16 weights
    bf16, _ = load_policy(tiny_model, "bfloat16")
    old = {n: p.detach().clone() for n, p in bf16.named_parameters()}
    optimizer = torch.optim.AdamW(bf16.parameters(), lr=1e-6, betas=(0.9, 0.95))
    for name, param in bf16.named_parameters():
        grad = dict(model.named_parameters())[name].grad
        param.grad = None if grad is None else grad.to(torch.bfloat16)
    optimizer.step()
    assert moved_fraction(old, bf16) < 0.2


def test_float16_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"^tiny\.model\.dtype float16 needs a loss scaler"):
        load_recipe("tiny", {"model.dtype": "float16"})


def test_critic_updates_are_optimiser_steps_within_one_shuffled_pass(tiny_model, processor):
    parts = critic_minibatches(10, 4, seed=7)
    assert len(parts) == 4 and sorted(i for p in parts for i in p) == list(range(10))
    assert [i for p in parts for i in p] != list(range(10))  # shuffled
    assert len(critic_minibatches(2, 4, seed=0)) == 2  # never an empty step
    cfg = RLConfig(algorithm="ppo", critic="head", critic_updates=3, micro_batch_size=2,
                   rollouts_per_prompt=2, policy_lr=1e-5, critic_lr=1e-4)
    trainer = trainer_for(tiny_model, cfg)
    items = rollouts(processor, [1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    batches = trainer.micro_batches(items)
    exp = trainer.experience(items, batches)
    head = trainer.critic.head.linear.weight.detach().clone()
    metrics = trainer.update(items, batches, exp, 1, 16)
    steps = {int(s["step"]) for s in trainer.critic_opt.state.values()}
    assert steps == {3}  # three critic optimiser steps ...
    assert {int(s["step"]) for s in trainer.policy_opt.state.values()} == {1}  # one policy
    assert not torch.equal(head, trainer.critic.head.linear.weight)
    assert metrics["value_loss"] > 0 and metrics["policy_loss"] is not None


@pytest.mark.slow
def test_no_reference_model_without_kl(tiny_model, processor):
    items = rollouts(processor, [1.0, 0.0])
    plain = trainer_for(tiny_model, RLConfig(algorithm="grpo", rollouts_per_prompt=2))
    assert plain.ref is None
    assert plain.experience(items, plain.micro_batches(items)).ref_logprobs is None
    with_kl = trainer_for(tiny_model, RLConfig(algorithm="grpo", rollouts_per_prompt=2,
                                               kl_coef=0.01))
    assert with_kl.ref is not None and not any(p.requires_grad for p in with_kl.ref.parameters())
    exp = with_kl.experience(items, with_kl.micro_batches(items))
    assert torch.allclose(exp.ref_logprobs, exp.logprobs, atol=1e-5)  # same weights at start


@pytest.mark.slow
def test_grpo_std_normalisation_follows_normalize_advantages(tiny_model, processor):
    items = rollouts(processor, [1.0, 0.0, 0.0, 0.0])
    for scale, first in ((True, 0.75 / 0.1875 ** 0.5), (False, 0.75)):
        trainer = trainer_for(tiny_model, RLConfig(algorithm="grpo", rollouts_per_prompt=4,
                                                   normalize_advantages=scale))
        exp = trainer.experience(items, trainer.micro_batches(items))
        assert exp.advantages[0, 0].item() == pytest.approx(first, rel=1e-4)


def test_chunked_log_probs_equal_the_full_softmax_at_the_sampling_temperature():
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 300, bias=False)
    hidden = torch.randn(2, 7, 16, requires_grad=True)
    tokens = torch.randint(0, 300, (2, 7))
    full = torch.log_softmax(layer(hidden) / 0.7, dim=-1)
    expected = full.gather(-1, tokens[..., None]).squeeze(-1)
    entropy = -(full.exp() * full).sum(-1)
    expected.sum().backward()
    grads = hidden.grad.clone(), layer.weight.grad.clone()
    hidden.grad, layer.weight.grad = None, None
    chosen, ent = algos.logprobs_from_hidden(hidden, layer, tokens, temperature=0.7, chunk=3,
                                             with_entropy=True)
    assert torch.allclose(chosen, expected, atol=1e-5)
    assert torch.allclose(ent, entropy, atol=1e-5)
    chosen.sum().backward()
    assert torch.allclose(hidden.grad, grads[0], atol=1e-5)
    assert torch.allclose(layer.weight.grad, grads[1], atol=1e-5)
    with torch.no_grad():  # a chunk below 1 means one position at a time
        one_by_one, _ = algos.logprobs_from_hidden(hidden, layer, tokens, 0.7, chunk=0)
    assert torch.allclose(one_by_one, expected, atol=1e-5)


def test_loss_aggregation_modes_and_micro_batch_shares():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    expected = {"token-mean": 10 / 4, "seq-mean-token-mean": (2 + 4) / 2,
                "seq-mean-token-sum": (6 + 4) / 2, "seq-mean-token-sum-norm": (6 + 4) / (2 * 8)}
    for mode, value in expected.items():
        norm = algos.Normaliser.of(mask, horizon=8)
        assert algos.aggregate(values, mask, mode, norm).item() == pytest.approx(value)
        shares = sum(algos.aggregate(values[i : i + 1], mask[i : i + 1], mode, norm)
                     for i in range(2))  # micro-batches add up to the step's loss
        assert shares.item() == pytest.approx(value)
    with pytest.raises(UserError, match="loss_agg"):
        load_recipe("tiny", {"rl.loss_agg": "sum"})


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_gradients(tiny_model, processor):
    items = rollouts(processor, [1.0, 0.0])
    grads = []
    for checkpointed in (False, True):
        trainer = trainer_for(tiny_model, RLConfig(algorithm="grpo", rollouts_per_prompt=2))
        if checkpointed:
            enable_gradient_checkpointing(trainer.model)
        one_policy_step(trainer, items)
        grads.append(torch.cat([p.grad.flatten() for p in trainer.params
                                if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_training_uses_the_engines_token_ids(processor):
    tokenizer = processor.tokenizer
    end = tokenizer.eos_token_id
    sampled = Completion("q", ["a b", "a b"], finish_reasons=["stop", "length"],
                         token_ids=[[64, 293, end], [64, 293]])
    assert response_ids(tokenizer, sampled, 0) == [64, 293, end]  # exactly as sampled
    assert response_ids(tokenizer, sampled, 1) == [64, 293]  # no end-of-turn when cut off
    text_only = Completion("q", ["The sum is 4.", "The sum is"], finish_reasons=["stop", "length"])
    ids = tokenizer("The sum is 4.", add_special_tokens=False)["input_ids"]
    assert response_ids(tokenizer, text_only, 0) == [*ids, end]  # re-tokenised, stopped
    assert response_ids(tokenizer, text_only, 1)[-1] != end
