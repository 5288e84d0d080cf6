"""``pymosh-server list [--json]``, ``pymosh-server kill ID|all-detached``,
``pymosh-server resume [ID]``: the session registry from the shell.

``resume`` prints ``MOSH CONNECT <port> <key>`` like ``new`` (the wrapper's bootstrap reads
it); the key is a fresh one the session issued for this resume, on stdout only. Every
failure is one line on stderr and exit status 1; the sessions themselves are untouched.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Sequence

from pymosh.frontend import control, registry
from pymosh.frontend.bootstrap import CHOOSE_SESSION
from pymosh.frontend.registry import Record, RegistryError

USAGE = "Usage: pymosh-server list [--json] | kill ID|all-detached | resume [ID]"
KILL_WAIT = 5.0  # s to wait for a killed session's process to end


class CommandError(Exception):
    pass


def run(argv: Sequence[str]) -> int:
    command, args = argv[0], list(argv[1:])
    try:
        directory = registry.sessions_dir()
        records, warnings = registry.scan(directory)
        if command == "list" and args in ([], ["--json"]):
            for warning in warnings:  # only here: kill/resume answers stay one line
                sys.stderr.write(f"pymosh-server: {warning}\n")
            sys.stdout.write(registry.as_json(records) if args else _listing(records))
            return 0
        if command == "kill" and len(args) == 1:
            return _kill(directory, records, args[0])
        if command == "resume" and len(args) <= 1:
            return _resume(directory, records, args[0] if args else None)
        raise CommandError(USAGE)
    except (RegistryError, CommandError, control.ControlError) as exc:
        sys.stderr.write(f"pymosh-server: {exc}\n")
        return 1


def _listing(records: list[Record]) -> str:
    if not records:
        return "No pymosh sessions.\n"
    return registry.table(records)


def _lookup(records: list[Record], session_id: str) -> Record:
    if not registry.valid_id(session_id):
        raise CommandError(f"{session_id[:40]!r} is not a session ID (see pymosh-server list)")
    record = registry.find(records, session_id)
    if record is None:
        raise CommandError(f"no session {session_id} (see pymosh-server list)")
    return record


def _kill(directory: str, records: list[Record], target: str) -> int:
    victims = (
        [r for r in records if r.detached]
        if target == "all-detached"
        else [_lookup(records, target)]
    )
    status = 0
    for record in victims:
        try:
            _ask(directory, record, {"op": "kill"})
        except (CommandError, control.ControlError) as exc:
            sys.stderr.write(f"pymosh-server: session {record.id}: {exc}\n")
            status = 1
            continue
        deadline = time.monotonic() + KILL_WAIT
        while record.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        sys.stdout.write(f"Killed session {record.id} (pid {record.pid}).\n")
    if not victims:
        sys.stdout.write("No detached sessions.\n")
    return status


def _resume(directory: str, records: list[Record], session_id: str | None) -> int:
    if session_id is not None:
        record = _lookup(records, session_id)
    else:
        detached = [r for r in records if r.detached]
        if not detached:
            raise CommandError(
                f"no detached session to resume ({len(records)} running; see pymosh-server list)"
            )
        if len(detached) > 1:
            sys.stderr.write(registry.table(detached))
            sys.stdout.write(f"{CHOOSE_SESSION}\n")  # the wrapper asks the user
            sys.stdout.flush()
            raise CommandError(f"{len(detached)} detached sessions: choose one with --resume=ID")
        record = detached[0]
    answer = _ask(directory, record, {"op": "resume", "detached_only": session_id is None})
    port, key = answer.get("port"), answer.get("key")
    if not isinstance(port, int) or not isinstance(key, str) or len(key) != 22:
        raise CommandError(f"session {record.id} gave a malformed resume answer")
    if os.isatty(1):
        sys.stdout.write("\r\n")
    sys.stdout.write(f"MOSH CONNECT {port} {key}\n")
    sys.stdout.flush()
    return 0


def _ask(directory: str, record: Record, message: dict) -> dict:
    answer = control.request(registry.socket_path(directory, record.id), message)
    if not answer["ok"]:
        error = answer.get("error")
        raise CommandError(error if isinstance(error, str) else "request refused")
    return answer
