"""Write params profiles in the style DVC writes them, so that `dvc exp run -S key=value` (which rewrites
params.yaml through ruamel.yaml's round trip, 80 columns wide) changes only the lines of the keys it sets.

    python workflow/scripts/restyle_params.py params.yaml workflow/params/*.yaml     # rewrite in place
    python workflow/scripts/restyle_params.py --check params.yaml workflow/params/*.yaml

A flow mapping or list whose line would pass 80 columns is what DVC's rewrite breaks mid-value
(`lr:\\n    0.001`); such a one becomes block style, one key a line. Shorter ones stay on their line, comments stay.
The result is DVC's own dump of the file, checked to hold the same values and to be a fixed point of the rewrite.
`scorerepro use-profile` writes a merged profile in this style itself (scorerepro.profiles.unfold_long_flows).
"""

from __future__ import annotations

import io
import sys

from dvc.utils.serialize._yaml import _get_yaml

from scorerepro.config import parse_params_yaml
from scorerepro.profiles import unfold_long_flows


def dvc_dump(text: str) -> str:
    """What DVC's params rewrite writes for `text` when it changes no value."""
    y = _get_yaml()
    out = io.StringIO()
    y.dump(y.load(text), out)
    return out.getvalue()


def restyle(text: str) -> str:
    y = _get_yaml()
    data = y.load(text)
    unfold_long_flows(data)
    out = io.StringIO()
    y.dump(data, out)
    new = out.getvalue()
    if parse_params_yaml(new) != parse_params_yaml(text):
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
