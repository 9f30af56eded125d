"""Data commands: pass rates of the current policy, and the band of problems worth training on.

    python -m lead_lite.data difficulty --model tiny --data problems.jsonl --k 8 --output pass_rates.jsonl
    python -m lead_lite.data filter --pass_rates pass_rates.jsonl --keep 0.1:0.9 --output filtered.jsonl

Both live in :mod:`lead_lite.difficulty`. The datasets themselves (names, files, columns, gold
answer formats, cleaning) are :mod:`lead_lite.tasks.math`.
"""

from __future__ import annotations

import sys

from lead_lite import difficulty
from lead_lite.user_errors import entry_point

COMMANDS = {"difficulty": difficulty.main, "filter": difficulty.filter_main}


@entry_point
def main(argv: list[str]):
    """Run ``difficulty`` or ``filter`` with the rest of the command line; a user error (a bad setting,
    an unusable data file) ends with one line and exit code 2."""
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(__doc__ + "\nEach command's flags: python -m lead_lite.data COMMAND --help\n")
        return None
    if not argv or argv[0] not in COMMANDS:  # a usage error, as argparse reports one: exit code 2
        sys.stderr.write(f"usage: python -m lead_lite.data {{{','.join(COMMANDS)}}} ...\n"
                         f"python -m lead_lite.data: error: {'no command' if not argv else repr(argv[0])}: "
                         f"choose one of {', '.join(COMMANDS)}\n")
        raise SystemExit(2)
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
