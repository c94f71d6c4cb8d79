"""Shared fixtures: the real benchmark files in ../shared/data and a tiny local Qwen2.5-VL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OVR_SHARED_DATA", REPO.parent / "shared" / "data"))


def has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark files (see ../shared/data/README.md)."""
    if not (SHARED_DATA / "math500" / "test.jsonl").is_file():
        pytest.skip(f"benchmark files not found at {SHARED_DATA} (set OVR_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Qwen2.5-VL checkpoint with the real Qwen tokenizer, built once."""
    from ovr_eval.tiny import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("models") / "tiny-qwen2_5_vl")


@pytest.fixture(scope="session")
def mathverse_hub_fixture(tmp_path_factory, shared_data) -> Path:
    """A data dir holding a MathVerse testmini parquet in the hub's exact schema.

    The five visual versions and their images are not available offline, so two real problems
    (from the Text Only file) are written as all five versions, with a rendered image each.
    """
    import datasets
    from PIL import Image, ImageDraw

    from ovr_tasks._common import read_json_rows
    from ovr_tasks.mathverse import VERSIONS

    rows = list(read_json_rows(shared_data / "mathverse" / "testmini_text_only.json"))[:2]
    records = []
    for problem in rows:
        for offset, version in enumerate(VERSIONS):
            image = Image.new("RGB", (320, 200), "white")
            ImageDraw.Draw(image).text((10, 10), problem["question"][:60], fill="black")
            records.append({
                "sample_index": str((int(problem["problem_index"]) - 1) * 5 + offset + 1),
                "problem_index": problem["problem_index"], "problem_version": version,
                "question": "" if version == "Vision Only" else problem["question"],
                "image": image, "answer": problem["answer"],
                "question_type": problem["question_type"], "metadata": problem["metadata"],
                "query_wo": problem["query_wo"], "query_cot": problem["query_cot"],
                "question_for_eval": problem["question"],
            })
    features = datasets.Features({
        **{k: datasets.Value("string") for k in (
            "sample_index", "problem_index", "problem_version", "question", "answer",
            "question_type", "query_wo", "query_cot", "question_for_eval")},
        "image": datasets.Image(),
        "metadata": {k: datasets.Value("string") for k in ("split", "source", "subject",
                                                              "subfield")},
    })
    root = tmp_path_factory.mktemp("hubdata")
    (root / "mathverse").mkdir()
    datasets.Dataset.from_list(records, features=features).to_parquet(
        str(root / "mathverse" / "testmini.parquet"))
    return root
