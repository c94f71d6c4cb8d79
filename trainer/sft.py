"""Supervised fine-tuning: assistant-only loss, grouped batches, accumulation, resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ovr_trainer import checkpoint
from ovr_trainer.algos import logprobs_from_hidden
from ovr_trainer.chat_data import (
    IGNORE,
    TASK_PREFIX,
    ChatEncoder,
    batch_plan,
    collate,
    load_chat_rows,
)
from ovr_trainer.config import SFTConfig
from ovr_trainer.divergence import check_finite
from ovr_trainer.evaluation import hub_note, resolve_data_dir
from ovr_trainer.logs import TrainLog
from ovr_trainer.modeling import Policy, last_hidden, output_layer
from ovr_trainer.precision import autocast
from ovr_trainer.schedule import scheduler


def sft_rows(cfg: SFTConfig, data_dir: Path | None = None,
             say: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The recipe's SFT chats (``data_dir`` wins over ``sft.data_dir``); ``say`` hears when
    they are about to be read from the hub."""
    folder = data_dir or resolve_data_dir(cfg.data_dir)
    if say is not None:
        if cfg.data.startswith(TASK_PREFIX):
            note = hub_note([cfg.data.removeprefix(TASK_PREFIX)], folder, "the SFT data")
        elif Path(cfg.data).suffix not in (".jsonl", ".json", ".parquet"):
            note = (f"reading the SFT data from the network: {cfg.data}"
                    + (f"@{cfg.data_revision[:10]}" if cfg.data_revision else ""))
        else:
            note = None
        if note:
            say(note)
    return load_chat_rows(cfg.data, cfg.data_split, cfg.limit, folder, cfg.prompt,
                          cfg.data_revision)


def sft_loss(model: Any, batch: dict[str, torch.Tensor], chunk: int = 256
             ) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over labelled tokens, and how many there were.

    Logits are made only from the first labelled position on (the vocabulary projection of
    prompt tokens, often most of a sequence, is never paid for) and ``chunk`` positions at a
    time (algos.logprobs_from_hidden: never [tokens × vocabulary] at once, even at 64k tokens).
    """
    labels = batch.pop("labels")
    labelled = (labels != IGNORE).any(dim=0).nonzero()
    first = max(1, int(labelled[0]) if len(labelled) else labels.shape[1] - 1)
    targets = labels[:, first:]  # predicted by the outputs at first − 1 … end − 1
    hidden = last_hidden(model, batch, first - 1, targets.shape[1])
    mask = targets != IGNORE
    logprobs, _ = logprobs_from_hidden(hidden, output_layer(model), targets.clamp(min=0),
                                       chunk=chunk)
    return -(logprobs * mask).sum(), int(mask.sum())


def total_steps(cfg: SFTConfig, micro_batches: int) -> int:
    available = -(-micro_batches // cfg.grad_accum)  # every epoch, last window may be short
    return min(cfg.max_steps or available, available)


def train_sft(
    cfg: SFTConfig, policy: Policy, rows: list[dict[str, Any]], ckpts: checkpoint.Checkpointer,
    log: TrainLog, resume: checkpoint.Saved | None = None,
    after_step: Callable[[int], None] | None = None,
) -> tuple[Path | None, int]:
    """Run (or finish) SFT on ``rows``; returns (final checkpoint, steps). Steps start at 1."""
    model, processor = policy.model, policy.processor
    encoder = ChatEncoder(processor, cfg.max_length)
    items = [encoder.encode(r) for r in rows]
    items = [i for i in items if any(t != IGNORE for t in i["labels"])]
    plan = batch_plan([len(i["input_ids"]) for i in items], cfg.batch_size, cfg.epochs,
                      cfg.seed, cfg.grouping, cfg.batch_tokens)
    steps = total_steps(cfg, len(plan))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]),
                                  weight_decay=cfg.weight_decay)
    sched = scheduler(optimizer, cfg.warmup_steps, steps, cfg.min_lr_ratio)
    start = 0
    if resume is not None:
        state = resume.state
        optimizer.load_state_dict(state.optimiser["optimizer"])
        sched.load_state_dict(state.optimiser["scheduler"])
        checkpoint.set_rng_state(state.rng)
        start = state.stage_step
    else:
        checkpoint.seed_all(cfg.seed)
    pad, device = encoder.tokenizer.pad_token_id, policy.device
    final = resume.path if resume is not None else None
    model.train()
    log.stage("sft", start, steps)
    for step in range(start, steps):
        began, loss_sum = time.monotonic(), 0.0
        micro = plan[step * cfg.grad_accum : (step + 1) * cfg.grad_accum]
        batches = [collate([items[i] for i in b], pad) for b in micro]
        total_tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)
        optimizer.zero_grad(set_to_none=True)
        for batch in batches:  # token-mean over the whole accumulation window
            with autocast(policy.compute, device):
                loss, _ = sft_loss(model, {k: v.to(device) for k, v in batch.items()})
            check_finite(loss.detach(), "the loss", "SFT", step + 1)
            (loss / max(total_tokens, 1)).backward()
            loss_sum += loss.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        check_finite(grad_norm, "the gradient norm", "SFT", step + 1)
        lr = sched.get_last_lr()[0]
        optimizer.step()
        sched.step()
        seen = sum(int(b["attention_mask"].sum()) for b in batches)
        log.metrics({
            "step": step + 1, "stage": "sft", "loss": loss_sum / max(total_tokens, 1),
            "lr": lr, "grad_norm": float(grad_norm), "tokens": seen,
            "tokens_per_s": seen / max(time.monotonic() - began, 1e-9),
        })
        if step + 1 == steps or (cfg.save_every and (step + 1) % cfg.save_every == 0):
            final = ckpts.full(step + 1, model, processor, checkpoint.TrainState(
                "sft", step + 1, steps, step + 1, optimiser={
                    "optimizer": optimizer.state_dict(), "scheduler": sched.state_dict()}))
        if after_step is not None:
            after_step(step + 1)
    return final, steps
