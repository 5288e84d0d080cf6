"""Where the wrapper finds its own server and client.

An unactivated virtual environment or a pipx install puts ``pymosh``, ``pymosh-server``
and ``pymosh-client`` in a ``bin/`` that is not on ``PATH``; the wrapper must still start
the programs that were installed with it, not whatever ``PATH`` offers.
"""

from __future__ import annotations

import os
import sys

MODULES = {"pymosh-server": "pymosh.frontend.server", "pymosh-client": "pymosh.frontend.client"}


def own_program(name: str, argv0: str | None = None) -> list[str]:
    """argv starting ``name``: the script beside the wrapper's own, else this interpreter
    running the module (which always is the same pymosh as the wrapper)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if argv0 and os.path.basename(argv0).startswith("pymosh"):
        beside = os.path.join(os.path.dirname(os.path.abspath(argv0)), name)
        if os.path.isfile(beside) and os.access(beside, os.X_OK):
            return [beside]
    return [sys.executable, "-m", MODULES[name]]


def is_pymosh_server(words: list[str]) -> bool:
    """True if the server command runs pymosh-server (which takes pymosh-only options)."""
    return any(
        os.path.basename(w) == "pymosh-server" or w == MODULES["pymosh-server"] for w in words
    )
