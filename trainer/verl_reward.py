"""verl reward function for data exported by ``ovr train export-verl``: ovr-eval's verifier.

verl 0.9.1 loads this file by path (``reward.custom_reward_function.path`` / ``.name``) and
calls ``compute_score`` once per response. It is a thin shim over ``ovr_eval.verify``, so
``pip install ovr-eval`` next to verl: a training reward is the same verdict ``ovr eval``
gives (final answer after ``</think>`` / in ``\\boxed{}``, exact → numeric → symbolic, options
by letter for multiple-choice rows; symbolic checks run in worker processes under a hard
time limit).

The reward is the ORZ/OVR rule: 1.0 for a correct final answer, else 0.0. ORZ also gives 0
to a response that hit the length limit; verl's naive reward manager passes only the decoded
response text (no finish reason), so that part of the rule cannot be applied here: a
truncated response that already wrote a correct ``\\boxed{}`` answer earns 1.0.

Which answer earns the reward follows the recipe's ``rl.reward``: ``BOXED_ONLY`` below (set by
``ovr train export-verl``; True = only the last ``\\boxed{}`` answer counts, as ORZ/OVR and
``ovr train``'s default; False = the evaluation's lenient extraction). A ``boxed_only`` key in
verl's ``reward_kwargs`` overrides it.

verl runs a synchronous ``compute_score`` in a thread pool; ovr-eval's verifier worker pool
serves one caller at a time, so calls in one process are serialised by a lock (verl's
``reward.num_workers`` reward workers still run in parallel, each with its own pool).
"""

from __future__ import annotations

import threading
from typing import Any

from ovr_eval.verify import grade

_LOCK = threading.Lock()
BOXED_ONLY = True


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """``score`` (the reward), ``acc`` and ``pred`` (the extracted answer) for one response."""
    info = extra_info or {}
    choices = info.get("choices")
    multiple_choice = info.get("answer_type") == "multiple_choice"
    boxed_only = bool(kwargs.get("boxed_only", BOXED_ONLY))
    with _LOCK:
        verdict = grade(solution_str, ground_truth, list(choices) if choices is not None else None,
                        multiple_choice, boxed_only=boxed_only)
    return {"score": verdict.score, "acc": verdict.score, "pred": verdict.extracted or ""}
