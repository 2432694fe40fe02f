# SPDX-License-Identifier: GPL-3.0-or-later
"""What every module of the `pardus` command shares: the consoles and :class:`UserError`
(kept apart from :mod:`pardus.cli` so that its command groups, e.g. :mod:`pardus.cli_id`, can
use them however the command is started, also as ``python -m pardus.cli``)."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Tables go to stdout; when it is a log or a pipe (not a terminal) they are not cut at 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=int(os.environ.get("COLUMNS", 0)) or 400)
err = Console(stderr=True)


class UserError(Exception):
    """A mistake of the user: shown as lines, no traceback, non-zero exit."""

    def __init__(self, lines: list[str], code: int = 2):
        self.lines = lines
        self.code = code
