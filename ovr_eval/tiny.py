"""Build a tiny, randomly initialised Qwen2.5-VL model with the real Qwen tokenizer.

It has the exact architecture and tokenizer of Qwen2.5-VL (so every code path a real checkpoint
takes is exercised) at ~20 M parameters, which runs on a CPU in seconds. Its weights are random:
it scores ~0 on every benchmark. Used by ``ovr eval`` with no model, and by the tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

EMBEDDED = Path(__file__).parent / "embedded"
# the splits the benchmark slices in EMBEDDED / "data" are taken from (the others: default)
EMBEDDED_SPLITS = {"mathvision": "testmini", "mathverse": "testmini_text_only"}
TOKENIZER_SOURCE = EMBEDDED / "qwen_tokenizer"
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
VOCAB_SIZE = 151_936  # Qwen2.5 embedding rows (padded past the 151,665 tokens)
INIT_STD = 0.2  # larger than the usual 0.02 so outputs depend on the prompt and the image


def default_model_dir() -> Path:
    """Where ``ovr eval`` with no model keeps the tiny model ($OVR_CACHE_DIR or ~/.cache)."""
    cache = os.environ.get("OVR_CACHE_DIR") or Path.home() / ".cache" / "ovr-eval"
    return Path(cache) / "models" / "tiny-qwen2_5_vl"


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes, strict=True)}


def _merge_for(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The last BPE merge that produces ``token``: replay BPE with ranks below the token's."""
    limit = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best, best_rank = None, None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < limit and (best_rank is None or rank < best_rank):
                best, best_rank = i, rank
        if best is None:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return parts[0], b"".join(parts[1:])


def build_tokenizer(tiktoken_file: Path, chat_template: str, ranks_kept: int | None = None):
    """A transformers fast tokenizer equal to Qwen2.5's, from its BPE rank table.

    ``ranks_kept``: keep only the first N BPE tokens (at least the 256 single bytes) and the
    merges between them, special tokens right after: the same text and chat template in a
    small vocabulary (more tokens per text, a far cheaper output layer).
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
    )
    from transformers import PreTrainedTokenizerFast

    ranks: dict[bytes, int] = {}
    for line in tiktoken_file.read_text().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if ranks_kept is not None:
        ranks = {tok: rank for tok, rank in ranks.items() if rank < max(256, ranks_kept)}
    to_unicode = _byte_to_unicode()

    def text(b: bytes) -> str:
        return "".join(to_unicode[x] for x in b)

    vocab = {text(tok): rank for tok, rank in ranks.items()}
    ordered = sorted((r, t) for t, r in ranks.items() if len(t) > 1)
    merges = [(text(a), text(b)) for a, b in (_merge_for(t, ranks) for _, t in ordered)]
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=False))
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    core.decoder = decoders.ByteLevel()
    # added tokens take ids 151643... (len(ranks)...) in Qwen's order: the special ones, then
    # the others
    core.add_special_tokens([AddedToken(t, special=True, normalized=False)
                             for t, s in SPECIAL_TOKENS if s])
    core.add_tokens([AddedToken(t, special=False, normalized=False)
                     for t, s in SPECIAL_TOKENS if not s])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=131072, chat_template=chat_template,
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [t for t, s in SPECIAL_TOKENS if s and t != "<|endoftext|>"]}
    )
    return tokenizer


def build_tiny_qwen2_5_vl(out_dir: Path, seed: int = 0, force: bool = False,
                          init_std: float = INIT_STD, hidden_size: int = 128,
                          layers: int = 2, vocab: int | None = None) -> Path:
    """Write a tiny random Qwen2.5-VL checkpoint (HF format, with processor) to ``out_dir``.

    ``init_std``: the weights' normal init; the default makes outputs depend visibly on the
    prompt and image (engine tests); 0.02, the usual initializer range, trains better.
    ``hidden_size`` (a multiple of 64: heads of 64) and ``layers`` size the language model;
    the vision tower stays the same. ``vocab``: keep only the first N of Qwen's BPE tokens
    (see :func:`build_tokenizer`; None: all of them, 151,936 embedding rows).
    """
    if hidden_size % 64 or hidden_size <= 0 or layers <= 0:
        raise ValueError(f"hidden_size {hidden_size} must be a positive multiple of 64 and "
                         f"layers {layers} positive")
    out_dir = Path(out_dir)
    if (out_dir / "config.json").is_file() and not force:
        return out_dir
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    template = (TOKENIZER_SOURCE / "chat_template.jinja").read_text()
    tokenizer = build_tokenizer(TOKENIZER_SOURCE / "qwen.tiktoken", template, vocab)
    rows = VOCAB_SIZE if vocab is None else -(-len(tokenizer) // 64) * 64
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t, _ in SPECIAL_TOKENS}
    torch.manual_seed(seed)
    text = dict(
        vocab_size=rows, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=hidden_size // 64, num_key_value_heads=1,
        max_position_embeddings=32768, rms_norm_eps=1e-6, bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [8, 12, 12]},
    )
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2, hidden_size=128, intermediate_size=256, num_heads=2,
            out_hidden_size=hidden_size,
            patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
            fullatt_block_indexes=[1], tokens_per_second=2,
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0.0, init_std)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(tmp)  # type: ignore[arg-type]  # nn.Module.to
    tokenizer.save_pretrained(tmp)
    _write_processor_files(tmp, template)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)  # appears complete or not at all
    return out_dir


def _write_processor_files(folder: Path, chat_template: str) -> None:
    """Qwen2.5-VL processor settings, written directly (building them needs no torchvision)."""
    min_pixels, max_pixels = 4 * 28 * 28, 256 * 28 * 28
    image = {
        "min_pixels": min_pixels, "max_pixels": max_pixels,
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
        "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "do_convert_rgb": True, "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
    }
    video = {k: v for k, v in image.items() if k != "image_processor_type"}
    video.update(video_processor_type="Qwen2VLVideoProcessor", fps=2.0, min_frames=4,
                 max_frames=16, do_sample_frames=False)
    files = {
        "preprocessor_config.json": image, "video_preprocessor_config.json": video,
        "chat_template.json": {"chat_template": chat_template},
        "processor_config.json": {"processor_class": "Qwen2_5_VLProcessor"},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2))
