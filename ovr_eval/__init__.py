"""ovr-eval: evaluate and train multimodal reasoning models the way Open Vision Reasoner did."""

__version__ = "0.1.0"
