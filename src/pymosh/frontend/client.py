"""``MOSH_KEY=<key> pymosh-client [-# 'args'] IP PORT`` (terminal.md §5, protocol.md §7.2).

The user's tty in raw mode <-> UserStream / SSP transport / UDP; the server's terminal
state is drawn on the real terminal with the display differ, under the prediction and
notification overlays.
"""

from __future__ import annotations

import os
import sys

from pymosh import __version__, _accel
from pymosh.errors import KeyFormatError
from pymosh.frontend import PREDICTION_MODES
from pymosh.frontend.environ_scrub import scrub_environ_entry
from pymosh.frontend.escape import EscapeKeys
from pymosh.frontend.forwarding import (
    ForwardError,
    ForwardOptions,
    client_forwarding,
    split_args,
)
from pymosh.frontend.locale_check import is_utf8_locale, locale_env_summary
from pymosh.frontend.loop import EventLoop, now_ms, write_all
from pymosh.frontend.scrollback import ENV as SCROLLBACK_ENV
from pymosh.frontend.scrollback import LocalScrollback, setting
from pymosh.frontend.tty import RawMode, window_size
from pymosh.network.connection import FAST_START_RTTVAR, FAST_START_SRTT, Connection
from pymosh.network.endpoint import Endpoint
from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import CLIENT_FEATURES, client_hello
from pymosh.statesync.user_stream import UserStream
from pymosh.terminal import Emulator, new_frame
from pymosh.terminal.terminfo import read_caps
from pymosh.wire.protobuf import FEATURE_CLIPBOARD, FEATURE_SCROLLBACK

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import Callable, Sequence
else:
    import _signal as signal  # signal.py's functions without its enum classes (start-up)

USAGE = (
    "Usage: pymosh-client [-# 'ARGS'] [-A] [-L SPEC]... [-R SPEC]... IP PORT\n"
    "       pymosh-client -c"
)
READ_SIZE = 16384
PASTE_THRESHOLD = 100  # a read longer than this is a paste: no predictions
CONNECTING_NOTICE = 250  # ms before "Nothing received from server..."
CONNECT_TIMEOUT = 15000  # ms before giving up on a server never heard
TITLE_PREFIX = "[mosh] "
SEND_MINDELAY = 0  # ms keystrokes are collected before they are sent (Mosh: 1;
# 0 sends in the turn that read the key: echo p50 -2.7 ms)
# Keystroke policy (Mosh has none): keys read while no frame with data is unacknowledged
# go out in the same turn, inside the frame interval too (Nagle's rule: at most one such
# frame per round trip); keys typed while data is in flight keep Mosh's pacing.


class ClientError(Exception):
    pass


def prefix_titles(frame: bytes) -> bytes:
    """Put ``[mosh] `` in front of window titles the differ sets (OSC 0 and 2)."""
    if b"\x1b]" not in frame:
        return frame
    prefix = TITLE_PREFIX.encode()
    return frame.replace(b"\x1b]0;", b"\x1b]0;" + prefix).replace(b"\x1b]2;", b"\x1b]2;" + prefix)


class Client:
    def __init__(
        self,
        ip: str,
        port: int,
        key: bytes,
        predict: str,
        overwrite: bool,
        escape: EscapeKeys,
        stdin: int = 0,
        stdout: int = 1,
        scrollback: int = 0,
        forward: ForwardOptions | None = None,
    ) -> None:
        self.ip, self.port = ip, port
        self.stdin, self.stdout = stdin, stdout
        self.escape = escape
        self.raw = RawMode(stdin)
        self.loop = EventLoop()
        now = now_ms()
        self.sock = ClientSocket((ip, port), now)
        self.width, self.height = window_size(stdin)
        connection = Connection(
            key,
            False,
            remote_addr=self.sock.server_addr,
            now=now,
            family=self.sock.family,
            initial_srtt=FAST_START_SRTT,
            initial_rttvar=FAST_START_RTTVAR,
        )
        # with scrollback asked for, the screen mode changes only once the server's hello
        # grants it: against a stock server everything stays as it is in Mosh (the
        # terminal's alternate-screen switches are read after the first datagram)
        self.scrollback = LocalScrollback(scrollback)
        remote = CompleteTerminal(self.width, self.height)
        remote.history = self.scrollback.window()
        self.transport: Transport[UserStream, CompleteTerminal] = Transport(
            UserStream(), remote, connection, now, send_mindelay=SEND_MINDELAY
        )
        features = CLIENT_FEATURES if scrollback else CLIENT_FEATURES & ~FEATURE_SCROLLBACK
        self.transport.current_state.push_hello(client_hello(features, scrollback))
        self.transport.current_state.push_resize(self.width, self.height)
        self.endpoint = Endpoint(self.transport, self.sock)
        # -A/-L/-R: listeners bound now (ForwardError if a port is taken)
        self.forwarding = client_forwarding(
            self.transport,
            forward or ForwardOptions(),
            lambda message: self.notify(message, now_ms()),
        )
        # the first datagram now, before the rest of the set-up: the server starts the
        # shell when it arrives, and the shell's start-up overlaps with ours (a failure to
        # send is noted in the endpoint and shown by the main loop's next send)
        self.endpoint.send(now)
        self.caps = read_caps()  # (terminfo: curses loads a shared library)
        self.scrollback.smcup, self.scrollback.rmcup = self.caps.smcup, self.caps.rmcup
        self.local = Emulator(self.width, self.height)
        # the overlays' modules load now, while the server answers (start-up milliseconds;
        # the methods below import their notices from them too)
        from pymosh.frontend.overlay import OverlayManager

        self.overlays = OverlayManager(now, predict, overwrite)
        if escape.key is not None:
            self.overlays.notifications.set_escape_key_string(escape.key_name)
        self.overlays.stats.source = self.transport.stats
        self.frame_options = self.caps.differ_options()
        self.title_prefix = os.environ.get("MOSH_TITLE_NOPREFIX") is None
        self.repaint = False
        self.connected = False
        self.start = now
        self.quitting = False  # shutdown started by us
        self.clean = False
        self.messages: list[str] = []  # printed after the terminal is restored

    # ---------------------------------------------------------------- drawing

    def write(self, data: bytes) -> None:
        if data:
            write_all(self.stdout, data)

    def _new_frame(self, initialized: bool, last: Emulator, new: Emulator) -> bytes:
        # every OSC 52 selection once the server granted it (it then sends them all);
        # otherwise Mosh's "c" only
        hello = self.transport.latest_remote_state().hello
        selections = hello is not None and bool(hello.features & FEATURE_CLIPBOARD)
        # on the main screen with scrollback, no row may scroll off the top into the
        # terminal's history (it holds the server's history lines only)
        frame = new_frame(
            initialized,
            last,
            new,
            clipboard_selections=selections,
            scroll_below_top=self.scrollback.active,
            **self.frame_options,
        )
        return prefix_titles(frame) if self.title_prefix else frame

    def draw(self, now: float) -> None:
        state: CompleteTerminal = self.transport.latest_remote_state()
        # painting history needs the terminal's size now, not at the last SIGWINCH
        size = window_size(self.stdin) if self.scrollback.lines else (0, 0)
        history, full = self.scrollback.before_draw(state, self.local, *size, now)
        if history:
            self.write(history)
            self.scrollback.painted(now_ms())
        self.repaint = self.repaint or full
        frame = state.terminal.copy()
        self.overlays.apply(frame, now)
        full = self.repaint or (frame.width, frame.height) != (self.local.width, self.local.height)
        local = self.local
        self.write(
            self.scrollback.frame(
                self._new_frame(not self.repaint, local, frame),
                full,
                local,
                lambda: self._new_frame(False, local, frame),
            )
        )
        self.repaint = False
        self.local = frame

    def notify(
        self, message: str, now: float, permanent: bool = False, quit_hint: bool = True
    ) -> None:
        self.overlays.notifications.set_notification_string(
            message, now, permanent=permanent, show_quit_keystroke=quit_hint
        )

    # ---------------------------------------------------------------- main loop

    def run(self) -> int:
        self.raw.enter()
        self.write(self.caps.open_terminal())
        blank = Emulator(self.width, self.height)
        self.write(self._new_frame(False, blank, blank))
        self.loop.watch_signals(
            [
                signal.SIGWINCH,
                signal.SIGTERM,
                signal.SIGINT,
                signal.SIGHUP,
                signal.SIGPIPE,
                signal.SIGCONT,
            ]
        )
        try:
            return self._run()
        finally:
            self.loop.close()
            self.forwarding.close()
            self._restore()
            self.sock.close()

    def _restore(self) -> None:
        try:
            self.write(self.scrollback.leave(self.caps.close_terminal(), self.local.height))
        except OSError:
            pass
        self.raw.leave()

    def _run(self) -> int:
        from pymosh.frontend.overlay.notification import TIMED_OUT, nothing_received

        transport = self.transport
        last_remote_num = transport.remote_state_num
        while True:
            now = now_ms()
            self.draw(now)
            wait = min(
                transport.wait_time(now),
                self.overlays.wait_time(now),
                self.scrollback.wait_time(now),
            )
            if not self.connected:
                wait = min(wait, CONNECTING_NOTICE)
            sockets = self.endpoint.filenos()
            readers = list(sockets)
            if not transport.shutdown_in_progress():
                readers.append(self.stdin)
            readers += self.forwarding.filenos()
            wait = min(wait, self.forwarding.wait_time(now))
            self.loop.set_readers(readers)
            ready, signals = self.loop.wait(wait)
            now = now_ms()

            if any(fd in ready for fd in sockets):
                self.endpoint.receive(now)
                if transport.remote_state_num != last_remote_num:
                    last_remote_num = transport.remote_state_num
                    if not self.connected:
                        self.connected = True
                        self.notify("", now)
                    if self.scrollback.settled(transport.latest_remote_state()):
                        transport.expedite_ack()  # the server sends more history on it
                self._feed_overlays()

            if self.stdin in ready and not transport.shutdown_in_progress():
                if self._read_user_input(now) and not transport.data_in_flight():
                    transport.expedite()

            for signum in signals:
                self._on_signal(signum, now)

            if not self.connected and not transport.shutdown_in_progress():
                waited = now - self.start
                if waited >= CONNECT_TIMEOUT:
                    self._start_shutdown(TIMED_OUT, now)
                elif waited >= CONNECTING_NOTICE:
                    self.notify(nothing_received(self.port), now)

            self.forwarding.turn(ready, now)
            if self.endpoint.send(now):
                error = self.endpoint.send_error
                if error is not None:
                    self.overlays.notifications.set_network_error(f"sendto: {error}", now)
                else:
                    self.overlays.notifications.clear_network_error(now)

            if transport.counterparty_shutdown_ack_sent():
                self.clean = True
                return self._finish(now)
            if transport.shutdown_in_progress():
                if transport.shutdown_acknowledged():
                    self.clean = True
                    return self._finish(now)
                if transport.shutdown_ack_timed_out(now):
                    return self._finish(now)

    def _finish(self, now: float) -> int:
        self.overlays.notifications.set_notification_string("", now)
        self.overlays.notifications.server_heard(now)
        self.draw(now)
        if not self.connected:
            self.messages.append(
                f"pymosh did not make a successful connection to {self.ip}:{self.port}.\n"
                f"Please verify that UDP port {self.port} is not firewalled and can reach "
                "the server.\n\n(By default, mosh uses a UDP port between 60000 and 61000. "
                "The -p option selects a specific UDP port number.)"
            )
        elif not self.clean:
            self.messages.append(
                "pymosh did not shut down cleanly. Please note that the\n"
                "server process may still be running on the server."
            )
        return 0 if self.clean else 1

    def _feed_overlays(self) -> None:
        transport = self.transport
        state: CompleteTerminal = transport.latest_remote_state()
        notes, predictions = self.overlays.notifications, self.overlays.predictions
        notes.server_heard(transport.latest_remote_state_time)
        notes.server_acked(transport.sent_state_acked_timestamp)
        predictions.set_local_frame_acked(transport.sent_state_acked)
        predictions.set_send_interval(transport.send_interval())
        predictions.set_local_frame_late_acked(state.echo_ack)

    def _read_user_input(self, now: float) -> bool:
        """Read the user's keys; True if any went into the user stream."""
        from pymosh.frontend.overlay.notification import EXITING, EXITING_ON_REQUEST

        try:
            data = os.read(self.stdin, READ_SIZE)
        except OSError:
            data = b""
        if not data:
            self._start_shutdown(EXITING, now)
            return False
        predictions = self.overlays.predictions
        paste = len(data) > PASTE_THRESHOLD
        predictions.set_local_frame_sent(self.transport.sent_state_last)
        if paste:
            predictions.reset()
        stream: UserStream = self.transport.current_state
        pushed = False
        for byte in data:
            if not paste:
                predictions.new_user_byte(byte, self.local, now)
            action = self.escape.feed(byte)
            if action.show_help:
                self.notify(self.escape.help_text(), now, permanent=True, quit_hint=False)
            if action.hide_help:
                self.notify("", now)
            if action.send:
                stream.push_keystroke(action.send)
                pushed = True
            if action.repaint:
                self.repaint = True
            if action.toggle_stats:
                self.overlays.stats.toggle()
            if action.quit:
                self._start_shutdown(EXITING_ON_REQUEST, now, permanent=True)
                return pushed
            if action.suspend:
                self._suspend()
        return pushed

    def _start_shutdown(self, message: str, now: float, permanent: bool = False) -> None:
        if not self.transport.shutdown_in_progress():
            self.notify(message, now, permanent=permanent)
            self.transport.start_shutdown(now)

    def _on_signal(self, signum: int, now: float) -> None:
        from pymosh.frontend.overlay.notification import SIGNAL_SHUTDOWN

        if signum == signal.SIGWINCH:
            if self.transport.shutdown_in_progress():
                return
            width, height = window_size(self.stdin)
            if (width, height) != (self.width, self.height):
                self.width, self.height = width, height
                self.transport.current_state.push_resize(width, height)
                self.overlays.predictions.reset()
        elif signum == signal.SIGCONT:
            self._resume()
        else:
            self._start_shutdown(SIGNAL_SHUTDOWN, now)

    def _suspend(self) -> None:
        self._restore()
        self.write(b"\n\x1b[37;44m[mosh is suspended.]\x1b[m\n")
        os.kill(0, signal.SIGSTOP)
        self._resume()

    def _resume(self) -> None:
        self.raw.enter()
        self.write(self.scrollback.enter(self.caps.open_terminal()))
        self.repaint = True


# ---------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> tuple[str, str] | str:
    """(ip, port), or "colors"/"help"/"version"; ClientError on bad usage."""
    args = list(argv)
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in ("--help", "-h"):
            return "help"
        if arg == "--version":
            return "version"
        if arg == "-c":
            return "colors"
        if arg == "-v":
            continue
        if arg.startswith("-#"):
            if arg == "-#":
                i += 1  # its argument: the wrapper's command line, for ps only
            continue
        if arg == "--":
            positional.extend(args[i:])
            break
        if arg.startswith("-") and arg != "-":
            raise ClientError(f"unknown option {arg}")
        positional.append(arg)
    if len(positional) != 2:
        raise ClientError("expected IP and PORT")
    ip, port = positional
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ClientError(f"Bad UDP port ({port})")
    return ip, port


def run(argv: Sequence[str]) -> int:
    try:
        forward, argv = split_args(argv)
        parsed = parse_args(argv)
    except (ClientError, ForwardError) as exc:
        sys.stderr.write(f"pymosh-client: {exc}\n{USAGE}\n")
        return 1
    if parsed == "help":
        from pymosh.frontend.helptext import CLIENT_HELP

        print(USAGE + "\n" + CLIENT_HELP, end="")
        return 0
    if parsed == "version":
        print(f"pymosh-client (pymosh {__version__})\n{_accel.describe()}")
        return 0
    if parsed == "colors":
        print(read_caps().colors)
        return 0
    if isinstance(parsed, str):
        raise AssertionError(parsed)  # parse_args returns no other word
    ip, port = parsed
    key_text = os.environ.pop("MOSH_KEY", None)  # unsetenv: children never see it
    scrub_environ_entry("MOSH_KEY")  # nor does /proc/PID/environ
    if key_text is None:
        sys.stderr.write("MOSH_KEY environment variable not found.\n")
        return 1
    from pymosh.crypto import parse_key

    try:
        key = parse_key(key_text)
    except KeyFormatError as exc:
        sys.stderr.write(f"pymosh-client: bad MOSH_KEY: {exc}\n")
        return 1
    del key_text
    return connect(ip, int(port), key, forward)


def connect(
    ip: str,
    port: int,
    key: bytes,
    forward: ForwardOptions | None = None,
    started: Callable[[], None] | None = None,
) -> int:
    """The session with the server at ``ip``:``port``, settings from the environment.
    ``pymosh`` runs this in its own process (the key never enters the environment);
    ``pymosh-client`` after taking the key out of ``MOSH_KEY``. ``started`` runs once the
    first datagram is out."""
    predict = os.environ.get("MOSH_PREDICTION_DISPLAY") or "adaptive"
    if predict not in PREDICTION_MODES:
        sys.stderr.write("Unknown prediction mode in MOSH_PREDICTION_DISPLAY.\n")
        return 1
    overwrite = os.environ.get("MOSH_PREDICTION_OVERWRITE") == "yes"
    try:
        scrollback = setting(os.environ.get(SCROLLBACK_ENV))
    except ValueError as exc:
        sys.stderr.write(f"pymosh-client: {exc} (in {SCROLLBACK_ENV})\n")
        return 1
    if not is_utf8_locale():
        sys.stderr.write(
            "pymosh-client needs a UTF-8 native locale to run.\n\n" + locale_env_summary() + "\n"
        )
        return 1
    if not os.isatty(0):
        sys.stderr.write("pymosh-client: standard input is not a terminal\n")
        return 1
    try:
        client = Client(
            ip,
            port,
            key,
            predict,
            overwrite,
            EscapeKeys(os.environ.get("MOSH_ESCAPE_KEY")),
            scrollback=scrollback,
            forward=forward,
        )
    except (OSError, ValueError, ForwardError) as exc:
        sys.stderr.write(f"pymosh-client: {exc}\n")
        return 1
    if started is not None:
        started()
    status = client.run()
    for message in client.messages:
        sys.stdout.write("\n" + message + "\n")
    sys.stdout.write("\n[mosh is exiting.]\n")
    sys.stdout.flush()
    return status


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
