"""The overlay on the real terminal Emulator: server frame + predictions = expected screen."""

from __future__ import annotations

from pymosh.frontend.overlay import OverlayManager
from pymosh.terminal.emulator import Emulator, new_frame


def row_text(emu: Emulator, row: int) -> str:
    return "".join(emu.get_cell(row, c)[0] or " " for c in range(emu.width)).rstrip()


class Client:
    def __init__(self, server: Emulator, interval: int = 250, **kw) -> None:
        self.server = server
        self.overlays = OverlayManager(0, **kw)
        self.overlays.predictions.set_send_interval(interval)
        self.sent = 0
        self.now = 0
        self.screen = self.frame()

    def frame(self) -> Emulator:
        frame = self.server.copy()
        self.overlays.apply(frame, self.now)
        return frame

    def type(self, keys: bytes) -> None:
        for byte in keys:
            self.now += 10
            self.overlays.predictions.set_local_frame_sent(self.sent)
            self.overlays.predictions.new_user_byte(byte, self.screen, self.now)
            self.sent += 1
            self.screen = self.frame()

    def echo(self, data: bytes) -> None:
        self.now += 10
        self.server.feed(data)
        self.overlays.notifications.server_heard(self.now)
        self.overlays.predictions.set_local_frame_late_acked(self.sent)
        self.screen = self.frame()


def test_typing_at_a_coloured_prompt():
    server = Emulator(40, 5)
    server.feed(b"\x1b[32m$\x1b[0m ")
    client = Client(server)
    client.type(b"e")
    assert row_text(client.screen, 0) == "$"
    client.echo(b"e")
    client.type(b"cho hi")
    assert row_text(client.screen, 0) == "$ echo hi"
    assert client.screen.get_cell(0, 3)[:4] == ("c", 0, 0, 8)  # underlined (slow link)
    assert client.screen.cursor_col == 9
    client.echo(b"cho hi")
    assert row_text(client.screen, 0) == "$ echo hi"
    assert client.screen == server  # every prediction confirmed: nothing overlaid


def test_display_diff_of_the_overlaid_frame_round_trips():
    server = Emulator(20, 3)
    server.feed(b"$ ")
    client = Client(server, display_preference="always", interval=20)
    client.type(b"x")
    client.echo(b"x")
    before = client.screen
    client.type(b"yz\x1b[D\x7f")
    terminal = before.copy()
    terminal.feed(new_frame(True, before, client.screen))
    assert row_text(terminal, 0) == "$ xz"
    assert (terminal.cursor_row, terminal.cursor_col) == (0, 3)


def test_password_prompt_and_notification_bar():
    server = Emulator(40, 4)
    server.feed(b"$ ")
    client = Client(server)
    client.type(b"s")
    client.echo(b"s")
    client.type(b"u\r")
    client.echo(b"u\r\n[sudo] password: ")
    for byte in b"hunter2":
        client.type(bytes([byte]))
        client.echo(b"")
        assert row_text(client.screen, 1) == "[sudo] password:"
    client.now += 7000
    screen = client.frame()
    assert row_text(screen, 0) == "mosh: Last contact 7 seconds ago. [To qu"  # 40 columns
    assert screen.get_cell(0, 0)[1:4] == (37, 44, 1)
