"""The real engines on a tiny local Qwen2.5-VL: vLLM (CPU build) and transformers agree."""

from __future__ import annotations

import pytest

from ovr_eval.engines import (
    HFOptions,
    OpenAIOptions,
    VLLMOptions,
    create_engine,
    options_for,
)
from ovr_eval.types import Request, SamplingConfig, UserError

pytestmark = pytest.mark.vllm


def _requests(shared_data) -> list[Request]:
    images = [shared_data / "mathvision" / "images" / f"{i}.jpg" for i in (4, 5, 16)]
    requests = [
        Request(f"img{i}", [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": f"Describe picture {i}."}]}],
            images=[image], seed=i)
        for i, image in enumerate(images)
    ]
    requests += [Request(f"txt{i}", [{"role": "user", "content": [
        {"type": "text", "text": text}]}], seed=10 + i)
        for i, text in enumerate(["What is 2+2?", "Name a prime number.", "Solve x^2=4."])]
    return requests


@pytest.fixture(scope="module")
def vllm_engine(tiny_model):
    options = VLLMOptions(dtype="float32", max_model_len=2048)
    engine = create_engine("vllm", str(tiny_model), options, seed=0)
    yield engine
    engine.close()


@pytest.mark.slow
def test_vllm_generates_for_text_and_images(vllm_engine, shared_data):
    requests = _requests(shared_data)
    out = {c.sample_id: c for c in vllm_engine.generate(requests, SamplingConfig(max_tokens=12))}
    assert set(out) == {r.sample_id for r in requests}
    assert vllm_engine.supports_images
    image_prompt = out["img0"]
    assert "<|vision_start|><|image_pad|><|vision_end|>" in image_prompt.prompt
    assert image_prompt.prompt_tokens > out["txt0"].prompt_tokens + 16  # image tokens counted
    assert all(c.completion_tokens == [12] and c.finish_reasons == ["length"] for c in out.values())
    # the random model's output depends on the image: different pictures, different text
    assert len({out[f"img{i}"].responses[0] for i in range(3)}) == 3


def test_vllm_sampling_is_seeded_per_request(vllm_engine, shared_data):
    requests = _requests(shared_data)
    sampling = SamplingConfig(n=3, temperature=1.0, top_p=0.95, max_tokens=8)
    first = {c.sample_id: c.responses for c in vllm_engine.generate(requests, sampling)}
    # same requests in another order and batch: identical samples
    again = {c.sample_id: c.responses
             for c in vllm_engine.generate(list(reversed(requests[:4])), sampling)}
    assert all(first[k] == v for k, v in again.items())
    assert all(len(v) == 3 for v in first.values())
    assert any(len(set(v)) > 1 for v in first.values())


def test_vllm_skips_a_corrupt_image_and_counts_tokens(vllm_engine, shared_data, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a JPEG")
    requests = _requests(shared_data)
    requests[1] = Request("broken", requests[1].messages, images=[broken], seed=1)
    out = {c.sample_id: c for c in vllm_engine.generate(requests, SamplingConfig(max_tokens=7))}
    assert set(out) == {r.sample_id for r in requests}
    assert out["broken"].error and "broken.jpg" in out["broken"].error
    assert out["broken"].responses == []
    good = [c for c in out.values() if c.error is None]
    assert len(good) == 5 and all(c.completion_tokens == [7] for c in good)
    assert vllm_engine.activity.tokens == 35 and vllm_engine.activity.running == 0


def test_hf_engine_matches_vllm_greedy(vllm_engine, tiny_model, shared_data):
    requests = _requests(shared_data)
    sampling = SamplingConfig(max_tokens=10)
    from_vllm = {c.sample_id: c for c in vllm_engine.generate(requests, sampling)}
    hf = create_engine("hf", str(tiny_model), HFOptions(dtype="float32", batch_size=4))
    from_hf = {c.sample_id: c for c in hf.generate(requests, sampling)}
    for key, completion in from_vllm.items():
        assert from_hf[key].prompt == completion.prompt
        assert from_hf[key].prompt_tokens == completion.prompt_tokens
        assert from_hf[key].responses == completion.responses, key


def test_missing_model_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        create_engine("vllm", str(tmp_path / "nope"))
    with pytest.raises(UserError, match=r"no config\.json"):
        create_engine("hf", str(tmp_path))


def test_each_engine_takes_only_its_own_settings():
    """The command line offers every engine's settings; an engine's options keep its own."""
    given = {"dtype": "float32", "batch_size": 4, "base_url": "http://h:1/v1", "concurrency": 3,
             "tensor_parallel_size": 2, "max_model_len": None}
    assert options_for("hf", **given) == HFOptions(dtype="float32", batch_size=4)
    assert options_for("vllm", **given) == VLLMOptions(dtype="float32", tensor_parallel_size=2)
    assert options_for("openai", **given) == OpenAIOptions(base_url="http://h:1/v1", concurrency=3)
    assert "api_key" not in OpenAIOptions(api_key="secret").as_config()  # never in config.json
    with pytest.raises(TypeError, match="engine hf takes HFOptions, not VLLMOptions"):
        create_engine("hf", "m", VLLMOptions())


def test_unreachable_server_is_a_user_error():
    with pytest.raises(UserError, match="cannot reach the server"):
        create_engine("openai", "m", OpenAIOptions(base_url="http://127.0.0.1:9/v1"))


@pytest.mark.slow
def test_openai_engine_against_vllm_serve_matches_offline_vllm(vllm_server, vllm_engine,
                                                               shared_data):
    requests = _requests(shared_data)
    sampling = SamplingConfig(max_tokens=10)
    offline = {c.sample_id: c for c in vllm_engine.generate(requests, sampling)}
    served = create_engine("openai", "tiny", OpenAIOptions(base_url=vllm_server, concurrency=3))
    online = {c.sample_id: c for c in served.generate(requests, sampling)}
    assert set(online) == set(offline)
    for key, completion in offline.items():
        assert online[key].responses == completion.responses, key
        assert online[key].prompt_tokens == completion.prompt_tokens
        assert online[key].finish_reasons == ["length"]


def test_openai_engine_reports_a_rejected_request(vllm_server):
    served = create_engine("openai", "tiny", OpenAIOptions(base_url=vllm_server))
    request = Request("q1", [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    with pytest.raises(UserError, match="rejected the request for sample q1"):
        list(served.generate([request], SamplingConfig(n=2, temperature=0.0, max_tokens=4)))
