"""Evaluate many checkpoints on one engine: ``ovr eval --model A,B``, a glob, ``ovr sweep RUN``.

Each checkpoint gets an ordinary run folder ``OUT/<checkpoint name>`` (its own lock, resume
and weights fingerprint). One engine serves them all: it starts on the first checkpoint that
has work left, and each later checkpoint's weights are pushed into it
(:mod:`ovr_eval.engines.weight_push`, the trainer's checked path: the log-prob gap between
the checkpoint loaded by transformers and the engine is probed after each push). A checkpoint
of another architecture (config.json or tokenizer files differ) gets a new engine, said in
one line. ``OUT/sweep.json`` lists the checkpoints, their folders and scores.
"""

from __future__ import annotations

import gc
import glob
import hashlib
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from ovr_eval.engines import Engine, EngineOptions, create_engine
from ovr_eval.records import RunResults
from ovr_eval.run_files import write_json_atomic
from ovr_eval.types import Completion, Request, SamplingConfig, UserError

STEP = re.compile(r"step-(\d+)$")
NOT_ARCHITECTURE = ("_name_or_path", "transformers_version", "_commit_hash")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                   "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
                   "chat_template.json", "preprocessor_config.json")
PROBE = ("What is 7 times 6?", "7 times 6 is 42, so the answer is \\boxed{42}.")
SWEEP_FILE = "sweep.json"


# --- which checkpoints ----------------------------------------------------------------------

def _step_key(path: Path) -> tuple[int, str]:
    match = STEP.search(path.name)
    return (int(match.group(1)) if match else -1, str(path))


def checkpoint_list(spec: str) -> list[Path] | None:
    """The checkpoint folders a ``--model`` value names for a sweep, or None for one model.

    A sweep is a comma-separated list, a glob (matches in step order), or a training run
    folder (its ``checkpoints/step-*``). Unfinished ``step-N.tmp`` folders are left out."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if len(parts) == 1 and not glob.has_magic(parts[0]):
        path = Path(parts[0]).expanduser()
        if (path / "config.json").is_file() or not (path / "checkpoints").is_dir():
            return None  # one model (or a mistake check_model names)
        parts = [str(path / "checkpoints" / "step-*")]
    found: list[Path] = []
    for part in parts:
        if not glob.has_magic(part):
            found.append(Path(part).expanduser())
            continue
        matches = sorted((Path(p) for p in glob.glob(str(Path(part).expanduser()))
                          if (Path(p) / "config.json").is_file()), key=_step_key)
        if not matches:
            raise UserError(f"--model {part!r} matches no checkpoint folder (one holding "
                            "config.json)")
        found += matches
    found = list(dict.fromkeys(found))
    names = [p.name for p in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"two checkpoints are named {twice[0]}: each gets the run folder "
                        "OUT/<its name>; evaluate them in separate sweeps (--out)")
    return found


def default_out(spec: str, checkpoints: Sequence[Path]) -> Path:
    """RUN/sweep for a training run folder, else runs/sweep-<the first checkpoint's parent>."""
    path = Path(spec).expanduser()
    if "," not in spec and not glob.has_magic(spec) and (path / "checkpoints").is_dir():
        return path / "sweep"
    return Path("runs") / f"sweep-{checkpoints[0].resolve().parent.name}"


# --- architecture ---------------------------------------------------------------------------

def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in NOT_ARCHITECTURE:
                out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def architecture(folder: Path) -> dict[str, Any]:
    """What one engine needs to be the same to serve a checkpoint: its config.json (paths and
    versions left out, dtype kept), flattened, and a hash of its tokenizer and processor files."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder / 'config.json'} cannot be read ({exc})") from None
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return {**_flatten(config), "tokenizer files": digest.hexdigest()[:16]}


def architecture_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old → new`` for each difference."""
    return [f"{k}: {old.get(k, 'none')} → {new.get(k, 'none')}"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


# --- loading a checkpoint into a running engine ---------------------------------------------

def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def push_checkpoint(engine: Engine, checkpoint: Path, trust_remote_code: bool = False
                    ) -> dict[str, Any]:
    """Load ``checkpoint``'s weights into a running hf or vllm engine; what it took.

    hf: the engine generates with the newly loaded model (its processor too). vllm: the model
    is loaded by transformers on the CPU, pushed with ``reload_weights`` and the engine's
    log-probs on a text probe compared with transformers'; a gap above the dtype's tolerance
    is stale weights (RuntimeError)."""
    from ovr_eval.engines.hf import HFEngine

    began = time.monotonic()
    if isinstance(engine, HFEngine):
        dtype = _dtype_name(engine.model.dtype)
        old = engine.model
        engine.model = None
        del old
        gc.collect()
        engine.use(*HFEngine._load(str(checkpoint), None, dtype, engine.device,
                                   trust_remote_code))
        return {"loaded_by": "push", "load_s": round(time.monotonic() - began, 3)}
    from ovr_eval.engines.vllm_engine import VLLMEngine

    if not isinstance(engine, VLLMEngine):
        raise TypeError(f"engine {engine.name} cannot take pushed weights")
    return _push_vllm(engine, checkpoint, began, trust_remote_code)


def _push_vllm(engine: Any, checkpoint: Path, began: float, trust_remote_code: bool
               ) -> dict[str, Any]:
    from ovr_eval.engines.base import render_chat
    from ovr_eval.engines.hf import HFEngine
    from ovr_eval.engines.weight_push import push_to_vllm, sync_tolerance, text_gap

    dtype = engine.engine.model_config.dtype
    model, processor = HFEngine._load(str(checkpoint), None, _dtype_name(dtype), "cpu",
                                      trust_remote_code)
    loaded = time.monotonic()
    try:
        push_s = push_to_vllm(engine, model, dtype=dtype)
        tokenizer = getattr(processor, "tokenizer", processor)
        question, answer = PROBE
        prompt = render_chat(engine.chat_template_owner, Request("sweep-probe", [
            {"role": "user", "content": [{"type": "text", "text": question}]}]))
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = [*tokenizer(answer, add_special_tokens=False)["input_ids"],
                        tokenizer.eos_token_id]
        gap, worst = text_gap(engine, model, prompt_ids, response_ids)
    finally:
        del model
        gc.collect()
    tolerance = sync_tolerance(dtype)
    if gap > tolerance:
        raise RuntimeError(f"vLLM serves stale weights after pushing {checkpoint}: mean "
                           f"|log-prob gap| {gap:.3g} (max {worst:.3g}) to transformers on a "
                           f"probe, tolerance {tolerance:g} for {_dtype_name(dtype)}")
    return {"loaded_by": "push", "load_s": round(loaded - began, 3), "push_s": round(push_s, 3),
            "logprob_gap": gap, "logprob_gap_max": worst, "tolerance": tolerance}


class SweepEngine(Engine):
    """One engine over a sweep's checkpoints: :meth:`select` names the next one, and
    :meth:`prepare` (``Evaluation`` calls it before generating) starts the engine or pushes
    the checkpoint into it, so a checkpoint that is already evaluated loads nothing."""

    def __init__(self, engine: str, options: EngineOptions, seed: int = 0,
                 console: Console | None = None):
        self.name, self.options, self.seed = engine, options, seed
        self.console = console or Console(stderr=True)
        self.inner: Engine | None = None
        self.wanted: Path | None = None
        self.loaded: Path | None = None
        self.shape: dict[str, Any] = {}
        self.max_images = 0
        self.load_info: dict[str, Any] = {}
        self.starts = 0

    def select(self, checkpoint: Path) -> None:
        self.wanted = checkpoint

    def prepare(self, max_images_per_prompt: int = 1) -> None:
        assert self.wanted is not None, "select() a checkpoint first"
        if self.inner is not None and self.loaded == self.wanted:
            return
        shape = architecture(self.wanted)
        if self.inner is not None:
            changes = architecture_changes(self.shape, shape)
            if max_images_per_prompt > self.max_images:
                changes.append(f"images per prompt: {self.max_images} → "
                               f"{max_images_per_prompt}")
            if changes:
                assert self.loaded is not None
                more = f"; {len(changes) - 2} more" if len(changes) > 2 else ""
                self.console.print(f"{self.wanted.name}: architecture differs from "
                                   f"{self.loaded.name} ({'; '.join(changes[:2])}{more}): "
                                   f"starting a new {self.name} engine", highlight=False)
                self.close()
        if self.inner is None:
            began = time.monotonic()
            self.inner = create_engine(self.name, str(self.wanted), self.options,
                                       seed=self.seed,
                                       max_images_per_prompt=max_images_per_prompt)
            self.starts += 1
            self.max_images = max_images_per_prompt
            self.load_info = {"loaded_by": "engine start",
                         "load_s": round(time.monotonic() - began, 3)}
        else:
            trust = bool(getattr(self.options, "trust_remote_code", False))
            self.load_info = push_checkpoint(self.inner, self.wanted, trust)
        self.loaded, self.shape = self.wanted, shape
        self.supports_images = self.inner.supports_images
        self.activity = self.inner.activity

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig
                 ) -> Iterator[Completion]:
        self.prepare()
        assert self.inner is not None
        yield from self.inner.generate(requests, sampling)

    def describe(self) -> dict[str, Any]:
        inner = self.inner.describe() if self.inner is not None else {"engine": self.name}
        return {**inner, "sweep": {"checkpoint": str(self.loaded), "engine_starts": self.starts,
                                   **self.load_info}}

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
        self.inner, self.loaded, self.shape = None, None, {}
        gc.collect()


# --- the sweep ------------------------------------------------------------------------------

def run_sweep(options: Any, checkpoints: Sequence[Path], console: Console
              ) -> list[tuple[Path, RunResults]]:
    """Evaluate ``checkpoints`` with ``options`` (an ``EvalOptions``; ``out`` is the sweep
    folder) on one engine; (checkpoint, results) in order. Every checkpoint's cheap checks run
    before any engine starts; each run folder resumes on its own."""
    from ovr_eval.evaluate import Evaluation, validate

    if options.engine not in ("vllm", "hf"):
        raise UserError(f"a sweep loads checkpoints into a local engine: use --engine vllm or "
                        f"hf, not {options.engine}")
    if options.shard is not None:
        raise UserError("a sweep runs on one engine: --data-parallel is not supported with "
                        "several checkpoints")
    root = Path(options.out)
    plans = [replace(options, model=str(c), out=root / c.name) for c in checkpoints]
    for plan in plans:
        validate(plan)  # engine, dtype, and every checkpoint folder
    engine = SweepEngine(options.engine, options.engine_options, options.sampling.seed,
                         console)
    evaluations = [Evaluation(plan, console, engine=engine) for plan in plans]
    done: list[tuple[Path, RunResults]] = []
    try:
        for i, (checkpoint, evaluation) in enumerate(zip(checkpoints, evaluations, strict=True), 1):
            console.print(f"[bold]{checkpoint.name}[/] ({i}/{len(checkpoints)}): "
                          f"{evaluation.run_dir.path}", highlight=False)
            engine.select(checkpoint)
            done.append((checkpoint, evaluation.run()))
            write_sweep_file(root, done, len(checkpoints))
    finally:
        engine.close()
    return done


def write_sweep_file(root: Path, done: Sequence[tuple[Path, RunResults]], total: int) -> None:
    """OUT/sweep.json: each evaluated checkpoint, its step, run folder and task scores."""
    rows = [{"checkpoint": str(c), "step": _step_key(c)[0] if STEP.search(c.name) else None,
             "run": c.name, "scores": {t: r.score for t, r in results.tasks.items()}}
            for c, results in done]
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / SWEEP_FILE, {"checkpoints": rows, "complete": len(rows) == total,
                                          "written": datetime.now(timezone.utc).isoformat()})


def sweep_runs(folder: Path) -> list[Path] | None:
    """The run folders of a sweep folder (one holding sweep.json) in checkpoint order, or None
    when ``folder`` is not one."""
    path = Path(folder) / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["checkpoints"]
        return [Path(folder) / row["run"] for row in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not a sweep summary ({exc})") from None
