"""scorerepro: five generative-modelling papers reproduced as one DAG (DVC or Snakemake).

  scorerepro <paper> <stage> [args]   a paper's stage, e.g. `scorerepro ncsn train fig5_mnist`
  scorerepro <paper> <tool> [args]    a paper's command that is no stage, e.g. `scorerepro ncsn model-summary`
  scorerepro <stage> [args]           a stage every paper shares, e.g. `scorerepro download mnist_embedded`

Each stage's subcommand has its dvc.yaml stage name (`ncsn_train` -> `scorerepro ncsn train`). Thin on purpose: it
parses arguments, loads and validates params.yaml, and calls one stage function; imports are lazy so that
`scorerepro --help` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from scorerepro.papers import PAPERS, paper_module
from scorerepro.core.errors import EXIT_USAGE
from scorerepro.pipeline.registry import SHARED_STAGES, Command, Stage
from scorerepro.profiles import available_profiles

# Top-level commands that moved under their paper: the old spelling says where to (hidden from --help).
MOVED = {"model-summary": "ncsn model-summary"}


def _add_params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    p.add_argument("--verbose", action="store_true", help="print the full traceback of an error")


def _add_stage(sub, name: str, stage: Stage) -> None:
    aliases = [name.replace("_", "-")] if "_" in name else []
    p = sub.add_parser(name, aliases=aliases, help=stage.help, description=stage.help)
    for arg in stage.args:
        p.add_argument(arg, type=int if arg == "shard" else str)
    if stage.trains:
        p.add_argument("--record-divergence", action="store_true",
                       help="a diverged training is a result: keep its record (diverged.json in the run folder) and "
                            "exit 0, so the stages downstream run and the claims it feeds become untested; without "
                            "it the command exits 5")
    _add_params_arg(p)
    p.set_defaults(stage=stage, stage_name=name)


def _add_command(sub, name: str, command: Command) -> None:
    module = importlib.import_module(command.module)
    p = sub.add_parser(name, help=module.HELP, description=module.__doc__.split("\n\n")[0])
    module.add_arguments(p)
    _add_params_arg(p)
    p.set_defaults(command_module=command.module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scorerepro", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="papers:\n" + "\n".join(f"  {k:<12}{v[1]}" for k, v in PAPERS.items()))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in PAPERS:
        module = paper_module(name)
        p = sub.add_parser(name, help=f"the stages of {module.TITLE}", description=module.__doc__.split("\n\n")[0])
        paper_sub = p.add_subparsers(dest="paper_stage", required=True, metavar="STAGE")
        for stage_name, stage in module.STAGES.items():
            _add_stage(paper_sub, stage_name, stage)
        for command_name, command in getattr(module, "COMMANDS", {}).items():
            _add_command(paper_sub, command_name, command)
    for name, stage in SHARED_STAGES.items():
        _add_stage(sub, name, stage)
    for old in MOVED:
        p = sub.add_parser(old, add_help=False)  # no help=: argparse leaves it out of the command list
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(moved_to=MOVED[old], verbose=False)

    p = sub.add_parser("compare", help="the params and metrics that changed between two commits or experiments")
    p.add_argument("a", nargs="?", help="a commit, branch or DVC experiment (default: HEAD)")
    p.add_argument("b", nargs="?", help="another one (default: the workspace)")
    p.add_argument("--keep", help="only rows whose FILE:KEY matches this regex, e.g. 'fig5_mnist|step_lr'")
    p.add_argument("--width", type=int, default=100, help="line width (default 100)")
    p.add_argument("--verbose", action="store_true", help="print the full traceback of an error")

    p = sub.add_parser("report", help="write the reproduction report: per paper its claims and figures, one page")
    p.add_argument("--out", default="reproduction_report.html",
                   help="the page to write (default: reproduction_report.html); figures are linked relative to it")
    _add_params_arg(p)

    p = sub.add_parser("use-profile", help="write a parameter profile of workflow/params/ as params.yaml",
                       description="Write a parameter profile as params.yaml (or --params): quick.yaml as it is, any "
                                   "other profile laid over quick.yaml (the merge rule: src/scorerepro/profiles.py).")
    p.add_argument("profile", help=f"one of: {', '.join(available_profiles())}")
    _add_params_arg(p)
    return parser


def _run_stage(args: argparse.Namespace) -> int:
    from scorerepro.config import load_params

    stage: Stage = args.stage
    params = load_params(args.params)
    if "threads" in params:
        import torch

        torch.set_num_threads(params["threads"])
    function = getattr(importlib.import_module(stage.module), stage.function)
    try:
        function(params, **{arg: getattr(args, arg) for arg in stage.args})
    except Exception as e:
        if not getattr(args, "record_divergence", False) or not _is_divergence(e):
            raise
        print(f"scorerepro {args.command} {args.paper_stage}: {e.label} (recorded, exit 0: the stages downstream "
              f"say so and the claims it feeds are untested): {e}", file=sys.stderr)
    return 0


def _is_divergence(e: BaseException) -> bool:
    from scorerepro.training.train_errors import NonFiniteLossError

    return isinstance(e, NonFiniteLossError)


def _compare(args: argparse.Namespace) -> int:
    from scorerepro.compare import compare

    print(compare(args.a, args.b, keep=args.keep, width=args.width), end="")
    return 0


def _report(args: argparse.Namespace) -> int:
    import subprocess
    from pathlib import Path

    from scorerepro import reporting
    from scorerepro.config import read_params_yaml
    from scorerepro.core.fileio import write_text

    profile = read_params_yaml(args.params).get("profile", "?")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    run = f"profile {profile} of {args.params}" + (f", commit {commit}" if commit else "")
    out = Path(args.out)
    write_text(out, reporting.static_page(Path("results"), reporting.load_captions(), run,
                                                   out.parent.resolve(), tuple(PAPERS)))
    print(f"scorerepro report: wrote {out}")
    return 0


def _use_profile(args: argparse.Namespace) -> int:
    from scorerepro.profiles import use_profile

    use_profile(args.profile, args.params)
    return 0


def _user_error(e: BaseException) -> tuple[str, str, int] | None:
    """(label, message, exit code) of a failure the user can act on; None for anything else (a bug: traceback)."""
    from scorerepro.core import errors

    if isinstance(e, errors.UserError):
        return e.label, str(e), e.exit_code
    if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        # Raised deep inside open/mkdir/os.replace; the user acts on the path, so name it and the fix.
        where = e.filename if e.filename is not None else "a file this command needs"
        return ("permission denied", f"{where}: {e.strerror}; this user cannot write (or read) it there. Make "
                f"it and the folder it is in writable (e.g. `chmod -R u+w` on that folder), or run from a "
                f"checkout you own", errors.EXIT_PERMISSION)
    if isinstance(e, (FileNotFoundError, ValueError)):  # input problems named by their message
        return "error", str(e), errors.EXIT_USAGE
    if isinstance(e, OSError) and e.errno is not None:
        return _io_error(e)
    return None


def _io_error(e: OSError) -> tuple[str, str, int]:
    """A full disk and other failed reads or writes: the file, the cause, and that a rerun continues."""
    from scorerepro.core import errors

    where = e.filename if e.filename is not None else "a file this command writes"
    fix = ("free space there (or raise the quota)" if e.errno in (errno.ENOSPC, errno.EDQUOT)
           else "check the disk and the folder")
    return ("write failed" if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "I/O error",
            f"{where}: {e.strerror} (errno {errno.errorcode.get(e.errno, e.errno)}). Nothing is left half-written "
            f"under an output's name; {fix} and rerun: finished work is kept (training resumes from its last "
            f"checkpoint)", errors.EXIT_IO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = " ".join(x for x in (args.command, getattr(args, "paper_stage", None)) if x)
    try:
        if getattr(args, "moved_to", None):
            print(f"scorerepro {args.command}: moved: run `scorerepro {args.moved_to} ...`", file=sys.stderr)
            return EXIT_USAGE
        if getattr(args, "command_module", None):
            return importlib.import_module(args.command_module).run(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "report":
            return _report(args)
        if args.command == "use-profile":
            return _use_profile(args)
        return _run_stage(args)
    except Exception as e:  # noqa: BLE001 - sorted into user errors (message) and bugs (traceback) below
        known = _user_error(e)
        if known is None or args.verbose:
            raise
        label, message, code = known
        print(f"scorerepro {command}: {label}: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
