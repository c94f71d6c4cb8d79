"""Check `ovr train export-verl` folders with verl 0.9.1's own code, on CPU.

Runs inside verl's environment (scripts/check-verl-export.sh builds it), never in ovr-eval's:

    python scripts/verl_export_check.py --data DIR [--env KEY=VALUE ...] [--config-only DIR ...]

For every folder (``--data`` and ``--config-only``):
1. config: ``run_verl_ppo.sh --cfg job --resolve`` runs ``python -m verl.trainer.main_ppo``, so
   Hydra composes verl's packaged ``ppo_trainer.yaml`` with every exported override (a key
   verl does not have fails here, not on the cluster); then verl's ``validate_config``, the
   check ``main_ppo`` runs before it starts Ray.
2. reward: verl's ``get_custom_reward_fn`` loads ``ovr_reward.py`` from the composed config and
   scores a right and a wrong answer for rows of the exported parquet.

For the ``--data`` folder, whose model is a local checkpoint (the tiny Qwen2.5-VL of the
``tiny`` recipe: real tokenizer and processor, random weights), also:
3. data: verl's ``RLHFDataset`` reads train.parquet and val.parquet with that model's tokenizer
   and real Qwen2.5-VL processor (its image processor needs torchvision's Python code, which
   imports here through ovr-eval's CPU start-up hook), filters overlong prompts as configured
   (every row must survive) and builds each row's chat messages; each image row then goes
   through what verl's rollout does with it (chat template, qwen_vl_utils vision info, the
   processor), and its image tokens must match its image grids.
4. reward worker: verl's ``RewardLoopWorker`` (tokenizer decode + naive reward manager + the
   shim, called concurrently from its thread pool) scores a batch of responses.

Nothing here is a stand-in: the only thing not exercised is training itself, which needs GPUs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WRONG = r"\boxed{-987654321}"


def fail(message: str) -> None:
    raise SystemExit(f"verl export check FAILED: {message}")


def compose(folder: Path, env: dict[str, str]) -> Any:
    """The config ``run_verl_ppo.sh`` would start verl with, composed by verl's own Hydra app."""
    from omegaconf import OmegaConf

    proc = subprocess.run(
        ["bash", str(folder / "run_verl_ppo.sh"), "--cfg", "job", "--resolve"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, **env, "PYTHON": sys.executable},
    )
    if proc.returncode != 0:
        fail(f"{folder}: verl rejected the exported overrides:\n{proc.stderr[-3000:]}")
    return OmegaConf.create(proc.stdout)


def validate(folder: Path, cfg: Any) -> None:
    """verl's own validation, and the settings the export must have carried over."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(cfg, use_reference_policy=need_reference_policy(cfg),
                    use_critic=need_critic(cfg))
    reward = Path(cfg.reward.custom_reward_function.path)
    if reward != folder.resolve() / "ovr_reward.py" or not reward.is_file():
        fail(f"{folder}: reward path {reward} is not the exported shim")
    for name in [*cfg.data.train_files, *cfg.data.val_files]:
        if not Path(name).is_file():
            fail(f"{folder}: data file {name} does not exist")
    if need_critic(cfg) != (cfg.algorithm.adv_estimator == "gae"):
        fail(f"{folder}: critic use does not follow the advantage estimator")


def read_rows(path: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def reward_cases(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str, float]]:
    """(row, ground truth, response, expected score): right and wrong, free-form and options."""
    cases = []
    free = next((r for r in rows if r["extra_info"]["answer_type"] == "free_form"), None)
    choice = next((r for r in rows if r["extra_info"]["answer_type"] == "multiple_choice"), None)
    if free is not None:
        gold = free["reward_model"]["ground_truth"]
        cases += [(free, gold, f"<think>so</think> The answer is \\boxed{{{gold}}}.", 1.0),
                  (free, gold, WRONG, 0.0),
                  # decided by the symbolic check in ovr-eval's worker processes
                  (free, r"\frac{\sqrt{2}}{2}", r"\boxed{\dfrac{1}{\sqrt{2}}}", 1.0),
                  (free, "x^2-1", r"\boxed{(x-1)(x+1)}", 1.0)]
    if choice is not None:
        letter = choice["reward_model"]["ground_truth"]
        other = "A" if letter != "A" else "B"
        cases += [(choice, letter, f"... so the answer is \\boxed{{{letter}}}", 1.0),
                  (choice, letter, f"\\boxed{{{other}}}", 0.0)]
    return cases


def check_reward_fn(folder: Path, cfg: Any, rows: list[dict[str, Any]]) -> int:
    """verl loads the shim by path from the composed config and gets our verdicts back."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(cfg)
    if fn is None:
        fail(f"{folder}: verl found no custom reward function")
    cases = reward_cases(rows)
    if not cases:
        fail(f"{folder}: no rows to score")
    for row, gold, response, expected in cases:
        result = fn(data_source=row["data_source"], solution_str=response, ground_truth=gold,
                    extra_info=dict(row["extra_info"]))
        if result["score"] != expected:
            fail(f"{folder}: {row['data_source']} {response!r} vs {gold!r}: {result}")
    return len(cases)


def load_dataset(path: str, cfg: Any, tokenizer: Any, processor: Any) -> Any:
    """verl's RLHFDataset over one exported parquet; every row must survive its filter."""
    from verl.utils.dataset.rl_dataset import RLHFDataset

    dataset = RLHFDataset(data_files=[path], tokenizer=tokenizer, config=cfg.data,
                          processor=processor)
    rows = len(read_rows(path))
    if len(dataset) != rows:
        fail(f"{path}: verl kept {len(dataset)} of {rows} rows "
             f"(max_prompt_length {cfg.data.max_prompt_length})")
    return dataset


def check_rows(path: str, dataset: Any, cfg: Any, processor: Any) -> int:
    """Each row's chat messages as verl builds them; image rows through the vision path."""
    image_rows = 0
    for i, row in enumerate(read_rows(path)):
        item = dataset[i]
        parts = item["raw_prompt"][-1]["content"]
        images = row["images"] or []
        if not images:
            if parts != row["prompt"][-1]["content"]:
                fail(f"{path} row {i}: text prompt changed on the way into verl")
            continue
        image_rows += 1
        kinds = [p["type"] for p in parts]
        if kinds != ["image"] * len(images) + ["text"]:
            fail(f"{path} row {i}: verl built parts {kinds} for {len(images)} image(s)")
        if parts[-1]["text"] != row["prompt"][-1]["content"].replace("<image>", ""):
            fail(f"{path} row {i}: the text part differs from the exported prompt")
        check_vision(path, i, item["raw_prompt"], processor, cfg)
    return image_rows


def check_vision(path: str, index: int, messages: list[dict[str, Any]], processor: Any,
                 cfg: Any) -> None:
    """What verl's rollout does with an image prompt: template, vision info, processor."""
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    images, _, _ = RLHFDataset._process_multi_modal_info(messages, cfg.data.image_patch_size,
                                                         cfg.data)
    inputs = build_multimodal_processor_inputs(processor, text=[text], images=images)
    merge = processor.image_processor.merge_size
    expected = int(inputs["image_grid_thw"].prod(dim=1).sum()) // merge**2
    token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    found = int((inputs["input_ids"][0] == token).sum())
    if found != expected or found == 0:
        fail(f"{path} row {index}: {found} image tokens for image grids worth {expected}")


def reward_batch(dataset: Any, rows: list[dict[str, Any]], tokenizer: Any) -> Any:
    """A DataProto as the rollout hands it to the reward worker: prompt + padded responses."""
    import torch
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import collate_fn

    cases = reward_cases(rows)
    cases += cases  # more calls in flight at once in the worker's thread pool
    items, responses = [], []
    for row, gold, response, _ in cases:
        item = dict(dataset[row["extra_info"]["index"]])
        item["reward_model"] = {**item["reward_model"], "ground_truth": gold}
        items.append(item)
        responses.append(tokenizer(response, add_special_tokens=False)["input_ids"]
                         + [tokenizer.eos_token_id])
    width = max(map(len, responses)) + 3
    pad = tokenizer.pad_token_id
    batch = DataProto.from_single_dict(collate_fn(items))
    prompt = torch.full((len(items), 4), pad)  # only the response part is read for rewards
    resp = torch.tensor([r + [pad] * (width - len(r)) for r in responses])
    mask = torch.tensor([[1] * 4 + [1] * len(r) + [0] * (width - len(r)) for r in responses])
    batch.batch["prompts"], batch.batch["responses"] = prompt, resp
    batch.batch["attention_mask"] = mask
    return batch, [expected for *_, expected in cases]


def check_reward_worker(cfg: Any, dataset: Any, path: str, tokenizer: Any) -> int:
    """verl's RewardLoopWorker (decode + naive manager + our shim) on a concurrent batch."""
    from verl.experimental.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(cfg)
    batch, expected = reward_batch(dataset, read_rows(path), tokenizer)
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(batch))
    scores = [o["reward_score"] for o in outputs]
    if scores != expected:
        fail(f"reward worker scores {scores}, expected {expected}")
    extra = outputs[0]["reward_extra_info"]
    if set(extra) != {"score", "acc", "pred"}:
        fail(f"reward_extra_info keys {sorted(extra)}")
    return len(scores)


def check_data_folder(folder: Path, env: dict[str, str]) -> str:
    """Every check on an export whose model is local; returns that model's path."""
    from verl.utils import hf_processor, hf_tokenizer

    began = time.monotonic()
    cfg = compose(folder, env)
    validate(folder, cfg)
    model = cfg.actor_rollout_ref.model.path
    tokenizer, processor = hf_tokenizer(model), hf_processor(model)
    if processor is None:
        fail(f"verl could not load the processor of {model}")
    # every dataset first: its overlong filter forks, which must come before torch's threads
    datasets = {path: load_dataset(path, cfg, tokenizer, processor)
                for path in dict.fromkeys([*cfg.data.train_files, *cfg.data.val_files])}
    for path, dataset in datasets.items():
        image_rows = check_rows(path, dataset, cfg, processor)
        if not 0 < image_rows < len(dataset):
            fail(f"{path}: the check needs text and image rows, found {image_rows} image rows")
        print(f"  RLHFDataset {Path(path).name}: {len(datasets[path])} rows, {image_rows} with "
              "images, all kept by verl's overlong filter, vision inputs built as verl's "
              "rollout builds them")
    train = cfg.data.train_files[0]
    kinds = {r["extra_info"]["answer_type"] for r in read_rows(train)}
    if kinds != {"free_form", "multiple_choice"}:
        fail(f"{train}: the check needs free-form and multiple-choice rows, found {kinds}")
    scored = check_reward_fn(folder, cfg, read_rows(train))
    workers = check_reward_worker(cfg, datasets[train], train, tokenizer)
    print(f"  reward: get_custom_reward_fn {scored} verdicts, RewardLoopWorker {workers} "
          f"concurrent verdicts as expected ({time.monotonic() - began:.1f} s)")
    return str(model)


def check_config_folder(folder: Path, model: str) -> None:
    """An export whose checkpoint is a hub id: verl's validation builds the model config, so
    it runs with MODEL set to the local tiny Qwen2.5-VL (same architecture); every other
    exported value is checked as written."""
    began = time.monotonic()
    cfg = compose(folder, {"MODEL": model})
    validate(folder, cfg)
    scored = check_reward_fn(folder, cfg, read_rows(cfg.data.train_files[0]))
    print(f"  {folder.name}: config composed and validated by verl, "
          f"adv_estimator={cfg.algorithm.adv_estimator} (MODEL={model}), {scored} reward "
          "verdicts as expected "
          f"({time.monotonic() - began:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="export with a local model")
    parser.add_argument("--config-only", type=Path, action="append", default=[],
                        help="export whose model is not available here (config + reward)")
    parser.add_argument("--env", action="append", default=[],
                        help="KEY=VALUE launch setting for the --data export's script")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    import datasets
    import verl

    datasets.disable_caching()  # every run filters and maps afresh

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail at once rather than retry a hub
    print(f"verl {verl.__version__}: checking {args.data}")
    model = check_data_folder(args.data, env)
    for folder in args.config_only:
        check_config_folder(folder, model)
    print("verl export check passed")


if __name__ == "__main__":
    main()
