"""A pymosh-server's durable side: its registry record, its control socket, resume.

``Attachment`` is the sans-I/O core: fed the time the current client was last heard from,
it says attached / detached / resuming and when that changes, and it decides whether a
resume may happen. ``DurableSession`` is the glue the server's loop drives: it keeps the
record up to date (on changes only, never per datagram) and answers control requests.

Resume is exactly-once and nonce-safe: every resume issues a FRESH key (generated here,
handed out only over the control socket to the same user); the server then builds a new
connection with it and the old key is never accepted again, so no (key, nonce) pair can
repeat even if the old client wakes up and keeps sending. A second resume while the first
one's client has not shown up yet is refused, so two racing resumes cannot both win.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from pymosh.crypto.key import format_key, new_key
from pymosh.frontend import control, registry
from pymosh.frontend.control import ControlListener
from pymosh.frontend.registry import DETACHED_AFTER_S, Record

DETACHED_AFTER = DETACHED_AFTER_S * 1000.0
RESUME_PENDING = 30000.0  # ms a resumed session waits for its new client before
# another resume may take it
RETRY = 10000.0  # ms before a record write that failed (a full disk) is tried again
INF = float("inf")


class Attachment:
    """attached / detached / resuming / starting, from when the client was last heard."""

    def __init__(self) -> None:
        self.state = "starting"
        self.resumed_at: float | None = None
        self.ever_heard = False

    def update(self, now: float, last_heard: float | None) -> bool:
        """Recompute the state; True if it changed."""
        if last_heard is not None:
            self.ever_heard = True
            self.resumed_at = None
            state = "attached" if now - last_heard < DETACHED_AFTER else "detached"
        elif self.resumed_at is not None and now - self.resumed_at < RESUME_PENDING:
            state = "resuming"
        elif self.ever_heard or self.resumed_at is not None:
            state = "detached"
        else:
            state = "starting"
        changed = state != self.state
        self.state = state
        return changed

    def wait_time(self, now: float, last_heard: float | None) -> float:
        if self.state == "attached" and last_heard is not None:
            return max(last_heard + DETACHED_AFTER - now, 0)
        if self.state == "resuming" and self.resumed_at is not None:
            return max(self.resumed_at + RESUME_PENDING - now, 0)
        return INF

    def may_resume(self, detached_only: bool) -> str | None:
        """None if a resume may go ahead, else why not (one line)."""
        if self.state == "resuming":
            return "another client is resuming this session right now; try again shortly"
        if detached_only and self.state != "detached":
            return f"session is {self.state}, not detached (give its ID to take it over)"
        return None

    def resumed(self, now: float) -> None:
        self.resumed_at = now
        self.state = "resuming"


def wall_time(now: float, at: float | None) -> float | None:
    """A monotonic-ms instant as wall-clock seconds (records are read by other processes)."""
    return None if at is None else round(time.time() - (now - at) / 1000.0, 3)


def format_addr(addr: Any) -> str | None:
    if not addr:
        return None
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class DurableSession:
    """Record + control socket of one session. The server supplies two callbacks:
    ``on_resume(key)`` (switch to a new connection with this key) and ``on_kill()``."""

    def __init__(
        self,
        directory: str,
        record: Record,
        listener: ControlListener,
        on_resume: Callable[[bytes], None],
        on_kill: Callable[[], None],
        now: float,
    ) -> None:
        self.directory = directory
        self.record = record
        self.listener = listener
        self.listen_fd = listener.sock.fileno()  # where a control request starts
        self.on_resume = on_resume
        self.on_kill = on_kill
        self.attachment = Attachment()
        self.retry_at = INF  # when a failed record write is tried again (INF: none failed)
        self.noted_client: Any = None  # the client address the last full turn saw

    @classmethod
    def create(
        cls,
        port: int,
        command: list[str],
        on_resume: Callable[[bytes], None],
        on_kill: Callable[[], None],
        now: float,
    ) -> DurableSession:
        """Register this process; RegistryError or OSError if the registry is unusable."""
        directory = registry.sessions_dir()
        session_id = registry.new_id(directory)
        pid = os.getpid()
        record = Record(
            session_id, pid, registry.process_start(pid) or 0, port, round(time.time(), 3), command
        )
        listener = ControlListener(registry.socket_path(directory, session_id))
        try:
            registry.write_record(directory, record)
        except OSError:
            listener.close()
            raise
        return cls(directory, record, listener, on_resume, on_kill, now)

    # ---------------------------------------------------------------- the loop's calls

    # (each runs on every wake-up of an idle session: without a request being read, the
    # listener's own methods are not called)
    def filenos(self) -> list[int]:
        return self.listener.filenos() if self.listener.pending else [self.listen_fd]

    def wait_time(self, now: float, last_heard: float | None) -> float:
        # the retry of a failed write needs no wake-up of its own: the client's heartbeat
        # (every 3 s) brings a turn soon after it is due
        wait = self.attachment.wait_time(now, last_heard)
        return min(wait, self.listener.wait_time(now)) if self.listener.pending else wait

    def quiet_until(self, last_heard: float | None) -> float:
        """Until when ``turn`` would return at once (for the client it noted last, with its
        control socket not readable); -inf while a request is open. The loop may skip the
        turn until then (a later ``last_heard`` only moves this later)."""
        if self.listener.pending or self.attachment.state != "attached" or last_heard is None:
            return -INF
        return min(last_heard + DETACHED_AFTER, self.retry_at)

    def idle_limits(self, client: Any) -> tuple[float, float] | None:
        """(ms after the client was last heard, a time): until either, `turn` returns at once
        for ``client`` while the control socket is not readable; None if it may not now."""
        if (
            self.listener.pending
            or self.attachment.state != "attached"
            or client != self.noted_client
        ):
            return None
        return DETACHED_AFTER, self.retry_at

    def turn(self, ready: set[int], now: float, last_heard: float | None, client: Any) -> None:
        """Answer control requests, then write the record if anything worth it changed."""
        if (
            client == self.noted_client
            and self.attachment.state == "attached"
            and last_heard is not None
            and now - last_heard < DETACHED_AFTER
            and now < self.retry_at
            and not self.listener.pending
            and self.listen_fd not in ready
        ):
            return  # the idle turn (no request, same client, nothing due): nothing changes
        self.noted_client = client
        for sock, req in self.listener.poll(ready, now):
            answer = self._answer(req, now, last_heard, client)
            control.reply(sock, answer)
            if answer["ok"] and req.get("op") == "kill":
                self.on_kill()
            if answer["ok"] and req.get("op") == "resume":
                last_heard = client = None  # the new connection has heard nobody yet
        self._note(now, last_heard, client)

    def _answer(
        self, req: dict[str, Any], now: float, last_heard: float | None, client: Any
    ) -> dict[str, Any]:
        op = req.get("op")
        if op == "status":
            self.attachment.update(now, last_heard)
            return {
                "ok": True,
                "id": self.record.id,
                "state": self.attachment.state,
                "last_heard": wall_time(now, last_heard),
                "client": format_addr(client),
            }
        if op == "kill":
            return {"ok": True}
        if op == "resume":
            self.attachment.update(now, last_heard)
            why = self.attachment.may_resume(bool(req.get("detached_only")))
            if why is not None:
                return {"ok": False, "error": why}
            key = new_key()
            self.on_resume(key)
            self.attachment.resumed(now)
            self._write(now, None, None)
            return {"ok": True, "port": self.record.port, "key": format_key(key)}
        return {"ok": False, "error": f"unknown request {str(op)[:20]!r}"}

    def _note(self, now: float, last_heard: float | None, client: Any) -> None:
        self.attachment.update(now, last_heard)
        address = format_addr(client) if last_heard is not None else self.record.client
        if (
            self.attachment.state != self.record.state
            or address != self.record.client
            or now >= self.retry_at
        ):
            self._write(now, last_heard, address)

    def _write(self, now: float, last_heard: float | None, address: str | None) -> None:
        record = self.record
        record.state = self.attachment.state
        record.client = address
        heard = wall_time(now, last_heard)
        if heard is not None:
            record.last_heard = heard
        try:
            registry.write_record(self.directory, record)
        except OSError:
            self.retry_at = now + RETRY  # a full disk: the session goes on, the record later
        else:
            self.retry_at = INF

    def close(self) -> None:
        self.listener.close()
        registry.remove_session_files(self.directory, self.record.id)


def register(server: Any, port: int, command: list[str]) -> None:
    """Give a starting server its record and control socket, and tell the user (on the
    session's screen, like Mosh's detached-session warning) about detached sessions.
    A registry that cannot be used safely is reported there too; the session still runs."""
    from pymosh.frontend.loop import now_ms

    try:
        directory = registry.sessions_dir()
        others, _ = registry.scan(directory)
        server.durable = DurableSession.create(
            port, command, server.resume_with, server.request_kill, now_ms()
        )
    except (registry.RegistryError, OSError) as exc:
        server.terminal.act(f"pymosh: no resume for this session: {_one_line(exc)}\r\n".encode())
        return
    detached = [r for r in others if r.detached]
    if detached:
        count = len(detached)
        plural = "s" if count > 1 else ""
        server.terminal.act(
            f"pymosh: {count} detached session{plural} on this server "
            f"(pymosh --list HOST shows, pymosh --resume[=ID] HOST resumes).\r\n".encode()
        )


def _one_line(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split())
