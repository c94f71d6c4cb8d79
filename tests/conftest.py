"""Shared fixtures: the real benchmark files in ../shared/data and a tiny local Qwen2.5-VL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OVR_SHARED_DATA", REPO.parent / "shared" / "data"))


def has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def kill_9_when_saved(process: subprocess.Popen, samples: Path, records: int) -> list[str]:
    """kill -9 ``process`` once ``samples`` holds ``records`` lines (within 300 s), then append
    a record torn mid-write, as a kill can leave; returns the lines saved before the tear."""
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if samples.is_file() and len(samples.read_text().splitlines()) >= records:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = samples.read_text().splitlines()
    with samples.open("a") as handle:
        handle.write('{"id": "torn')
    return saved


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``vllm`` is skipped, saying why, where vLLM is not installed."""
    if has_vllm():
        return
    skip = pytest.mark.skip(reason="vLLM is not installed")
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)


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

    from ovr_eval.tasks import read_json_rows
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


@pytest.fixture(scope="module")
def vllm_server(tiny_model):
    """A real ``vllm serve`` (OpenAI-compatible) of the tiny model on a free local port,
    served as model "tiny"."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "TORCH_COMPILE_DISABLE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model),
         "--served-model-name", "tiny", "--port", str(port), "--dtype", "float32",
         "--enforce-eager", "--max-model-len", "2048", "--kv-cache-memory-bytes", str(2**29),
         "--seed", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                pytest.fail("vllm serve exited during start-up")
            time.sleep(0.5)
        else:
            pytest.fail("vllm serve did not start in 120 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
