"""The wrapper's side of durable sessions: ``pymosh --list|--resume[=ID]|--kill=ID HOST``.

Each runs ``pymosh-server list|resume|kill`` where the sessions live (over the user's own
ssh, or locally with ``--local``). A stock mosh-server has no registry and would take
``list`` for an address and start a NEW session, so the command first checks, in the
same shell, that the server's ``--version`` mentions the registry (an older pymosh-server
would do the same); if not it prints ``MOSH NO-REGISTRY`` and the user gets one clear line
instead of a stray session.
"""

from __future__ import annotations

from pymosh.frontend.bootstrap import NO_REGISTRY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

REGISTRY_MARK = "Session registry:"  # in ``pymosh-server --version`` (server.py)


def no_registry_message(server: str) -> str:
    return (
        f"{server!r} keeps no session registry (a stock mosh-server?): --list, --resume "
        "and --kill need pymosh-server on the server"
    )


def guarded(server: str, words: Sequence[str]) -> str:
    """A script for ``sh -c`` running ``server words...`` only if ``server`` is pymosh-server."""
    import shlex  # (imports re: not on the start of every pymosh)

    run = " ".join([server] + [shlex.quote(w) for w in words])
    return (
        f'case "$({server} --version 2>/dev/null)" in *"{REGISTRY_MARK}"*) exec {run};; '
        f'*) echo "{NO_REGISTRY}"; exit 1;; esac'
    )


def split_resume(argv: Sequence[str], value_options: set[str]) -> list[str]:
    """``--resume`` takes an ID only in the ``=`` form: a bare ``--resume`` (before the
    host) becomes ``--resume=`` so argparse does not take the host for the ID."""
    out = list(argv)
    i = 0
    while i < len(out):
        word = out[i]
        if word == "--" or not word.startswith("-"):
            break
        if word == "--resume":
            out[i] = "--resume="
        elif word in value_options:
            i += 1  # skip the option's value
        i += 1
    return out


def words_for(args: object) -> list[str] | None:
    """The ``pymosh-server`` sub-command the options ask for (None: a new session).

    ValueError (a one-line message) for a combination that makes no sense."""
    chosen: list[list[str]] = []
    if getattr(args, "list", False):
        chosen.append(["list"])
    kill = getattr(args, "kill", None)
    if kill is not None:
        chosen.append(["kill", kill])
    resume = getattr(args, "resume", None)
    if resume is not None:
        chosen.append(["resume", resume] if resume else ["resume"])
    if not chosen:
        return None
    if len(chosen) > 1:
        raise ValueError("use one of --list, --resume and --kill at a time")
    if getattr(args, "command", None):
        raise ValueError(f"--{chosen[0][0]} takes no command (a resumed session keeps its own)")
    return chosen[0]
