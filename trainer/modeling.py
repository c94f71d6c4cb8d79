"""Load the policy and its processor; freeze vision parts; the critic.

The critic is a value head ``Linear(hidden, 1, bias=False)`` (ORZ's shape and init) on a
trunk: either its own copy of the policy's base model, trained with the head (``model``,
ORZ/OVR: the critic starts from the same weights as the policy), or the policy's own hidden
states, detached (``head``: no second model in memory; critic updates never move the policy).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass
class Policy:
    """The model being trained (float32 master weights), its processor and compute dtype."""

    model: Any
    processor: Any
    compute: torch.dtype = torch.float32

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


# a transformers PreTrainedModel: its methods (base_model, get_output_embeddings, config
# attributes) are resolved at run time, so the type checker sees it as Any
HFModel = Any

VISION_KEYS = ("visual.", "vision_tower.", "vision_model.")
PROJECTOR_KEYS = ("visual.merger.", "multi_modal_projector.", "mm_projector.")


def load_policy(path: str | Path, dtype: str = "float32", device: str | None = None
                ) -> tuple[Any, Any]:
    """(model, processor) from an HF checkpoint; processor is the tokenizer for text models.

    ``dtype``: the parameters' dtype — float32 for a policy that trains (master weights, see
    precision.py), the compute dtype for a frozen one, ``auto`` for the checkpoint's own.
    """
    from transformers import AutoConfig, AutoProcessor, AutoTokenizer

    config = AutoConfig.from_pretrained(path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    loader: Any  # an Auto* class
    if getattr(config, "vision_config", None) is not None:
        from transformers import AutoModelForImageTextToText as loader

        processor = AutoProcessor.from_pretrained(path)
    else:
        from transformers import AutoModelForCausalLM as loader

        processor = AutoTokenizer.from_pretrained(path)
    model = loader.from_pretrained(path, dtype=dtype if dtype == "auto" else getattr(torch, dtype))
    return model.to(device), processor


def output_layer(model: HFModel) -> nn.Module:
    """The vocabulary projection (``lm_head``)."""
    return model.get_output_embeddings()


def last_hidden(model: HFModel, inputs: dict[str, torch.Tensor], start: int, width: int
                ) -> torch.Tensor:
    """The policy trunk's last hidden states at positions ``start`` … ``start + width − 1``
    (the logits there are ``output_layer(model)`` of them)."""
    out = model.base_model(**inputs, use_cache=False)
    return out.last_hidden_state[:, start : start + width]


def enable_gradient_checkpointing(model: HFModel) -> None:
    """Recompute decoder-layer activations in the backward pass instead of keeping them."""
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def freeze(model: nn.Module, vision: bool, projector: bool) -> int:
    """Freeze the vision tower (without its projector) and/or the projector; count frozen."""
    frozen = 0
    for name, param in model.named_parameters():
        is_projector = any(k in name for k in PROJECTOR_KEYS)
        is_vision = any(k in name for k in VISION_KEYS) and not is_projector
        if (vision and is_vision) or (projector and is_projector):
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def hidden_size(model: HFModel) -> int:
    config = model.config
    text = getattr(config, "text_config", None) or config
    return int(text.hidden_size)


class ValueHead(nn.Module):
    """Scalar value per position from last hidden states."""

    def __init__(self, hidden: int):
        super().__init__()
        self.linear = nn.Linear(hidden, 1, bias=False)
        nn.init.normal_(self.linear.weight, std=1.0 / (hidden + 1))  # ORZ's code init

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden_states.to(self.linear.weight.dtype)).squeeze(-1)


class Critic(nn.Module):
    """Per-token values V(s_t) for response positions."""

    def __init__(self, policy: HFModel, kind: str = "model"):
        super().__init__()
        # a copy keeps the policy's frozen parts (e.g. the vision tower) frozen
        self.trunk: HFModel | None = copy.deepcopy(policy.base_model) if kind == "model" else None
        self.head = ValueHead(hidden_size(policy))
        self.head.to(next(policy.parameters()).device)

    def forward(self, inputs: dict[str, torch.Tensor], policy_hidden: torch.Tensor | None,
                start: int, width: int) -> torch.Tensor:
        """Values at positions ``start`` … ``start + width - 1``; ``policy_hidden`` (the
        policy's last hidden states there) is used by the ``head`` kind only."""
        if self.trunk is None:
            if policy_hidden is None:
                raise ValueError("a head-only critic needs the policy's hidden states")
            return self.head(policy_hidden.detach())  # critic updates never move the policy
        hidden = self.trunk(**inputs, use_cache=False).last_hidden_state[:, start : start + width]
        return self.head(hidden)
