"""Reproducibility workflow for score-based and Markov-chain generative models (NCSN first)."""

__version__ = "0.1.0"
