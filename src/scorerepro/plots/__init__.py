"""Figures, PNG via matplotlib/seaborn."""
