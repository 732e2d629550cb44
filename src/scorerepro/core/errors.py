"""The base of every error a user can act on (bad params, damaged files, a locked run folder, a diverged sampler).

Each such failure has its own class, derived from UserError and from the builtin it used to be (RuntimeError,
ValueError), so existing `except` clauses keep working. Its message names the file or key and what to do; the
CLI prints `scorerepro <command>: <label>: <message>` without a traceback (`--verbose` shows it) and exits with
the class's `exit_code`, so a script can tell a locked folder (try again later) from damaged data (rebuild it).
Anything else escaping a stage is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the user can act on; subclasses set `label` (what failed) and `exit_code`."""

    label = "error"
    exit_code = 1


#: Exit codes of the CLI, one per kind of failure (README, Reliability). 74, 75 and 77 are sysexits.h's
#: EX_IOERR, EX_TEMPFAIL (try again later) and EX_NOPERM.
EXIT_USAGE = 2          # params, a missing input file, a bad argument
EXIT_DATA = 3           # a dataset that fails its checks or cannot be fetched; missing Inception weights
EXIT_CHECKPOINT = 4     # a damaged, foreign or mismatched checkpoint
EXIT_TRAINING = 5       # training stopped (non-finite or diverged loss, ...)
EXIT_DIVERGED = 6       # a sampler diverged where samples were needed
EXIT_SHARDS = 7         # sample shards missing, damaged or made under other settings
EXIT_IO = 74            # a write or read failed: disk full, quota, I/O error (sysexits.h's EX_IOERR)
EXIT_LOCKED = 75        # another process holds the run folder
EXIT_PERMISSION = 77    # a file or folder that cannot be written or read
