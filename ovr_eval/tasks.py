"""Task plugins: the base class and the registry that discovers them.

A task plugin is a Python module that defines a module-level ``TASK`` (a ``Task`` instance)
or ``TASKS`` (several). Plugins are found in this project's ``tasks/`` folder (installed as the
``ovr_tasks`` package), in folders the user names (``--task-dir``), and in other installed
packages through the ``ovr_eval.tasks`` entry-point group (each entry point names a ``Task``
object or a list of them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovr_eval.judge_protocols import Protocol
from ovr_eval.metrics import TaskScores
from ovr_eval.records import Record
from ovr_eval.types import BadRow, Sample, UserError

DATA_DIR_ENV = "OVR_DATA_DIR"
DEFAULT_TASKS = ("math500", "mathvision", "mathverse")  # what `ovr eval` evaluates by default


def resolve_data_dir(data_dir: Path | None) -> Path | None:
    """The local data folder a run reads: ``data_dir``, else ``$OVR_DATA_DIR``, else None (the
    hub); a clear error when it is not a directory."""
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir = Path(os.environ[DATA_DIR_ENV])
    if data_dir is None:
        return None
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir} is not a directory")
    return data_dir


@dataclass
class Task:
    """One benchmark: where its data lives, how a row becomes a Sample, how it is scored.

    Subclasses override ``row_to_sample`` (hub rows) and, where the benchmark's own release
    format differs from the hub's, ``local_rows``. Bump ``version`` whenever a change to the
    task's prompt, parsing or metric changes what its scores mean: runs record it, and
    ``ovr compare`` warns when two runs scored a task at different versions.
    """

    name: str
    description: str
    hub_id: str
    revision: str | None  # hub commit; None = the hub's current head
    default_split: str
    splits: tuple[str, ...]
    hub_config: str | None = None
    modality: str = "text"  # "text" or "image"
    subset_keys: tuple[str, ...] = ()  # metadata keys reported as per-subset scores
    summary_subsets: tuple[str, ...] = ()  # of those, the ones `ovr eval`'s table lists
    # the sampling behind the paper's number where it differs from the preset's default
    # (`--preset ovr`; e.g. presets.ORZ_AVG16)
    paper_sampling: Mapping[str, float | int] = field(default_factory=dict)
    default_prompt: str = "reasoning"
    judge: Protocol | None = None  # the official judge protocol, when the official metric asks
    # a language model (MathVista, MathVerse, LogicVista); None: rule-based
    version: int = 1  # bumped when the prompt, parsing or metric changes a score's meaning
    # the hub repository's parquet files of one split, "{config}/{split}-*.parquet" (None: the
    # layout is unknown, and ``datasets`` downloads every split of the config)
    hub_files: str | None = None

    # -- data ---------------------------------------------------------------------------
    def hub_config_for(self, split: str) -> str | None:
        """The hub config name that holds ``split`` (most tasks have one config)."""
        return self.hub_config

    def hub_data_files(self, split: str) -> dict[str, str] | None:
        """``data_files`` for ``datasets.load_dataset`` that name only ``split``'s parquet files
        (``hub_files``), so a run does not download the config's other splits (MMMU's 3.3 GB
        test split, MMLU's auxiliary_train); None where the layout is unknown."""
        if self.hub_files is None:
            return None
        hub_split = self.hub_split_for(split)
        return {hub_split: self.hub_files.format(config=self.hub_config_for(split) or "",
                                                 split=hub_split)}

    def hub_rows(self, split: str) -> Iterable[dict[str, Any]]:
        """Rows from the HF hub at the pinned revision, only the split's own files where the
        layout is known (``hub_data_files``; the whole config if they are not found); offline
        (``ovr_eval.hub``), from the local cache only, so a missing dataset fails at once
        instead of after ~26 s of retries."""
        from contextlib import nullcontext

        import datasets
        from datasets.exceptions import DatasetNotFoundError

        from ovr_eval.hub import Gated, NotCached, access_denied, cache_only, offline_reason

        offline = offline_reason()
        files = self.hub_data_files(split)

        def load(data_files: dict[str, str] | None) -> Any:
            extra = {"data_files": data_files} if data_files else {}
            return datasets.load_dataset(
                self.hub_id, self.hub_config_for(split), split=self.hub_split_for(split),
                revision=self.revision, **extra,
            )

        try:
            with cache_only() if offline is not None else nullcontext():
                try:
                    return load(files)
                except Exception as exc:
                    # the whole config instead: the layout changed (no such files), or,
                    # offline, the cache holds it from a run that loaded it whole
                    moved = isinstance(exc, FileNotFoundError) and not isinstance(
                        exc, DatasetNotFoundError)
                    if files is None or access_denied(exc) is not None or not (
                            moved or offline is not None):
                        raise
                    return load(None)
        except Exception as exc:  # network, auth, missing split
            status = access_denied(exc)
            if status is not None:  # gated: no token, or the terms not accepted
                raise Gated(self.hub_id, status) from exc
            if offline is not None:
                raise NotCached(offline, f"{self.hub_id}, split {split}", "point --data-dir "
                                f"(or ${DATA_DIR_ENV}) at local files") from exc
            raise UserError(
                f"could not load {self.hub_id} (split {split!r}) from the Hugging Face hub: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
                f"Offline? Point --data-dir (or ${DATA_DIR_ENV}) at local files."
            ) from exc

    def hub_split_for(self, split: str) -> str:
        """The hub split name for one of our split names."""
        return split

    def local_dir(self, data_dir: Path) -> Path:
        """This task's folder inside a data directory (``<data_dir>/<task name>``)."""
        return data_dir / self.name

    def local_rows(self, data_dir: Path, split: str) -> Iterable[dict[str, Any] | BadRow]:
        """Rows from local files: ``<split>.jsonl`` / ``<split>.json`` (the benchmark's own
        release format) or the hub's parquet export (``<split>*.parquet``); a row that cannot
        be read comes out as a BadRow."""
        folder = self.local_dir(data_dir)
        for suffix in (".jsonl", ".json"):
            if (folder / f"{split}{suffix}").is_file():
                return read_json_rows(folder / f"{split}{suffix}")
        parquet = sorted(folder.glob(f"{split}*.parquet")) + sorted(
            folder.glob(f"{split}/*.parquet")
        )
        if not parquet:
            raise self._missing_split(folder, split, f"{split}.jsonl, {split}.json or "
                                      f"{split}*.parquet")
        return read_parquet(parquet)

    def _missing_split(self, folder: Path, split: str, expected: str) -> UserError:
        return UserError(
            f"no {self.name} split {split!r} under {folder} (expected {expected}); "
            f"splits of {self.name}: {', '.join(self.splits)}"
        )

    def data_fingerprint(self, split: str, data_dir: Path | None) -> dict[str, Any]:
        """Which data a run of ``split`` reads (``ovr_eval.fingerprint``): a content hash of
        the task's local folder, or the hub dataset's revision resolved to a commit."""
        from ovr_eval.fingerprint import folder_fingerprint, hub_fingerprint

        folder = resolve_data_dir(data_dir)
        if folder is not None:
            return folder_fingerprint(self.local_dir(folder))
        return hub_fingerprint(self.hub_id, self.revision, repo_type="dataset")

    def row_to_sample(self, row: dict[str, Any], index: int, base_dir: Path | None) -> Sample:
        """Turn one dataset row into a Sample; raise BadRow for a row that cannot be used."""
        raise NotImplementedError

    def score(self, records: list[Record]) -> TaskScores:
        """The task's metrics from its records. Default: accuracy (avg@k) with its errors,
        pass@k and per-subset scores; override for a benchmark's official metric (keep the
        keys of ``ovr_eval.metrics.summarize`` -- "score", "stderr", "ci95", "n", ... -- for the
        headline number: the paper's column)."""
        from ovr_eval.metrics import task_scores

        return task_scores(self.official(records), self.subset_keys)

    def official(self, records: list[Record]) -> list[Record]:
        """The records with the benchmark's official verdicts where its rules differ from the
        verifier's (a numeric tolerance, a fallback); default: the records as saved."""
        return records

    def units(self, records: list[Record]) -> dict[str, list[float]]:
        """The headline's units (unit id -> slot values, see ``ovr_eval.metrics``): its score
        is their mean, and run-vs-run comparisons pair them. Default: one unit per record."""
        from ovr_eval.metrics import record_units

        return record_units(self.official(records))

    def samples(
        self, split: str | None = None, data_dir: Path | None = None
    ) -> Iterator[Sample | BadRow]:
        """Every item of ``split`` as a Sample, or a BadRow for rows that cannot be used."""
        split = split or self.default_split
        if split not in self.splits:
            raise UserError(
                f"task {self.name} has no split {split!r}; choose one of: {', '.join(self.splits)}"
            )
        data_dir = resolve_data_dir(data_dir)
        if data_dir is not None:
            rows: Iterable[dict[str, Any] | BadRow] = self.local_rows(data_dir, split)
            base_dir: Path | None = self.local_dir(data_dir)
        else:
            rows, base_dir = self.hub_rows(split), None
        rows, image_columns = _lazy_images(rows)
        seen: set[str] = set()
        for index, row in enumerate(rows):
            if isinstance(row, BadRow):
                yield row
                continue
            row = dict(row)
            for column in image_columns:
                if row.get(column):
                    row[column] = LazyImage(rows, index, column)
            try:
                sample = self.row_to_sample(row, index, base_dir)
                if not str(sample.answer).strip():
                    raise BadRow(sample.id, "no gold answer")
                if sample.id in seen:
                    raise BadRow(sample.id, "duplicate id")
                seen.add(sample.id)
                yield sample
            except BadRow as bad:
                yield bad


def read_json_rows(path: Path) -> Iterator[dict[str, Any] | BadRow]:
    """Rows of a .jsonl file (one object per line) or a .json file (an array of objects).

    A .jsonl line that is not a JSON object (torn, not UTF-8, not an object) comes out as a
    BadRow naming the file and line, so one bad line never stops a run."""
    import json

    if path.suffix == ".jsonl":
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield BadRow(f"{path} line {number}", "not UTF-8 text")
                    continue
                except json.JSONDecodeError as exc:
                    yield BadRow(f"{path} line {number}", f"not valid JSON ({exc.msg}, "
                                 f"column {exc.colno})")
                    continue
                if isinstance(row, dict):
                    yield row
                else:
                    yield BadRow(f"{path} line {number}", "not a JSON object")
        return
    for number, row in enumerate(read_json(path, list, "a JSON array of rows")):
        yield row if isinstance(row, dict) else BadRow(f"{path} item {number}",
                                                        "not a JSON object")


def read_json(path: Path, kind: type[list[Any]] | type[dict[str, Any]], what: str) -> Any:
    """The JSON document in ``path``, which must be a ``kind`` (list or dict); a file that is
    not valid JSON, or holds something else than ``what`` says, is one error naming it."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); fix or replace the file") from None
    if not isinstance(data, kind):
        raise UserError(f"{path} must hold {what}")
    return data


def read_keyed_rows(path: Path, id_key: str) -> list[dict[str, Any] | BadRow]:
    """Rows of a release's JSON object keyed by sample id (``{"1": {...}, ...}``), each with
    its key under ``id_key``; an entry that is not an object comes out as a BadRow."""
    data = read_json(path, dict, "a JSON object of rows keyed by id")
    return [{**row, id_key: key} if isinstance(row, dict)
            else BadRow(f"{path} item {key}", "not a JSON object") for key, row in data.items()]


def read_parquet(files: Iterable[Path]) -> Any:
    """Rows of parquet files as a ``datasets.Dataset`` (memory-mapped, images decoded only
    when read)."""
    import datasets

    return datasets.load_dataset("parquet", data_files=[str(p) for p in files], split="train")


class LazyImage:
    """An image cell of a ``datasets`` table, decoded only when an engine needs it, so a
    large split never holds all its images in memory (the table itself is memory-mapped)."""

    def __init__(self, table: Any, index: int, column: str):
        self.table, self.index, self.column = table, index, column

    def open(self):
        """The decoded PIL image."""
        import io

        from PIL import Image

        cell = self.table[self.index][self.column]
        if cell.get("bytes"):
            return Image.open(io.BytesIO(cell["bytes"]))
        return Image.open(cell["path"])

    def __repr__(self) -> str:
        return f"LazyImage(row={self.index}, column={self.column!r})"


def _lazy_images(rows: Iterable[Any]) -> tuple[Iterable[Any], list[str]]:
    """For a ``datasets.Dataset``: its image columns switched to undecoded bytes."""
    datasets = sys.modules.get("datasets")  # rows from plain files never import it (slow)
    if datasets is None or not isinstance(rows, datasets.Dataset):
        return rows, []
    table: Any = rows
    columns = [name for name, feature in table.features.items()
               if isinstance(feature, datasets.Image)]
    for column in columns:
        table = table.cast_column(column, datasets.Image(decode=False))
    return table, columns


def require_image(path_or_image: Any, row_id: str, base_dir: Path | None) -> Any:
    """Resolve an image reference to a PIL image or an existing path; BadRow when missing."""
    if path_or_image is None or path_or_image == "":
        raise BadRow(row_id, "missing image")
    if isinstance(path_or_image, (str, os.PathLike)):
        path = Path(path_or_image)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise BadRow(row_id, f"image file not found: {path}")
        return path
    if isinstance(path_or_image, LazyImage):
        return path_or_image
    if isinstance(path_or_image, dict) and path_or_image.get("bytes"):
        import io

        from PIL import Image

        return Image.open(io.BytesIO(path_or_image["bytes"]))
    return path_or_image  # already a PIL image (datasets' Image feature)
