"""SFT data: chat rows (messages + optional images) → token ids with assistant-only labels."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from ovr_eval.engines.base import chat_messages
from ovr_eval.engines.images import load_image
from ovr_eval.prompting import build_request, load_template
from ovr_eval.types import UserError

IGNORE = -100
IMAGE_TENSORS = ("pixel_values", "image_grid_thw")  # concatenated over a batch
# per-token modality from the processor; without it transformers gives Qwen2.5-VL 1-D positions
# instead of the 3-D (M-RoPE) image positions that generation uses
TOKEN_TYPES = "mm_token_type_ids"
TASK_PREFIX = "task:"


def task_traces(name: str, split: str | None, limit: int | None, data_dir: Path | None,
                prompt: str | None = None) -> list[dict[str, Any]]:
    """Chats from a task's samples and their worked solutions (``metadata["solution"]``).

    The user turn is exactly what ``ovr eval`` sends (same template, images first), so SFT
    teaches the format the evaluation and RL prompts use.
    """
    from ovr_eval.evaluate import load_samples
    from ovr_eval.task_registry import resolve

    [task] = resolve([name])
    samples, _ = load_samples(task, split or task.default_split, data_dir, limit)
    template = load_template(prompt or task.default_prompt)
    rows = []
    for sample in samples:
        solution = sample.metadata.get("solution")
        if not solution:
            raise UserError(f"SFT data {TASK_PREFIX}{name}: sample {sample.id} has no worked "
                            "solution (metadata 'solution'), so it cannot be an SFT trace")
        messages = chat_messages(build_request(template, sample, 0))
        rows.append({"messages": [*messages, {"role": "assistant", "content": solution}],
                     "images": list(sample.images), "task": sample.task, "id": sample.id})
    return rows


def load_chat_rows(source: str, split: str | None = None, limit: int | None = None,
                   data_dir: Path | None = None, prompt: str | None = None,
                   revision: str | None = None) -> list[dict[str, Any]]:
    """Rows with ``messages`` (and ``images``): ``task:NAME`` (a task's worked solutions),
    a JSONL/parquet file, or a hub dataset id (at ``revision``)."""
    if source.startswith(TASK_PREFIX):
        return task_traces(source[len(TASK_PREFIX):], split, limit, data_dir, prompt)
    from datasets import load_dataset

    path = Path(source)
    base: Path | None = None
    if path.suffix in (".jsonl", ".json", ".parquet"):
        if not path.is_file():
            raise UserError(f"SFT data {path} does not exist")
        kind = "parquet" if path.suffix == ".parquet" else "json"
        try:
            table = load_dataset(kind, data_files=str(path), split="train")
        except Exception as exc:  # malformed JSON lines, not a parquet file, ...
            raise UserError(f"SFT data {path} could not be read: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        base = path.parent
    else:
        try:
            table = load_dataset(source, split=split or "train", revision=revision)
        except Exception as exc:  # offline, no such dataset or split
            raise UserError(f"SFT data {source!r} is not a task:NAME, a .jsonl/.parquet file "
                            f"or a loadable hub dataset ({type(exc).__name__}; offline? give "
                            "a local .jsonl/.parquet)") from exc
    if "messages" not in table.column_names:
        raise UserError(f"SFT data {source} has no 'messages' column")
    rows = []
    for row in table.select(range(min(limit, len(table)))) if limit else table:
        images = [base / i if base and isinstance(i, str) else i for i in row.get("images") or []]
        rows.append({"messages": row["messages"], "images": images})
    return rows


def _render(processor: Any, messages: list[dict[str, Any]], generation: bool) -> str:
    return processor.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=generation)


class ChatEncoder:
    """Tokenises chats; labels are the assistant turns only (their end token included).

    The assistant header is found from the model's own chat template (the text that
    ``add_generation_prompt`` appends), so any ChatML-style template works.
    """

    def __init__(self, processor: Any, max_length: int):
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        probe = [{"role": "user", "content": "x"}]
        header = _render(processor, probe, True)[len(_render(processor, probe, False)):]
        self.header = self.tokenizer(header, add_special_tokens=False)["input_ids"]
        self.end_id = self.tokenizer.eos_token_id
        self.max_length = max_length

    def assistant_mask(self, ids: list[int]) -> list[bool]:
        """True on tokens of assistant turns: after each header, up to the end token."""
        mask, inside, h = [False] * len(ids), False, len(self.header)
        for i, token in enumerate(ids):
            if inside:
                mask[i] = True
                inside = token != self.end_id
            elif i >= h - 1 and ids[i - h + 1 : i + 1] == self.header:
                inside = True
        return mask

    def encode(self, row: dict[str, Any]) -> dict[str, Any]:
        """input_ids, labels (−100 off the assistant turns) and image tensors of one chat."""
        messages = row["messages"]
        images = [load_image(i) for i in row.get("images") or []]
        if images and all(isinstance(m["content"], str) for m in messages):
            first = messages[0]  # plain-string chat with images: put them in the first turn
            parts = [{"type": "image"} for _ in images] + [{"type": "text",
                                                            "text": first["content"]}]
            messages = [{**first, "content": parts}, *messages[1:]]
        text = _render(self.processor, messages, False)
        if images:
            encoded = self.processor(text=[text], images=images, return_tensors="pt")
        else:
            encoded = self.tokenizer([text], return_tensors="pt", add_special_tokens=False)
        ids = encoded["input_ids"][0].tolist()
        labels = [t if m else IGNORE for t, m in zip(ids, self.assistant_mask(ids), strict=True)]
        if len(ids) > self.max_length and images:
            raise UserError(f"a chat with images is {len(ids)} tokens, over max_length "
                            f"{self.max_length} (image tokens cannot be truncated)")
        item = {"input_ids": ids[: self.max_length], "labels": labels[: self.max_length]}
        if TOKEN_TYPES in encoded:  # which tokens are image tokens: Qwen2.5-VL's 3-D positions
            item[TOKEN_TYPES] = encoded[TOKEN_TYPES][0].tolist()[: self.max_length]
        for key in IMAGE_TENSORS:
            if key in encoded:
                item[key] = encoded[key]
        return item


def collate(items: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch; image tensors concatenated in item order."""
    width = max(len(i["input_ids"]) for i in items)
    batch = {
        "input_ids": torch.tensor([i["input_ids"] + [pad_id] * (width - len(i["input_ids"]))
                                   for i in items]),
        "labels": torch.tensor([i["labels"] + [IGNORE] * (width - len(i["labels"]))
                                for i in items]),
        "attention_mask": torch.tensor([[1] * len(i["input_ids"])
                                        + [0] * (width - len(i["input_ids"])) for i in items]),
    }
    if any(TOKEN_TYPES in i for i in items):
        batch[TOKEN_TYPES] = torch.tensor([i.get(TOKEN_TYPES, [0] * len(i["input_ids"]))
                                           + [0] * (width - len(i["input_ids"])) for i in items])
    for key in IMAGE_TENSORS:
        parts = [i[key] for i in items if key in i]
        if parts:
            batch[key] = torch.cat(parts)
    return batch


def fill_by_tokens(order: list[int], lengths: list[int], budget: int) -> list[list[int]]:
    """Consecutive micro-batches of ``order`` whose padded size (rows × longest) fits
    ``budget`` tokens; a sequence longer than the budget is a micro-batch of its own."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        widest = max(longest, lengths[i])
        if current and widest * (len(current) + 1) > budget:
            batches.append(current)
            current, widest = [], lengths[i]
        current.append(i)
        longest = widest
    if current:
        batches.append(current)
    return batches


def batch_plan(lengths: list[int], batch_size: int, epochs: int, seed: int,
               grouping: str = "length", batch_tokens: int | None = None) -> list[list[int]]:
    """Micro-batches of indices for every epoch, fixed by ``seed`` (so resume can skip ahead).

    A micro-batch holds ``batch_size`` sequences, or with ``batch_tokens`` as many as fit that
    many padded tokens. ``length`` grouping sorts shuffled windows of about 50 micro-batches by
    length so a batch holds sequences of similar length (less padding); batch order is then
    shuffled.
    """
    mean = max(1, sum(lengths) // max(1, len(lengths)))
    per_batch = max(1, batch_tokens // mean) if batch_tokens else batch_size
    plan = []
    for epoch in range(epochs):
        rng = random.Random(seed * 1000 + epoch)
        order = list(range(len(lengths)))
        rng.shuffle(order)
        if grouping == "length":
            window = per_batch * 50
            order = [i for s in range(0, len(order), window)
                     for i in sorted(order[s : s + window], key=lambda i: -lengths[i])]
        if batch_tokens:
            batches = fill_by_tokens(order, lengths, batch_tokens)
        else:
            batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        rng.shuffle(batches)
        plan.extend(batches)
    return plan
