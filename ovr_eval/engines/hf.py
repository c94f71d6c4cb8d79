"""transformers ``generate`` engine: batched, for CPU and small models.

Sampling is exactly the requested one: ``generate`` would otherwise merge the checkpoint's
``generation_config.json`` (Qwen2.5-VL-7B-Instruct ships top_k=1, top_p=0.001,
repetition_penalty=1.05) and transformers' own defaults (top_k=50) into every call, so
"temperature 1, top-p 1" would be near-greedy and n samples near-identical. Every sampling
knob is passed explicitly and the checkpoint's config is set aside while generating (only its
stop and pad token ids are kept).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ovr_eval.engines.base import Engine, render_chat
from ovr_eval.engines.determinism import use_deterministic_torch
from ovr_eval.engines.images import UnusableImage, load_image
from ovr_eval.engines.options import HFOptions
from ovr_eval.types import Completion, Request, SamplingConfig


class HFEngine(Engine):
    """Left-padded batched generation with a transformers model (text or vision-language)."""

    name = "hf"

    def __init__(
        self, model: str, options: HFOptions | None = None, *, revision: str | None = None,
        device: str | None = None, loaded: tuple[Any, Any] | None = None,
    ):
        """Load ``model`` (hub id or folder), or generate with ``loaded`` = (model, processor)
        already in memory (``model`` is then only the name reported)."""
        o = options or HFOptions()
        self.model_name, self.revision, self.batch_size = model, revision, o.batch_size
        self.deterministic = o.deterministic
        if o.deterministic:
            use_deterministic_torch()
        if loaded is None:
            loaded = self._load(model, revision, o.dtype, device, o.trust_remote_code)
        self.use(*loaded)

    @staticmethod
    def _load(model: str, revision: str | None, dtype: str, device: str | None,
              trust_remote_code: bool) -> tuple[Any, Any]:
        import torch
        from transformers import AutoConfig, AutoProcessor, AutoTokenizer

        kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
        config = AutoConfig.from_pretrained(model, **kwargs)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
        loader: Any  # an Auto* model class (transformers types them apart)
        if getattr(config, "vision_config", None) is not None:
            from transformers import AutoModelForImageTextToText

            processor = AutoProcessor.from_pretrained(model, **kwargs)
            loader = AutoModelForImageTextToText
        else:
            from transformers import AutoModelForCausalLM

            processor = AutoTokenizer.from_pretrained(model, **kwargs)
            loader = AutoModelForCausalLM
        loaded = loader.from_pretrained(model, dtype=torch_dtype, **kwargs).to(device)
        return loaded.eval(), processor

    def use(self, model: Any, processor: Any) -> None:
        """Generate with this model and processor (or tokenizer), already loaded."""
        self.model, self.processor = model, processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.supports_images = processor is not self.tokenizer
        self.device = str(next(model.parameters()).device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "batch_size": self.batch_size, "device": self.device,
                "dtype": str(self.model.dtype),
                **({"deterministic": "one prompt at a time"} if self.deterministic else {})}

    def generate(
        self, requests: Sequence[Request], sampling: SamplingConfig
    ) -> Iterator[Completion]:
        import torch

        prompts = {r.sample_id: render_chat(self.processor, r) for r in requests}
        ordered = sorted(requests, key=lambda r: len(prompts[r.sample_id]))
        self.activity.running, self.activity.tokens = 0, 0
        eos_ids = self._eos_ids()
        eos_tensor = torch.tensor(sorted(eos_ids), dtype=torch.long, device=self.device)
        size = 1 if self.deterministic else self.batch_size  # alone: its own numbers, seed
        for start in range(0, len(ordered), size):
            batch, images = [], []
            for request in ordered[start : start + size]:
                try:
                    images += [load_image(i) for i in request.images]
                except UnusableImage as bad:
                    yield Completion(request.sample_id, [], prompt=prompts[request.sample_id],
                                     error=str(bad))
                    continue
                batch.append(request)
            if not batch:
                continue
            texts = [prompts[r.sample_id] for r in batch]
            if images:
                inputs = self.processor(text=texts, images=images, padding=True,
                                        return_tensors="pt")
            else:
                inputs = self.tokenizer(texts, padding=True, return_tensors="pt")
            inputs = inputs.to(self.device)
            self.activity.running = len(batch) * sampling.n
            if sampling.temperature > 0:
                torch.manual_seed(batch[0].seed)
            options = {**sampling_options(sampling, self.tokenizer.pad_token_id),
                       "stopping_criteria": [self._counter(eos_tensor)]}
            with torch.inference_mode(), checkpoint_defaults_set_aside(self.model):
                output = self.model.generate(**inputs, **options)
            new_tokens = output[:, inputs["input_ids"].shape[1] :].cpu()
            attention = inputs["attention_mask"].cpu()
            for i, request in enumerate(batch):
                responses, counts, reasons, ids = [], [], [], []
                for j in range(sampling.n):
                    tokens = new_tokens[i * sampling.n + j].tolist()
                    length, reason = len(tokens), "length"
                    for k, token in enumerate(tokens):
                        if token in eos_ids:
                            length, reason = k + 1, "stop"
                            break
                    text = self.tokenizer.decode(tokens[:length], skip_special_tokens=True)
                    responses.append(text)
                    counts.append(length)
                    reasons.append(reason)
                    ids.append(tokens[:length])
                yield Completion(
                    sample_id=request.sample_id, responses=responses, prompt=texts[i],
                    prompt_tokens=int(attention[i].sum()), completion_tokens=counts,
                    finish_reasons=reasons, token_ids=ids,
                )
        self.activity.running = 0

    def _counter(self, eos: Any) -> Any:
        """A stopping criterion that never stops: it counts generated tokens for progress,
        a sequence ending at its first token in ``eos`` (a tensor of stop ids on the model's
        device, built once per ``generate`` call)."""
        import torch
        from transformers import StoppingCriteria

        activity = self.activity

        class CountTokens(StoppingCriteria):
            def __init__(self) -> None:
                self.done: torch.Tensor | None = None

            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any
                         ) -> torch.Tensor:
                last = input_ids[:, -1]
                if self.done is None:
                    self.done = torch.zeros_like(last, dtype=torch.bool)
                activity.tokens += int((~self.done).sum())
                self.done |= torch.isin(last, eos)
                return torch.zeros_like(last, dtype=torch.bool)

        return CountTokens()

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def close(self) -> None:
        del self.model


def sampling_options(sampling: SamplingConfig, pad_token_id: int | None) -> dict[str, Any]:
    """``generate`` arguments for exactly ``sampling``: plain multinomial sampling from
    softmax(logits / temperature) restricted by top-p only (greedy at temperature 0); every
    other logits processor transformers knows (top-k, min-p, typical, epsilon/eta cutoffs,
    repetition and n-gram penalties) switched off by value."""
    sample = sampling.temperature > 0
    options: dict[str, Any] = {
        "max_new_tokens": sampling.max_tokens, "num_return_sequences": sampling.n,
        "pad_token_id": pad_token_id, "do_sample": sample, "num_beams": 1,
        "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0,
        "length_penalty": 1.0, "min_length": 0, "renormalize_logits": False,
    }
    if sample:
        options.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0,
                       typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0)
    else:
        options.update(temperature=None, top_p=None, top_k=None)
    return options


@contextmanager
def checkpoint_defaults_set_aside(model: Any) -> Iterator[None]:
    """Generate without the checkpoint's sampling defaults: ``generate`` fills every knob left
    unset from ``model.generation_config`` (min_p, suppress_tokens, sequence_bias, ... can only
    be switched off by leaving them unset), so it sees a config holding only the special token
    ids while this block runs. The model's own config (saved with checkpoints) is restored."""
    from transformers import GenerationConfig

    original = model.generation_config
    model.generation_config = GenerationConfig(
        eos_token_id=original.eos_token_id, pad_token_id=original.pad_token_id,
        bos_token_id=original.bos_token_id, decoder_start_token_id=getattr(
            original, "decoder_start_token_id", None))
    try:
        yield
    finally:
        model.generation_config = original
