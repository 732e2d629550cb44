"""Stages every paper shares: data download and preprocessing, the FID Inception weights, reference statistics,
the MNIST classifier, and the cross-paper claims table and leaderboard. Each stage function reads validated params
and its declared inputs and writes its declared outputs atomically; `scorerepro <stage> ...` runs it."""
