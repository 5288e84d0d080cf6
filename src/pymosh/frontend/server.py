"""``pymosh-server new [-s] [-c COLORS] [-i IP] [-p PORT[:PORT2]] [-l NAME=VALUE]... [-v] [-- cmd]``

Command line and start-up output follow mosh-server 1.4.0 (protocol.md §7.1): ``MOSH
CONNECT <port> <key>`` on stdout, the banner on stderr, then the process detaches and
serves one session: UDP socket <-> SSP transport <-> CompleteTerminal <-> pty.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from typing import TYPE_CHECKING, Any, Sequence

from pymosh import __version__, _accel
from pymosh.crypto.key import format_key, new_key
from pymosh.frontend.locale_policy import shell_locale
from pymosh.frontend.loop import EventLoop, now_ms
from pymosh.frontend.ports import PortRangeError, parse_port_range
from pymosh.frontend.pty_host import PtyHost, user_shell
from pymosh.frontend.termcolour import shell_colour_env
from pymosh.frontend.tty import get_winsize
from pymosh.network.udp import ServerSocket

# The session's modules (transport, emulator, protobuf) are imported by Server, i.e. in
# the detached child after ``MOSH CONNECT`` is printed, while the client starts up.
if TYPE_CHECKING:
    import socket

    from pymosh.frontend.forwarding import ServerSetup
    from pymosh.frontend.resume import DurableSession
    from pymosh.network.transport import Transport
    from pymosh.statesync.archive import HistoryArchive
    from pymosh.statesync.complete import CompleteTerminal
    from pymosh.statesync.history import HistoryLog
    from pymosh.statesync.user_stream import UserStream
    from pymosh.wire.protobuf import Hello

USAGE = (
    "Usage: pymosh-server new [-s] [-v] [-i LOCALADDR] [-p PORT[:PORT2]] "
    "[--no-share-port] [-c COLORS] [-l NAME=VALUE] [-A] [-R [BIND:]PORT:HOST:HOSTPORT]... "
    "[--scrollback=N] [-- COMMAND...]"
)
NO_CLIENT_TIMEOUT = 60000  # ms without any client after start-up
INFINITY = float("inf")
IDLE_WAIT = 5000  # cap on a wait while no client / shutting down
SEND_MINDELAY = 2  # ms the first pty output after a quiet spell is collected
# (Mosh: 8; 1-2 ms gave echo p50 10.6 ms vs 12.0 ms at 8)
ECHO_WAIT = 2  # ms to wait for the pty's answer to input just written
ECHO_WINDOW = 20  # ms after input in which pty output counts as its answer
# Echo policy (Mosh has none): the first pty output within ECHO_WINDOW of input the
# client sent goes out in the same turn, skipping the mindelay and the frame interval; at
# most one such frame per input, so their rate is bounded by the client's input frames
# (which follow Nagle's rule: one per round trip, else Mosh's pacing). While output
# streams without input, every frame keeps Mosh's pacing, so bulk output is unchanged.
FULL_READ = 2048  # bytes: a pty read this long probably left more output waiting ...
MORE_READS = 15  # ... so up to this many more reads go into the same turn (bulk output)
START_WINDOW = 20  # ms after the shell's first output in which ...
START_FRAMES = 3  # ... this many more pty reads go out at once, each in its own turn
# Start-up policy (Mosh has none): the shell's first output (after the first client state
# released it) goes out at once, and so do the next few reads soon after it: a prompt is
# often more than one write (bash turns on bracketed paste, then prints the prompt), and
# a frame holding only the first would leave the prompt a whole frame interval behind.


class UsageError(Exception):
    pass


class ServerOptions:
    # a plain class: ``dataclasses`` costs ~6 ms of start-up before MOSH CONNECT
    def __init__(self) -> None:
        self.ssh_bind = False
        self.ip: str | None = None
        self.port: str | None = None
        self.share_port = True  # -p with one port: share it with our other sessions
        self.colors = 0
        self.locales: list[str] = []
        self.verbose = 0
        self.command: list[str] = []
        self.help = False
        self.version = False
        self.warnings: list[str] = []
        self.scrollback: int | None = None  # most history lines granted (None: no cap)

    def __repr__(self) -> str:
        return f"ServerOptions({vars(self)!r})"


def parse_args(argv: Sequence[str]) -> ServerOptions:
    """mosh-server's command line: options only after ``new``; unknown options warn."""
    opts = ServerOptions()
    args = list(argv)
    if "--help" in args or "-h" in args[:1]:
        opts.help = True
        return opts
    if "--version" in args:
        opts.version = True
        return opts
    if args and args[0] == "new":
        args = args[1:]
    elif args:
        # legacy forms: IP [PORT]
        opts.ip = args[0]
        if len(args) > 1:
            opts.port = args[1]
        return opts
    takes_value = set("@ipcl")
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            opts.command = args[i:]
            break
        if arg == "new":  # repeated "new" (e.g. after the test harness's -@)
            continue
        if arg == "--no-share-port":
            opts.share_port = False
            continue
        if arg.startswith("--scrollback="):
            value = arg.split("=", 1)[1]
            if not value.isdigit():
                raise UsageError(f"--scrollback: not a number of lines: {value!r}")
            opts.scrollback = int(value)
            continue
        if not arg.startswith("-") or arg == "-":
            opts.command = args[i - 1 :]
            break
        j = 1
        while j < len(arg):
            flag = arg[j]
            j += 1
            if flag in takes_value:
                if j < len(arg):
                    value, j = arg[j:], len(arg)
                elif i < len(args):
                    value, i = args[i], i + 1
                else:
                    raise UsageError(f"option -{flag} needs an argument")
                _set_value(opts, flag, value)
            elif flag == "s":
                opts.ssh_bind = True
            elif flag == "v":
                opts.verbose += 1
            elif flag == "h":
                opts.help = True
            else:
                opts.warnings.append(f"Unknown option -{flag}")
    return opts


def _set_value(opts: ServerOptions, flag: str, value: str) -> None:
    if flag == "i":
        opts.ip = value
    elif flag == "p":
        opts.port = value
    elif flag == "c":
        if not value.lstrip("-").isdigit():
            raise UsageError(f"Bad number of colors: {value}")
        opts.colors = int(value)
    elif flag == "l":
        opts.locales.append(value)
    # "@": swallowed (the e2e harness's no-op option)


def ssh_local_ip(environ: dict[str, str] | os._Environ) -> str | None:
    """The server side address of the ssh connection (3rd word of SSH_CONNECTION)."""
    words = environ.get("SSH_CONNECTION", "").split()
    if len(words) != 4:
        return None
    ip = words[2]
    return ip[len("::ffff:") :] if ip.startswith("::ffff:") else ip


# ------------------------------------------------------------------------ the session


class Server:
    """One session's event loop. All protocol decisions live in the sans-I/O cores."""

    def __init__(
        self,
        sock: ServerSocket,
        key: bytes,
        pty: PtyHost,
        width: int,
        height: int,
        verbose: int = 0,
        forward: ServerSetup | None = None,
        scrollback: int | None = None,
    ) -> None:
        self.sock = sock
        self.pty = pty
        self.verbose = verbose
        from pymosh.statesync.complete import CompleteTerminal

        now = now_ms()
        self.start_time = now
        self.terminal = CompleteTerminal(width, height)
        self._connect(key, now, self.terminal)
        self.scrollback_cap = scrollback
        # the history log once a client's hello asked for scrollback
        self.history: HistoryLog | None = None
        # the session's newest history lines, for a resumed client (from the first grant on)
        self.archive: HistoryArchive | None = None
        self.replay_to: str | None = None  # a resume's session ID until its client's hello
        self.last_remote_state_time: float | None = None
        self.input_at = -float("inf")  # when input was last written to the pty, unanswered
        # the shell starts when the first client state arrives; its first output (the
        # prompt the user waits for) answers that arrival like an echo: sent at once
        self.shell_released = False
        self.first_output_due = False
        self.start_frames = 0  # reads still sent at once after the first output ...
        self.start_until = -float("inf")  # ... until then
        self.pty_open = True
        self.network_timeout = _env_seconds("MOSH_SERVER_NETWORK_TMOUT")
        self.signal_timeout = _env_seconds("MOSH_SERVER_SIGNAL_TMOUT")
        self.loop = EventLoop()
        from pymosh.frontend.heartbeat import HeartbeatPhase

        self.heartbeat = HeartbeatPhase()
        from pymosh.frontend.bursts import OutputBursts

        self.bursts = OutputBursts()  # a long burst's last frame skips the interval
        from pymosh.frontend.forwarding import server_forwarding

        self.forward = forward
        self.forwarding = server_forwarding(
            self.transport, self.terminal, forward.listeners if forward else ()
        )
        self.durable: DurableSession | None = None  # registry record + control socket
        self.kill_requested = False

    def log(self, message: str) -> None:
        if self.verbose:
            sys.stderr.write(f"{message}\n")
            sys.stderr.flush()

    def run(self) -> int:
        loop = self.loop
        loop.watch_signals([signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
        try:
            return self._run()
        finally:
            if self.durable is not None:
                self.durable.close()
            loop.close()
            self.forwarding.close()
            if self.forward is not None:
                self.forward.close()
            self.pty.close()
            self.sock.close()

    def _run(self) -> int:
        # The idle session wakes once per heartbeat interval (the client's heartbeat, which
        # brings the server's own: HeartbeatPhase): every call below runs on each wake-up,
        # with cold caches, so the turn asks each part once and skips what is absent or has
        # nothing to do.
        loop = self.loop
        phase = self.heartbeat
        pty_fd = self.pty.fd
        watched: list[int] = []
        # forwarding with nothing open nor in flight has nothing to watch, wait for or do
        # (as the last turn left it: nothing between its end and the next wait adds any)
        streams_idle = self.forwarding.idle()
        # the durable session's turn returns at once until then, for this client, unless
        # its control socket is readable (DurableSession.quiet_until)
        durable_quiet = -float("inf")
        durable_client: Any = None
        while True:
            transport = self.transport
            sender = transport.sender
            durable = self.durable
            forwarding = self.forwarding
            now = now_ms()
            sockets = self.endpoint.filenos()
            readers = sockets + durable.filenos() if durable is not None else sockets[:]
            if self.pty_open and not sender.shutdown_in_progress:
                readers.append(pty_fd)
            if not streams_idle:
                readers += forwarding.filenos()
            if readers != watched:
                loop.set_readers(readers)
                watched = readers
            wait = transport.wait_time(now)
            if phase.hold(sender, transport.connection.last_heard) and wait != INFINITY:
                wait = max(sender.next_ack_time - now, 0)  # (nothing else is due)
            if not streams_idle:
                wait = min(wait, forwarding.wait_time(now))
            if len(self.terminal.input_history) > 1:
                wait = min(wait, self.terminal.wait_time(now))
            if self.history is not None:
                wait = min(wait, self.history.wait_time(now))
            if not self.bursts.settled:
                burst_end = self.bursts.due(transport.connection.send_interval())
                wait = min(wait, max(burst_end - now, 0))
            if transport.remote_addr is None or sender.shutdown_in_progress:
                wait = min(wait, IDLE_WAIT)
            if self.last_remote_state_time is None:
                wait = min(wait, max(self.start_time + NO_CLIENT_TIMEOUT - now, 0))
            elif self.network_timeout is not None:
                wait = min(wait, max(self.last_remote_state_time + self.network_timeout - now, 0))
            if durable is not None:
                wait = min(wait, durable.wait_time(now, transport.connection.last_heard))
            waited_from = now
            if self._lane_ready(now, streams_idle):
                ready, signals = self._idle(now)  # (the steady heartbeat exchange)
            else:
                ready, signals = loop.wait(wait)
            now = now_ms()
            self.bursts.quiet += now - waited_from
            if durable is not None:
                connection = transport.connection
                heard = connection.last_heard
                client = connection.remote_addr if heard is not None else None
                if now >= durable_quiet or client != durable_client or durable.listen_fd in ready:
                    durable.turn(ready, now, heard, client)
                    transport = self.transport  # a resume replaces it
                    durable_quiet = durable.quiet_until(transport.connection.last_heard)
                    durable_client = durable.noted_client

            if ready and not ready.isdisjoint(sockets):
                previous = transport.connection.last_heard
                self.endpoint.receive(now)
                if transport.remote_state_num != self.last_remote_num:
                    if not self._consume_user_input(now):
                        phase.answer(transport.sender, previous, now)  # (if a heartbeat)
                    elif pty_fd not in ready:
                        # the shell's echo takes a fraction of a millisecond: take it
                        # into this turn's frame rather than sending a frame without it
                        # (which would hold the echo back a whole frame interval)
                        if self._pty_answers_within(ECHO_WAIT):
                            ready.add(pty_fd)
                            now = now_ms()

            if ready and self.pty_open and pty_fd in ready and self._read_pty(now):
                if now - self.input_at <= ECHO_WINDOW or self._start_output(now):
                    transport.expedite()
                self.input_at = -float("inf")
                self.bursts.output(now)
            elif not self.bursts.settled and self.bursts.take(
                now, transport.connection.send_interval()
            ):
                transport.expedite()  # the output stopped: its last frame goes out now

            forwarding = self.forwarding
            streams_idle = forwarding.idle()  # (a frame from the client makes it busy)
            if not streams_idle:
                forwarding.turn(ready, now)
                streams_idle = forwarding.idle()
            history = self.terminal.input_history
            if history and history[-1][0] > self.terminal.echo_ack:
                if not transport.shutdown_in_progress():
                    # the shutdown state is resent unchanged (the fragmenter refuses the same
                    # (old, new) numbers with another diff): input arriving meanwhile is not
                    # acked. (Nothing newer than the echo ack: nothing to advance.)
                    self.terminal.set_echo_ack(now)

            quit_now = self._handle_signals(signals, now) if signals else False
            if self.kill_requested:
                quit_now = self._begin_shutdown(now, "killed (pymosh-server kill)") or quit_now
            # Like mosh-server: an idle network means the client is presumed gone, so one
            # shutdown instruction goes out (below) and the server exits without waiting.
            network_idle = (
                self.network_timeout is not None
                and self.last_remote_state_time is not None
                and self._network_idle(now)
            )
            if network_idle:
                quit_now = quit_now or self._begin_shutdown(now, "network idle")
            if quit_now:
                return 0
            if self.last_remote_state_time is None and now - self.start_time >= NO_CLIENT_TIMEOUT:
                self.log("No connection within 60 seconds.")
                return 0

            history_log = self.history
            if history_log is None:
                sent = self.endpoint.send(now)
            else:
                if history_log.ready(now):  # (cheap: bulk output and idle turns say no)
                    self._pump_history(now, 0)
                sent = self.endpoint.send(now)
                if sent or history_log.ready(now):
                    self._pump_history(now, sent)
            if sent and self.endpoint.send_error is not None:
                self.log(f"sendto: {self.endpoint.send_error}")

            if network_idle:
                return 0
            # (the acknowledgement of our shutdown is recorded only by a send)
            if sent and transport.counterparty_shutdown_ack_sent():
                self.log("Client shut down; exiting.")
                return 0
            if transport.sender.shutdown_in_progress and (
                transport.shutdown_acknowledged() or transport.shutdown_ack_timed_out(now)
            ):
                return 0

    # ---------------------------------------------------------------- the idle lane

    def _lane_ready(self, now: float, streams_idle: bool) -> bool:
        """Whether the session is in the steady idle state, where the only events are the
        heartbeats (`pymosh.frontend.lane`): asked once per turn, after the timer pass."""
        transport = self.transport
        sender = transport.sender
        if not (streams_idle and sender.heartbeat_only() and self.network_timeout is None):
            return False
        connection = transport.connection
        if (
            not connection.has_remote_addr
            or connection.last_heard is None
            or self.last_remote_state_time is None  # (else also: the shell is released)
            or sender.ack_expedited
            or sender.expedited
            or sender.mindelay_clock is not None
            or sender.sent_states[0].state is not sender.sent_states[-1].state
            or self.last_remote_num != transport.remote_state_num
            or transport.fragments.current_id is None
            or transport.fragments._parts
        ):
            return False
        terminal = self.terminal
        inputs = terminal.input_history
        if len(inputs) > 1 or (inputs and inputs[-1][0] > terminal.echo_ack):
            return False
        history = self.history
        if history is not None and (history.ready(INFINITY) or history.wait_time(now) != INFINITY):
            return False
        return self.durable is None or self.durable.idle_limits(connection.remote_addr) is not None

    def _idle(self, now: float) -> tuple[set[int], list[int]]:
        """Wait with the idle lane armed: it answers the client's heartbeats and sends the
        server's until an event that is the ordinary turn's, which this returns like
        `EventLoop.wait` (a datagram the lane declined is held for `Endpoint.receive`)."""
        lane = self.lane
        durable = self.durable
        limits = (
            None if durable is None else durable.idle_limits(lane.transport.connection.remote_addr)
        )
        detach_after, limit = (INFINITY, INFINITY) if limits is None else limits
        lane.arm(now, self.heartbeat.held, detach_after, limit)
        try:
            ready, signals, error = self._lane_module.wait_armed(
                lane, self.endpoint, self.loop.wait, now_ms, now
            )
        finally:
            lane.disarm()
            self.last_remote_num = lane.transport.remote_state_num
            if lane.state_at is not None:
                self.last_remote_state_time = lane.state_at
            self.heartbeat.held = lane.held
            if lane.sends and self.history is not None:
                self.history.sent()
        if error is not None:
            self.endpoint.failed(error)
            self.log(f"sendto: {error}")
        return ready, signals

    # ---------------------------------------------------------------- durable sessions

    def _connect(self, key: bytes, now: float, base: CompleteTerminal) -> None:
        """The connection for ``key``: the transport sends the live terminal (it copies what
        it sends) as diffs from ``base``, the state the client is assumed to start from."""
        from pymosh.network.connection import FAST_START_RTTVAR, FAST_START_SRTT, Connection
        from pymosh.network.endpoint import Endpoint
        from pymosh.network.transport import Transport
        from pymosh.statesync.user_stream import UserStream

        self._lane_module = _accel.pick("lane")
        connection = Connection(
            key,
            True,
            now=now,
            family=self.sock.family,
            initial_srtt=FAST_START_SRTT,
            initial_rttvar=FAST_START_RTTVAR,
        )
        self.transport: Transport[CompleteTerminal, UserStream] = Transport(
            base, UserStream(), connection, now, send_mindelay=SEND_MINDELAY
        )
        self.transport.current_state = self.terminal
        self.endpoint = Endpoint(self.transport, self.sock)
        self.lane = self._lane_module.IdleLane(self.transport)
        self.last_remote_num = self.transport.remote_state_num

    def resume_with(self, key: bytes) -> None:
        """A resume: a new connection with a fresh key. The screen carries over; the user
        stream starts afresh; the old key is refused from now on (pymosh.frontend.resume)."""
        from pymosh.statesync.complete import CompleteTerminal

        now = now_ms()
        # a 1x1 base: the first frame carries a Resize and a full repaint, whatever size
        # the new client's blank screen has
        self._connect(key, now, CompleteTerminal(1, 1))
        # the new client's state numbers start at 0; it gets a hello only after its own
        self.terminal.echo_ack = 0
        self.terminal.input_history.clear()
        self.terminal.hello = None
        # the old client's history log ends with it (the rows it left unrendered in the
        # emulator's ring go to the archive now); the new one's hello starts its own, seeded
        # from the archive, which meanwhile takes the lines that scroll (``_read_pty``)
        if self.archive is not None:
            self.archive.record(*self.terminal.terminal.take_history())
        self.history = self.terminal.history = None
        self.replay_to = self.durable.record.id if self.durable is not None else "?"
        self._restart_forwarding()
        if self.last_remote_state_time is not None:
            self.last_remote_state_time = now
        rekey = getattr(self.sock, "rekey", None)
        if rekey is not None:
            rekey(key)  # a shared-port channel routes datagrams by key
        self.log("Session resumed with a new key.")

    def _restart_forwarding(self) -> None:
        """Nothing of the old client's forwarded streams carries over to a resumed session:
        their connections close, the stream log starts afresh for the new transport. The
        session's own listeners (-A, -R) stay."""
        from pymosh.frontend.forwarding import server_forwarding
        from pymosh.statesync.stream_log import StreamLog

        old = self.forwarding
        listeners, old.listeners = old.listeners, []
        old.close()
        self.terminal.streams = StreamLog()
        self.forwarding = server_forwarding(self.transport, self.terminal, listeners)

    def request_kill(self) -> None:
        self.kill_requested = True

    # ---------------------------------------------------------------- steps

    def _pty_answers_now(self) -> bool:
        try:
            return bool(select.select([self.pty.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _pty_answers_within(self, ms: float) -> bool:
        if ms <= 0 or not self.pty_open:
            return False
        try:
            readable, _, _ = select.select([self.pty.fd], [], [], ms / 1000.0)
        except (OSError, ValueError):
            return False
        return bool(readable)

    def _start_output(self, now: float) -> bool:
        """Whether this pty read is part of the shell's start (sent at once)."""
        if self.first_output_due:
            self.first_output_due = False
            self.start_frames, self.start_until = START_FRAMES, now + START_WINDOW
            return True
        if self.start_frames and now <= self.start_until:
            self.start_frames -= 1
            return True
        return False

    def _consume_user_input(self, now: float) -> bool:
        """Apply the client's new input; True if bytes were written to the pty."""
        transport = self.transport
        self.last_remote_num = transport.remote_state_num
        self.last_remote_state_time = now
        diff = transport.get_remote_diff()
        if not diff:  # the client's heartbeat: no events
            self.pty.release()
            return False
        from pymosh.statesync.hello import answer
        from pymosh.statesync.user_stream import UserStream
        from pymosh.wire.protobuf import Hello, Resize, StreamFrame

        stream = UserStream()
        stream.apply_string(diff)
        events = stream.events
        out = bytearray()
        keys = bytearray()
        emulator = self.terminal.terminal
        for i, event in enumerate(events):
            if isinstance(event, Hello):
                if self.terminal.hello is None:
                    self.terminal.hello = self._grant(answer(event))
                continue
            if isinstance(event, StreamFrame):
                self.forwarding.receive_frame(event.data)
                continue
            if isinstance(event, Resize):
                if keys:
                    out += emulator.translate_input(bytes(keys))
                    keys.clear()
                if i + 1 < len(events) and isinstance(events[i + 1], Resize):
                    continue  # only the last of consecutive resizes counts
                width, height = max(event.width, 1), max(event.height, 1)
                if self.pty_open:
                    self._write_pty(bytes(out))
                    out.clear()
                    try:
                        self.pty.resize(width, height)
                    except OSError:
                        self._begin_shutdown(now, "window-size ioctl failed")
                emulator.resize(width, height)
            else:
                keys.append(event)
        if keys:
            out += emulator.translate_input(bytes(keys))
        wrote = bool(self.pty_open and out)
        if wrote:
            self._write_pty(bytes(out))
            self.input_at = now
        if events:
            self.terminal.register_input_frame(self.last_remote_num, now)
            if self.terminal.hello is None and self.forward is not None:
                # a stock client (no hello first): -A/-R cannot work; refuse, not hang
                self.forwarding.drop_listeners()
                self.forward.close()
                self.forward = None
        if not self.shell_released:
            self.shell_released = True
            self.first_output_due = True
        self.pty.release()
        return wrote

    def _pump_history(self, now: float, sent: int) -> None:
        """Scrollback lines into the state, before a send and after it (another chunk if
        one went out; room if an ack came in: the transport drops acknowledged lines while
        it sends). Not while shutting down: the shutdown state's diff is resent unchanged."""
        history = self.history
        if history is None or self.transport.shutdown_in_progress():
            return
        if sent:
            history.sent()
        if history.ready(now):
            history.pump(now, self.transport.all_acked())
        # else nothing to move (the idle turn) or dropping (bulk output): pump would
        # change nothing that matters, the next feed() resets its pacing

    def _grant(self, granted: Hello) -> Hello:
        """Scrollback as asked, capped by --scrollback; starts the history log."""
        from pymosh.statesync.history import HistoryLog
        from pymosh.wire.protobuf import FEATURE_SCROLLBACK, Hello

        lines = granted.scrollback_lines
        if self.scrollback_cap is not None:
            lines = min(lines, self.scrollback_cap)
        replay_to, self.replay_to = self.replay_to, None
        if not granted.features & FEATURE_SCROLLBACK or not lines:
            return Hello(granted.version, granted.features & ~FEATURE_SCROLLBACK, 0)
        if self.archive is None:
            from pymosh.statesync.archive import HistoryArchive

            self.archive = HistoryArchive(lines)
        self.archive.grow(lines)
        emulator = self.terminal.terminal
        emulator.set_history_limit(lines)
        # a resumed client's log starts with the archive's lines behind a marker line, with
        # room for as many new lines again while they are paced out
        self.history = HistoryLog(2 * lines + 1 if replay_to is not None else lines, emulator)
        if replay_to is not None:
            self.archive.replay(self.history, lines, replay_to)
        self.history.archive = self.archive  # from now on (the replay is in it already)
        self.terminal.history = self.history.window
        return Hello(granted.version, granted.features, lines)

    def _write_pty(self, data: bytes) -> None:
        if not data or not self.pty_open:
            return
        try:
            self.pty.write(data)
        except OSError:
            self._pty_gone(now_ms())

    def _read_pty(self, now: float) -> bool:
        """Feed the pty's output to the terminal; True if there was some. Bulk output comes
        a tty buffer (about 4 KiB) per read: while reads come back that full and more is
        waiting, up to MORE_READS more are taken in this turn, so the rest of the turn
        (timers, the send, the history's bookkeeping) runs once per batch, not per read."""
        try:
            data = self.pty.read()
        except OSError:
            return False
        if not data:
            self._pty_gone(now)
            return False
        replies = self.terminal.act(data)
        more = MORE_READS
        while more and len(data) >= FULL_READ and self._pty_answers_now():
            try:
                data = self.pty.read()
            except OSError:
                break
            if not data:
                self._pty_gone(now)
                break
            replies += self.terminal.act(data)
            more -= 1
        if self.history is not None:
            self.history.capture(now)
        elif self.archive is not None:  # no client takes history now: the archive does
            self.archive.record(*self.terminal.terminal.take_history())
        if replies:
            self._write_pty(replies)
        return True

    def _pty_gone(self, now: float) -> None:
        self.pty_open = False
        self.log("Shell exited.")
        self._begin_shutdown(now, "shell exited")

    def _begin_shutdown(self, now: float, why: str) -> bool:
        """Start the shutdown handshake; True if there is nobody to tell (quit now)."""
        if self.transport.remote_addr is None:
            return True
        if not self.transport.shutdown_in_progress():
            self.log(f"Shutting down: {why}.")
            self.transport.start_shutdown(now)
        return False

    def _handle_signals(self, signals: list[int], now: float) -> bool:
        quit_now = False
        for signum in signals:
            if signum == signal.SIGUSR1 and self.signal_timeout is not None:
                since = now - (self.last_remote_state_time or self.start_time)
                if since < self.signal_timeout:
                    continue
            quit_now = self._begin_shutdown(now, f"signal {signum}") or quit_now
        return quit_now

    def _network_idle(self, now: float) -> bool:
        if self.network_timeout is None or self.last_remote_state_time is None:
            return False
        if now - self.last_remote_state_time >= self.network_timeout:
            if not self.transport.shutdown_in_progress():
                self.log(f"Network idle for {self.network_timeout / 1000:.0f} seconds.")
            return True
        return False


def _env_seconds(name: str) -> float | None:
    """A non-negative number of seconds from the environment, as ms (None if unset/invalid)."""
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        sys.stderr.write(f"{name} ({text}) invalid, ignoring\n")
        return None
    return value * 1000.0 if value else None


# ------------------------------------------------------------------------ start-up

BANNER = (
    f"pymosh-server (pymosh {__version__})\n"
    "A mobile shell speaking the Mosh 1.4.0 protocol.\n"
    "License GPLv3+: GNU GPL version 3 or later <http://gnu.org/licenses/gpl.html>.\n"
    "This is free software: you are free to change and redistribute it.\n"
    "There is NO WARRANTY, to the extent permitted by law.\n"
)

# the wrapper checks for this line before it runs list/kill/resume (session_commands.py)
REGISTRY_LINE = "Session registry: list, kill, resume.\n"
SESSION_COMMANDS = ("list", "kill", "resume")  # not a new session: never handed off


def run(argv: Sequence[str], handoff: socket.socket | None = None) -> int:
    """The start-up, in this process or (``handoff``: the asker's connection) in a
    session the forker forked; the detach fork's parent reports 0 on ``handoff``."""
    if argv and argv[0] in SESSION_COMMANDS:
        from pymosh.frontend.sessions_cli import run as run_sessions_command

        return run_sessions_command(argv)
    from pymosh.frontend.forwarding import ForwardError, ServerSetup, split_args

    try:
        forward_opts, argv = split_args(argv)
        opts = parse_args(argv)
    except (UsageError, ForwardError) as exc:
        sys.stderr.write(f"pymosh-server: {exc}\n{USAGE}\n")
        return 1
    if opts.help:
        from pymosh.frontend.helptext import SERVER_HELP

        sys.stdout.write(USAGE + "\n" + SERVER_HELP)
        return 0
    if opts.version:
        sys.stdout.write(BANNER + REGISTRY_LINE)
        return 0
    for warning in opts.warnings:
        sys.stderr.write(f"pymosh-server: {warning}\n{USAGE}\n")
    if opts.port is not None:
        try:
            parse_port_range(opts.port)
        except PortRangeError as exc:
            sys.stderr.write(f"pymosh-server: {exc}\n")
            return 1

    decision = shell_locale(opts.locales)
    for notice in decision.notices:
        sys.stderr.write(f"pymosh-server: {notice}\n")
    if decision.error:
        sys.stderr.write(f"pymosh-server: {decision.error}\n")
        return 1

    bind_ip = opts.ip
    if opts.ssh_bind and bind_ip is None:
        bind_ip = ssh_local_ip(os.environ)
        if bind_ip is None:
            sys.stderr.write("Warning: SSH_CONNECTION not found; binding to any interface.\n")
    key = new_key()
    try:
        sock = _open_socket(bind_ip, opts, key)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"pymosh-server: {exc}\n")
        return 1
    for message in sock.messages:
        sys.stderr.write(message + "\n")

    try:
        forward = ServerSetup(forward_opts) if forward_opts else None
    except ForwardError as exc:
        sock.close()
        sys.stderr.write(f"pymosh-server: {exc}\n")
        return 1
    for message in forward.warnings if forward else ():
        sys.stderr.write(f"pymosh-server: {message}\n")

    size = get_winsize(0) or (80, 24)
    if os.isatty(0):
        sys.stdout.write("\r\n")
    sys.stdout.write(f"MOSH CONNECT {sock.port} {format_key(key)}\n")
    sys.stdout.flush()

    env = decision.env
    shell_colour_env(env, opts.colors)
    env["NCURSES_NO_UTF8_ACS"] = "1"
    env.pop("STY", None)
    if forward is not None and forward.agent_path is not None:
        env["SSH_AUTH_SOCK"] = forward.agent_path  # exists before the shell starts

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _say("\n" + BANNER)
    pid = os.fork()
    if pid:
        _say(f"\n[pymosh-server detached, pid = {pid}]\n")
        if handoff is not None:
            try:
                handoff.sendall(b"\0")
            except OSError:
                pass
        os._exit(0)
    if handoff is not None:
        handoff.close()
    os.setsid()
    if not opts.verbose:
        _detach_stdio()
    pty = PtyHost(opts.command or None, env, *size)
    if handoff is None:
        from pymosh.frontend import handoff as forker_handoff

        if forker_handoff.enabled():
            from pymosh.frontend.forker import spawn

            spawn()  # a forker for this user's next sessions
    server = Server(
        sock, key, pty, *size, verbose=opts.verbose, forward=forward, scrollback=opts.scrollback
    )
    from pymosh.frontend.resume import register

    register(server, sock.port, opts.command or [user_shell()])
    status = server.run()
    try:
        sys.stdout.write("\n[pymosh-server is exiting.]\n")
        sys.stdout.flush()
    except OSError:  # with -v, stdout may be the wrapper's pipe, long closed
        pass
    return status


def _open_socket(ip: str | None, opts: ServerOptions, key: bytes) -> Any:
    """Mosh's own bind, except that one port named by ``-p`` is shared by the user's
    sessions (issue #16) unless ``--no-share-port``."""
    if opts.port is not None and opts.share_port:
        low, high = parse_port_range(opts.port)
        if low == high and low != 0:
            from pymosh.frontend.portshare import join

            return join(low, key, ip)
    return ServerSocket(ip, opts.port)


def _say(text: str) -> None:
    """Write to stderr, ignoring a reader that has gone (the wrapper stops reading at
    MOSH CONNECT and closes the pipe)."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        pass


def _detach_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def main() -> None:
    from pymosh.frontend.handoff import request

    argv = sys.argv[1:]
    status = request(argv)  # a forker forks the session ready-made...
    sys.exit(run(argv) if status is None else status)  # ...else start it here


if __name__ == "__main__":
    main()
