"""Where NCSN's stages downstream of a diverged training find its record among their declared inputs.

A diverged model's sample stages write each shard file as the record alone (pipeline.divergence.marker), which the
shared shard reader would refuse as a shard without settings: the stages that read shards ask the shard files for
the record first (`shards_divergence`).
"""

from __future__ import annotations

from pathlib import Path

from scorerepro.pipeline.common import shard_file
from scorerepro.pipeline.divergence import upstream_divergence
from scorerepro.training.divergence import Divergence


def shards_divergence(folder: Path, shards: list[int]) -> Divergence | None:
    """The divergence the shard files `folder`/shard_<i>.pt of `shards` carry in place of samples, or None."""
    return upstream_divergence(*(shard_file(folder, shard) for shard in shards))
