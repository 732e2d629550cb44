"""Write params profiles in the style DVC writes them, so that `dvc exp run -S key=value` (which rewrites
params.yaml through ruamel.yaml's round trip, 80 columns wide) changes only the lines of the keys it sets.

    python workflow/scripts/restyle_params.py params.yaml workflow/params/*.yaml     # rewrite in place
    python workflow/scripts/restyle_params.py --check params.yaml workflow/params/*.yaml

A flow mapping or list whose line would pass 80 columns is what DVC's rewrite breaks mid-value
(`lr:\\n    0.001`); such a one becomes block style, one key a line. Shorter ones stay on their line, comments stay.
The result is DVC's own dump of the file, checked to hold the same values and to be a fixed point of the rewrite.
"""

from __future__ import annotations

import io
import math
import sys

import yaml
from dvc.utils.serialize._yaml import _get_yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

# ruamel.yaml's default best_width; keys and a margin for its float spelling count against it
WIDTH = 80


def _flow_text(node) -> str:
    """The one-line flow form of `node`, without comments (PyYAML's spelling; ruamel's differs by a few chars)."""
    return yaml.safe_dump(_plain(node), default_flow_style=True, width=math.inf).strip()


def _plain(node):
    if isinstance(node, CommentedMap):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    for kind in (bool, int, float, str):  # ruamel's scalar subclasses, which PyYAML cannot write
        if isinstance(node, kind):
            return kind(node)
    return node


def _unfold_long_flows(node, indent: int = 0) -> None:
    items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
    for key, value in items:
        if not isinstance(value, (CommentedMap, CommentedSeq)):
            continue
        if value.fa.flow_style() and indent + len(str(key)) + 2 + len(_flow_text(value)) > WIDTH - 4:
            value.fa.set_block_style()
        _unfold_long_flows(value, indent + 2)


def dvc_dump(text: str) -> str:
    """What DVC's params rewrite writes for `text` when it changes no value."""
    y = _get_yaml()
    out = io.StringIO()
    y.dump(y.load(text), out)
    return out.getvalue()


def restyle(text: str) -> str:
    y = _get_yaml()
    data = y.load(text)
    _unfold_long_flows(data)
    out = io.StringIO()
    y.dump(data, out)
    new = out.getvalue()
    if yaml.safe_load(new) != yaml.safe_load(text):
        raise ValueError("restyling changed a value")
    if dvc_dump(new) != new:
        raise ValueError("restyled text is not a fixed point of DVC's rewrite")
    return new


def main(argv: list[str]) -> int:
    check = "--check" in argv
    bad = []
    for path in (a for a in argv if a != "--check"):
        text = open(path).read()
        if check:
            if dvc_dump(text) != text:
                bad.append(path)
            continue
        new = restyle(text)
        with open(path, "w") as f:
            f.write(new)
        print(f"{path}: {len(text.splitlines())} -> {len(new.splitlines())} lines")
    for path in bad:
        print(f"{path}: DVC's rewrite would restyle it; run workflow/scripts/restyle_params.py {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
