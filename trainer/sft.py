"""Supervised fine-tuning: assistant-only loss, grouped batches, accumulation, resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ovr_trainer import checkpoint
from ovr_trainer.chat_data import IGNORE, ChatEncoder, batch_plan, collate, load_chat_rows
from ovr_trainer.config import SFTConfig
from ovr_trainer.divergence import check_finite
from ovr_trainer.evaluation import resolve_data_dir
from ovr_trainer.logs import TrainLog
from ovr_trainer.schedule import scheduler


def sft_loss(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over labelled tokens, and how many there were.

    Logits are computed only from the first labelled position on (``logits_to_keep``): the
    vocabulary projection of prompt tokens, often most of a sequence, is never paid for.
    """
    labels = batch.pop("labels")
    labelled = (labels != IGNORE).any(dim=0).nonzero()
    first = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    keep = labels.shape[1] - first + 1  # outputs at first − 1 … end predict first … end
    logits = model(**batch, logits_to_keep=keep).logits[:, :-1].float()
    targets = labels[:, labels.shape[1] - keep + 1 :]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
        ignore_index=IGNORE, reduction="sum")
    return loss, int((targets != IGNORE).sum())


def total_steps(cfg: SFTConfig, micro_batches: int) -> int:
    available = -(-micro_batches // cfg.grad_accum)  # every epoch, last window may be short
    return min(cfg.max_steps or available, available)


def train_sft(
    cfg: SFTConfig, model: Any, processor: Any, ckpt_root: Path, log: TrainLog,
    resume: checkpoint.Saved | None = None, data_dir: Path | None = None,
    after_step: Callable[[int], None] | None = None,
) -> tuple[Path | None, int]:
    """Run (or finish) SFT; returns (final checkpoint, steps). Step numbers start at 1."""
    rows = load_chat_rows(cfg.data, cfg.data_split, cfg.limit,
                          data_dir or resolve_data_dir(cfg.data_dir), cfg.prompt)
    encoder = ChatEncoder(processor, cfg.max_length)
    items = [encoder.encode(r) for r in rows]
    items = [i for i in items if any(t != IGNORE for t in i["labels"])]
    plan = batch_plan([len(i["input_ids"]) for i in items], cfg.batch_size, cfg.epochs,
                      cfg.seed, cfg.grouping)
    steps = total_steps(cfg, len(plan))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas),
                                  weight_decay=cfg.weight_decay)
    sched = scheduler(optimizer, cfg.warmup_steps, steps, cfg.min_lr_ratio)
    start = 0
    if resume is not None:
        state = resume.state
        optimizer.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        checkpoint.set_rng_state(state["rng"])
        start = state["stage_step"]
    else:
        torch.manual_seed(cfg.seed)
    pad = encoder.tokenizer.pad_token_id
    device = next(model.parameters()).device
    final = resume.path if resume is not None else None
    model.train()
    for step in range(start, steps):
        began, loss_sum, token_count = time.monotonic(), 0.0, 0
        micro = plan[step * cfg.grad_accum : (step + 1) * cfg.grad_accum]
        batches = [collate([items[i] for i in b], pad) for b in micro]
        total_tokens = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)
        optimizer.zero_grad(set_to_none=True)
        for batch in batches:  # token-mean over the whole accumulation window
            loss, count = sft_loss(model, {k: v.to(device) for k, v in batch.items()})
            check_finite(loss.detach(), "the loss", "SFT", step + 1)
            (loss / max(total_tokens, 1)).backward()
            loss_sum, token_count = loss_sum + loss.item(), token_count + count
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        check_finite(grad_norm, "the gradient norm", "SFT", step + 1)
        lr = sched.get_last_lr()[0]
        optimizer.step()
        sched.step()
        seen = sum(int(b["attention_mask"].sum()) for b in batches)
        log.metrics({
            "step": step + 1, "stage": "sft", "loss": loss_sum / max(token_count, 1),
            "lr": lr, "grad_norm": float(grad_norm), "tokens": seen,
            "tokens_per_s": seen / max(time.monotonic() - began, 1e-9),
        })
        if step + 1 == steps or (cfg.save_every and (step + 1) % cfg.save_every == 0):
            final = checkpoint.save(ckpt_root, step + 1, model, processor, {
                "stage": "sft", "stage_step": step + 1, "stage_steps": steps,
                "optimizer": optimizer.state_dict(), "scheduler": sched.state_dict()})
        if after_step is not None:
            after_step(step + 1)
    return final, steps
