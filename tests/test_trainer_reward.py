"""``rl.reward``: what earns an RL reward (boxed answers only, the evaluation's lenient
extraction, or a random control)."""

from __future__ import annotations

import random

import pytest

from ovr_eval.types import UserError
from ovr_eval.verify import grade_many
from ovr_trainer.collect import rewards
from ovr_trainer.config import RLConfig, load_recipe


def reward_of(mode: str, items: list[tuple], seed: int = 0) -> list[float]:
    cfg = RLConfig(reward=mode)
    return rewards(cfg, items, grade_many(items), random.Random(seed))


def test_only_a_boxed_answer_earns_the_boxed_reward():
    items = [
        ("Adding the two numbers gives 12, so the answer is 12.", "12", None, False),
        ("Adding them gives\n12", "12", None, False),  # a bare last line
        ("First \\boxed{11}, then I corrected it: \\boxed{12}", "12", None, False),
        ("<think>maybe \\boxed{12}</think> The answer is 11.", "12", None, False),
        ("So the option is (B).", "B", ["3", "12"], True),
        ("The option is \\boxed{B}.", "B", ["3", "12"], True),
        ("\\boxed{\\frac{24}{2}}", "12", None, False),  # symbolic check, same verifier
    ]
    assert reward_of("lenient", items) == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert reward_of("boxed", items) == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert RLConfig().reward == "boxed"  # ORZ/OVR's rule is the default


def test_the_random_reward_ignores_correctness_and_is_seeded():
    right = [("\\boxed{7}", "7", None, False)] * 2000
    wrong = [("\\boxed{8}", "7", None, False)] * 2000
    cfg = RLConfig(reward="random", random_reward_rate=0.3)
    on_right = rewards(cfg, right, grade_many(right[:1]) * 2000, random.Random(1))
    on_wrong = rewards(cfg, wrong, grade_many(wrong[:1]) * 2000, random.Random(2))
    for drawn in (on_right, on_wrong):
        assert set(drawn) == {0.0, 1.0}
        assert abs(sum(drawn) / len(drawn) - 0.3) < 0.04  # 4 standard errors
    assert rewards(cfg, right, [], random.Random(1)) == on_right  # same seed, same draws


def test_reward_mode_and_rate_are_checked_in_the_recipe():
    assert load_recipe("tiny", {"rl.reward": "lenient"}).rl.reward == "lenient"
    with pytest.raises(UserError, match="'strict' is not one of boxed, lenient, random"):
        load_recipe("tiny", {"rl.reward": "strict"})
    with pytest.raises(UserError, match=r"random_reward_rate: 1\.5 is not a probability"):
        load_recipe("tiny", {"rl.reward": "random", "rl.random_reward_rate": 1.5})
