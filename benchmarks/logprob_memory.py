"""Peak host memory of scoring long responses: log-probs + entropy + backward through the
vocabulary projection, all logits at once vs ``ovr train``'s chunks (algos.logprobs_from_hidden),
and of a policy forward/backward with and without gradient checkpointing.

Each case runs in a fresh process; the number is its peak RSS above the RSS just before the
scored operation (inputs and weights already allocated), so it is what the operation adds.
- ``head``: hidden states [1, T, 896] (Qwen2.5-0.5B's width) and Qwen2.5's 151,936-token
  vocabulary, T = 512 … 2048, float32: full = ``log_softmax(hidden @ W.T)``, chunked =
  ``--chunk`` positions at a time (``rl.logprob_chunk``) with recomputation in the backward
  pass. A chunk costs about 5 × chunk × vocabulary × 4 bytes whatever T is.
- ``trunk``: a randomly initialised Qwen2 language model (8 layers, width 512, Qwen2.5's
  vocabulary) on one 4,096-token sequence, ovr train's scoring + backward with and without
  ``model.gradient_checkpointing``.

Usage: python benchmarks/logprob_memory.py [--lengths 512,1024,2048] [--chunk 256]
Prints a table and writes benchmarks/results/logprob_memory.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "logprob_memory.json"
VOCAB, WIDTH = 151_936, 896

HEAD = """
import json, resource, sys, time
import torch
from ovr_trainer.algos import logprobs_from_hidden
mode, length, vocab, width, chunk = sys.argv[1], *map(int, sys.argv[2:6])
torch.manual_seed(0)
layer = torch.nn.Linear(width, vocab, bias=False)
hidden = torch.randn(1, length, width, requires_grad=True)
tokens = torch.randint(0, vocab, (1, length))
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss()
began = time.monotonic()
if mode == "full":
    logp = torch.log_softmax(layer(hidden).float(), dim=-1)
    chosen = logp.gather(-1, tokens[..., None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
else:
    chosen, entropy = logprobs_from_hidden(hidden, layer, tokens, chunk=chunk, with_entropy=True)
(chosen.sum() + 0 * entropy.sum()).backward()
print(json.dumps({"peak_extra_bytes": rss() - base, "seconds": time.monotonic() - began}))
"""

TRUNK = """
import json, resource, sys, time
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM
from ovr_trainer.modeling import enable_gradient_checkpointing
from ovr_trainer.rl import Batch, score
checkpointed, length = sys.argv[1] == "1", int(sys.argv[2])
torch.manual_seed(0)
model = Qwen2ForCausalLM(Qwen2Config(
    vocab_size=151936, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
    num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=32768,
    tie_word_embeddings=True, attn_implementation="sdpa"))
model.train()
if checkpointed:
    enable_gradient_checkpointing(model)
torch.manual_seed(0)
ids = torch.randint(0, 150_000, (1, length))
prompt = length // 8
batch = Batch({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, prompt:],
              torch.ones(1, length - prompt), prompt - 1)
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss()
began = time.monotonic()
score(model, batch, chunk=256).logprobs.sum().backward()
print(json.dumps({"peak_extra_bytes": rss() - base, "seconds": time.monotonic() - began}))
"""


def run(code: str, *args: object) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                         text=True, cwd=REPO, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", default="512,1024,2048")
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--trunk-length", type=int, default=4096)
    args = parser.parse_args()
    chunk = args.chunk
    lengths = [int(x) for x in args.lengths.split(",")]
    console = Console()
    head = {}
    for length in lengths:
        for mode in ("full", "chunked"):
            head[f"{mode}@{length}"] = run(HEAD, mode, length, VOCAB, WIDTH, chunk)
            console.print(f"head {mode} T={length}: {head[f'{mode}@{length}']}")
    trunk = {("checkpointed" if flag else "plain"): run(TRUNK, int(flag), args.trunk_length)
             for flag in (False, True)}
    gib = 1 << 30
    table = Table(title=f"Extra peak RSS of log-probs + entropy + backward (vocab {VOCAB:,}, "
                        f"width {WIDTH}, float32)")
    for column in ("tokens", "all logits (GiB)", f"chunks of {chunk} (GiB)", "ratio",
                   "full s", "chunked s"):
        table.add_column(column, justify="right")
    for length in lengths:
        full, chunked = head[f"full@{length}"], head[f"chunked@{length}"]
        table.add_row(str(length), f"{full['peak_extra_bytes'] / gib:.2f}",
                      f"{chunked['peak_extra_bytes'] / gib:.2f}",
                      f"{full['peak_extra_bytes'] / max(chunked['peak_extra_bytes'], 1):.1f}×",
                      f"{full['seconds']:.1f}", f"{chunked['seconds']:.1f}")
    console.print(table)
    console.print(f"Qwen2 8 layers × 512, {args.trunk_length} tokens, score + backward: "
                  + ", ".join(f"{k} {v['peak_extra_bytes'] / gib:.2f} GiB in {v['seconds']:.1f} s"
                              for k, v in trunk.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": f"{platform.machine()} CPU", "vocab": VOCAB, "width": WIDTH, "chunk": chunk,
        "head": head, "trunk_tokens": args.trunk_length, "trunk": trunk,
        "note": "peak RSS above the RSS before the operation, fresh process per case",
    }, indent=2) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
