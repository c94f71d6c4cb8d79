"""Which weights and which data a run used: fingerprints recorded in config.json, checked on
resume and by ``ovr compare``.

- A local checkpoint folder: SHA-256 over the files that decide what the model generates
  (config, weights, tokenizer, chat template, processor). Files up to 64 MiB are hashed whole;
  larger weight shards by their size, first and last MiB and 64 evenly spread 64 KiB probes, so
  a 7B checkpoint is fingerprinted by reading ~30 MB (benchmarks/fingerprint.py). Copying the
  folder keeps its fingerprint (no mtimes); retrained weights change every probe.
- A hub id (model or dataset): the revision resolved to a commit, from the hub (a few seconds
  at most, never blocking) or else from the local Hugging Face cache; unknown when neither
  answers.
- A local benchmark folder: SHA-256 over every file in it (relative path, size and content,
  large files sampled as above).
- A model behind an OpenAI-compatible server, or responses imported from another harness:
  unknown.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

from ovr_eval.types import UserError

WHOLE_FILE_BYTES = 64 << 20
EDGE_BYTES = 1 << 20
PROBES, PROBE_BYTES = 64, 64 << 10
HUB_TIMEOUT_S = 5.0
COMMIT = re.compile(r"[0-9a-f]{40}")
# weight formats in the order loaders prefer them: only the first present is used
WEIGHT_FORMATS = (("*.safetensors",), ("*.bin", "*.pt", "*.pth"), ("*.gguf",), ("*.msgpack",))
# everything else in the folder that changes what the model generates
SETUP_FILES = ("config.json", "generation_config.json", "*.index.json", "tokenizer*",
               "*.tiktoken", "vocab*", "merges.txt", "special_tokens_map.json",
               "added_tokens.json", "chat_template*", "preprocessor_config.json",
               "processor_config.json", "*.py")
NOT_WEIGHTS = ("training_args*", "optimizer*", "trainer_state*", "scheduler*", "rng_state*")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, whole up to 64 MiB, else of its size, edges and spread probes."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= WHOLE_FILE_BYTES:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
            return digest.hexdigest()
        digest.update(f"sampled:{size}".encode())
        step = (size - PROBE_BYTES) // (PROBES + 1)
        offsets = [0, *(step * (i + 1) for i in range(PROBES)), size - EDGE_BYTES]
        for offset in offsets:
            handle.seek(offset)
            digest.update(handle.read(EDGE_BYTES if offset in (0, size - EDGE_BYTES)
                                      else PROBE_BYTES))
    return digest.hexdigest()


def model_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(weight files, setup files) of a checkpoint folder, each sorted by name."""
    files = [p for p in folder.iterdir() if p.is_file() and not _matches(p.name, NOT_WEIGHTS)]
    weights: list[Path] = []
    for patterns in WEIGHT_FORMATS:
        weights = sorted(p for p in files if _matches(p.name, patterns))
        if weights:
            break
    setup = sorted(p for p in files if p not in weights and _matches(p.name, SETUP_FILES))
    return weights, setup


def local_fingerprint(folder: Path) -> dict[str, Any]:
    """The fingerprint of a local checkpoint folder; UserError when it holds no weights."""
    folder = folder.expanduser().resolve()
    weights, setup = model_files(folder)
    if not weights:
        formats = ", ".join(p for group in WEIGHT_FORMATS for p in group)
        raise UserError(f"{folder} holds no weight files ({formats}): not a checkpoint folder")
    entries = [[p.name, p.stat().st_size, file_digest(p)] for p in [*setup, *weights]]
    overall = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return {"kind": "local", "id": f"sha256:{overall}", "path": str(folder),
            "weight_files": len(weights), "weight_bytes": sum(p.stat().st_size for p in weights)}


def folder_fingerprint(folder: Path) -> dict[str, Any]:
    """The fingerprint of a local data folder: every file under it, by relative path, size and
    content (large files sampled); ``id`` None when the folder does not exist."""
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        return {"kind": "local", "id": None, "path": str(folder)}
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    entries = [[str(p.relative_to(folder)), p.stat().st_size, file_digest(p)] for p in files]
    overall = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return {"kind": "local", "id": f"sha256:{overall}", "path": str(folder),
            "files": len(files), "bytes": sum(e[1] for e in entries)}


def cached_commit(repo_id: str, revision: str, repo_type: str = "model") -> str | None:
    """The commit a revision (branch or tag) pointed to when the repository was downloaded."""
    from huggingface_hub.constants import HF_HUB_CACHE

    ref = (Path(HF_HUB_CACHE) / f"{repo_type}s--{repo_id.replace('/', '--')}" / "refs"
           / revision)
    try:
        commit = ref.read_text().strip()
    except OSError:
        return None
    return commit if COMMIT.fullmatch(commit) else None


def hub_commit(repo_id: str, revision: str, timeout_s: float = HUB_TIMEOUT_S,
               repo_type: str = "model") -> str | None:
    """The commit the hub resolves ``revision`` to; None when the hub does not answer in time.
    A repository or revision the hub does not know is a UserError."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    answer: dict[str, Any] = {}

    def ask() -> None:
        try:
            answer["sha"] = HfApi().repo_info(repo_id, revision=revision, repo_type=repo_type,
                                              timeout=timeout_s).sha
        except GatedRepoError:
            answer["sha"] = None  # gated: the engine's own download reports the access error
        except RevisionNotFoundError:
            answer["error"] = f"{repo_type} {repo_id} has no revision {revision!r} on the hub"
        except RepositoryNotFoundError:
            answer["error"] = (f"{repo_type} {repo_id} not found on the Hugging Face hub (a "
                               f"private {repo_type} needs HF_TOKEN; a local folder needs a path "
                               "that exists)")
        except Exception:  # offline, DNS, timeout, proxy: unknown, never fatal
            answer["sha"] = None

    thread = threading.Thread(target=ask, name="ovr-hub-revision", daemon=True)
    thread.start()
    thread.join(timeout_s + 1.0)  # a hanging DNS lookup is left behind, not waited for
    if "error" in answer:
        raise UserError(answer["error"])
    sha = answer.get("sha")
    return sha if isinstance(sha, str) and COMMIT.fullmatch(sha) else None


def hub_fingerprint(repo_id: str, revision: str | None, repo_type: str = "model"
                    ) -> dict[str, Any]:
    """A hub repository's revision resolved to a commit, as far as it can be known right now."""
    from huggingface_hub.constants import HF_HUB_OFFLINE

    wanted = revision or "main"
    commit, source = None, None
    if COMMIT.fullmatch(wanted):
        commit, source = wanted, "given"
    else:
        if not HF_HUB_OFFLINE:
            commit, source = hub_commit(repo_id, wanted, repo_type=repo_type), "hub"
        if commit is None:
            commit, source = cached_commit(repo_id, wanted, repo_type), "cache"
    return {"kind": "hub", "id": f"hub:{repo_id}@{commit}" if commit else None,
            "repo": repo_id, "revision": wanted, "commit": commit,
            "resolved_by": source if commit else None}


def is_local(model: str) -> bool:
    """Whether ``model`` names a local folder rather than a hub id such as org/name."""
    path = Path(model).expanduser()
    return model.startswith(("/", ".", "~")) or path.exists() or model.count("/") != 1


def weights_fingerprint(model: str, revision: str | None, engine: str) -> dict[str, Any]:
    """The fingerprint recorded in config.json under "weights": unknown for weights this
    process does not load (an OpenAI-compatible server, responses imported from elsewhere)."""
    if engine not in ("vllm", "hf"):
        return {"kind": "external", "id": None, "model": model, "engine": engine}
    if is_local(model):
        return local_fingerprint(Path(model))
    return hub_fingerprint(model, revision)


def describe(fingerprint: dict[str, Any] | None, what: str = "weights") -> str:
    """A fingerprint in a few words, for messages."""
    if not fingerprint or not fingerprint.get("id"):
        return f"unknown {what}"
    if fingerprint.get("kind") == "hub":
        return f"{fingerprint['repo']} at commit {fingerprint['commit'][:12]}"
    if fingerprint.get("kind") == "local" and "weight_bytes" not in fingerprint:
        return (f"{fingerprint['id'][:19]} ({fingerprint.get('files')} files in "
                f"{fingerprint.get('path')})")
    size = fingerprint.get("weight_bytes", 0) / 1e9
    return f"{fingerprint['id'][:19]} ({size:.2f} GB of weights in {fingerprint.get('path')})"
