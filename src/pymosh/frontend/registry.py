"""The session registry: one record per live pymosh-server in ``<state dir>/sessions/``.

A record ``<id>.json`` (0600, replaced atomically) says which process serves the session,
on which UDP port, since when, whether a client is attached and from where. It holds no
secret: the session key never leaves the server process except through the control
socket ``<id>.sock`` (see ``pymosh.frontend.control``).

Records are checked before use (a regular file, ours, 0600, well-formed, its id matching
its name); a record whose process is gone, or whose pid now belongs to another process
(the start time differs), is removed by whoever lists the registry. A record that fails
the checks is reported in one line and left alone: we do not delete what we do not own.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from typing import Any, Iterable, Mapping

from pymosh.frontend import userdir
from pymosh.frontend.userdir import UserDirError

RECORD_VERSION = 1
MAX_RECORD_BYTES = 16384
# A session is detached when no authenticated datagram arrived from its client for this
# long: a live client sends at least one every 3 s (Mosh's heartbeat), so 10 s is three
# missed heartbeats.
DETACHED_AFTER_S = 10
STATES = ("starting", "attached", "detached", "resuming")
_ID_CHARS = set("0123456789abcdef")


class RegistryError(Exception):
    """A problem with the registry or one record; the message is one line for the user."""


def sessions_dir(environ: Mapping[str, str] = os.environ) -> str:
    try:
        return userdir.subdir("sessions", environ)
    except UserDirError as exc:
        raise RegistryError(f"session registry unavailable: {exc}") from None


def valid_id(session_id: str) -> bool:
    return 4 <= len(session_id) <= 32 and set(session_id) <= _ID_CHARS


def new_id(directory: str) -> str:
    while True:
        session_id = secrets.token_hex(4)
        if not os.path.lexists(os.path.join(directory, session_id + ".json")):
            return session_id


def process_start(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if it is gone.

    With the pid it identifies a process: a reused pid has a later start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return _start_without_proc(pid)
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def _start_without_proc(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


# ------------------------------------------------------------------ one record


class Record:
    """One session's record (a plain class: kept cheap for the server's start-up)."""

    FIELDS: dict[str, Any] = {
        "version": int,
        "id": str,
        "pid": int,
        "proc_start": int,
        "port": int,
        "started": float,
        "last_heard": (float, type(None)),
        "state": str,
        "command": list,
        "client": (str, type(None)),
    }

    def __init__(
        self,
        session_id: str,
        pid: int,
        proc_start: int,
        port: int,
        started: float,
        command: list[str],
        state: str = "starting",
        last_heard: float | None = None,
        client: str | None = None,
    ) -> None:
        self.id = session_id
        self.pid = pid
        self.proc_start = proc_start
        self.port = port
        self.started = started
        self.command = command
        self.state = state
        self.last_heard = last_heard
        self.client = client

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "id": self.id,
            "pid": self.pid,
            "proc_start": self.proc_start,
            "port": self.port,
            "started": self.started,
            "last_heard": self.last_heard,
            "state": self.state,
            "command": self.command,
            "client": self.client,
        }

    @classmethod
    def from_json(cls, data: Any) -> Record:
        if not isinstance(data, dict) or set(data) != set(cls.FIELDS):
            raise ValueError("unexpected fields")
        for name, kind in cls.FIELDS.items():
            value = data[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = data[name] = float(value)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"bad {name}")
        if data["version"] != RECORD_VERSION:
            raise ValueError(f"version {data['version']}")
        if not valid_id(data["id"]) or data["state"] not in STATES:
            raise ValueError("bad id or state")
        if not 0 < data["pid"] < 1 << 31 or not 0 <= data["port"] <= 65535:
            raise ValueError("bad pid or port")
        if not all(isinstance(word, str) for word in data["command"]):
            raise ValueError("bad command")
        return cls(
            data["id"],
            data["pid"],
            data["proc_start"],
            data["port"],
            data["started"],
            data["command"],
            data["state"],
            data["last_heard"],
            data["client"],
        )

    @property
    def detached(self) -> bool:
        return self.state == "detached"

    def alive(self) -> bool:
        """The recorded process still runs (the same process, not a reuse of its pid)."""
        start = process_start(self.pid)
        return start is not None and (start == self.proc_start or start == 0)


def record_path(directory: str, session_id: str) -> str:
    return os.path.join(directory, session_id + ".json")


def socket_path(directory: str, session_id: str) -> str:
    return os.path.join(directory, session_id + ".sock")


def write_record(directory: str, record: Record) -> None:
    data = json.dumps(record.to_json(), separators=(",", ":")).encode()
    userdir.write_private_file(record_path(directory, record.id), data)


def read_record(path: str) -> Record:
    """A checked record; RegistryError (one line) for anything not ours or malformed."""
    name = os.path.basename(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise RegistryError(f"session record {name}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RegistryError(f"session record {name}: not a regular file")
        if info.st_uid != os.geteuid():
            raise RegistryError(f"session record {name}: owned by uid {info.st_uid}")
        if info.st_mode & 0o077:
            raise RegistryError(
                f"session record {name}: mode {stat.S_IMODE(info.st_mode):04o} is not private"
            )
        data = os.read(fd, MAX_RECORD_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_RECORD_BYTES:
        raise RegistryError(f"session record {name}: too large")
    try:
        record = Record.from_json(json.loads(data.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"session record {name}: malformed ({exc})") from None
    if name != record.id + ".json":
        raise RegistryError(f"session record {name}: names session {record.id}")
    return record


def remove_session_files(directory: str, session_id: str) -> None:
    for path in (record_path(directory, session_id), socket_path(directory, session_id)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def scan(directory: str, reap: bool = True) -> tuple[list[Record], list[str]]:
    """(records of live sessions, oldest first; one-line warnings about bad records).

    With ``reap``, the files of sessions whose process has ended are removed."""
    records: list[Record] = []
    warnings: list[str] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise RegistryError(f"cannot read {directory}: {exc.strerror}") from None
    for name in names:
        if not name.endswith(".json") or ".tmp" in name:
            continue
        try:
            record = read_record(os.path.join(directory, name))
        except RegistryError as exc:
            warnings.append(f"ignoring {exc}")
            continue
        if record.alive():
            records.append(record)
        elif reap:
            remove_session_files(directory, record.id)
    records.sort(key=lambda r: r.started)
    return records, warnings


def find(records: Iterable[Record], session_id: str) -> Record | None:
    for record in records:
        if record.id == session_id:
            return record
    return None


# ------------------------------------------------------------------ presentation


def _ago(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def table(records: list[Record], now: float | None = None) -> str:
    """The human listing: one line per session."""
    now = time.time() if now is None else now
    rows = [("ID", "PID", "PORT", "STARTED", "STATE", "LAST CONTACT", "CLIENT", "COMMAND")]
    for r in records:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
        if r.state == "attached":
            heard = "now"  # heard within DETACHED_AFTER_S (the server rewrites the record when not)
        else:
            heard = _ago(now - r.last_heard) if r.last_heard is not None else "never"
        rows.append(
            (
                r.id,
                str(r.pid),
                str(r.port),
                started,
                r.state,
                heard,
                r.client or "-",
                " ".join(r.command) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def as_json(records: list[Record]) -> str:
    return json.dumps([r.to_json() for r in records], indent=1) + "\n"
