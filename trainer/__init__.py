"""The OVR trainer: SFT cold start, then PPO/GAE (or GRPO) RL, then ``ovr eval``.

Rollouts go through ovr_eval engines and rewards come from ``ovr_eval.verify``, so a reward
during training is the same verdict that scores evaluation.
"""
