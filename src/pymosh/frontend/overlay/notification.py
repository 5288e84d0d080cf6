"""The notification bar on the top row, following Mosh 1.4.0 (terminal.md 6, protocol.md 7.5).

bar = NotificationEngine(now)
bar.server_heard(t)          # receive time of the newest state from the server
bar.server_acked(t)          # send time of the newest user state the server acked
bar.set_notification_string("Exiting on user request...", now, permanent=True)
bar.set_network_error("sendto: Network is unreachable", now); bar.clear_network_error(now)
bar.adjust_message(now); bar.apply(fb, now)    # per frame
bar.wait_time(now)           # ms until the bar needs redrawing
"""

from __future__ import annotations

from ...terminal.api import Screen
from ...terminal.width import char_width

SERVER_LATE_MS = 6500
REPLY_LATE_MS = 10000
MESSAGE_MS = 1000
ACK_INTERVAL = 3000
NETWORK_ERROR_MS = ACK_INTERVAL + 100
MAX_CHARS = 128
FOREVER = 1 << 30

BAR_FG, BAR_BG, BOLD = 37, 44, 1

# messages the client shows (stmclient.cc)
EXITING_ON_REQUEST = "Exiting on user request..."
EXITING = "Exiting..."
SIGNAL_SHUTDOWN = "Signal received, shutting down..."
TIMED_OUT = "Timed out waiting for server..."


def nothing_received(port: int) -> str:
    return f"Nothing received from server on UDP port {port}."


def human_readable_duration(seconds: int, unit: str) -> str:
    if seconds < 60:
        return f"{seconds} {unit}"
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class NotificationEngine:
    def __init__(self, now: float = 0) -> None:
        self.last_word_from_server = now
        self.last_acked_state = now
        self.escape_key_string = " [To quit: Ctrl-^ .]"
        self.message = ""
        self.message_is_network_error = False
        self.message_expiration: float = FOREVER
        self.show_quit_keystroke = True

    def set_escape_key_string(self, key_name: str) -> None:
        self.escape_key_string = f" [To quit: {key_name} .]"

    def server_heard(self, now: float) -> None:
        self.last_word_from_server = now

    def server_acked(self, now: float) -> None:
        self.last_acked_state = now

    def server_late(self, now: float) -> bool:
        return now - self.last_word_from_server > SERVER_LATE_MS

    def reply_late(self, now: float) -> bool:
        return now - self.last_acked_state > REPLY_LATE_MS

    def need_countup(self, now: float) -> bool:
        return self.server_late(now) or self.reply_late(now)

    def set_notification_string(
        self, message: str, now: float, permanent: bool = False, show_quit_keystroke: bool = True
    ) -> None:
        self.message = message
        self.message_expiration = FOREVER if permanent else now + MESSAGE_MS
        self.message_is_network_error = False
        self.show_quit_keystroke = show_quit_keystroke

    def set_network_error(self, message: str, now: float) -> None:
        self.message = message
        self.message_is_network_error = True
        self.message_expiration = now + NETWORK_ERROR_MS

    def clear_network_error(self, now: float) -> None:
        if self.message_is_network_error:
            self.message_expiration = min(self.message_expiration, now + MESSAGE_MS)

    def adjust_message(self, now: float) -> None:
        if now >= self.message_expiration:
            self.message = ""

    def wait_time(self, now: float) -> float:
        wait: float = FOREVER
        if self.message:
            wait = max(0, self.message_expiration - now)
        if self.need_countup(now):
            interval = ACK_INTERVAL if now - self.last_word_from_server > 60000 else 1000
            wait = min(wait, interval)
        return wait

    def text(self, now: float) -> str:
        """The bar's text, or "" when no bar is shown."""
        late = self.need_countup(now)
        if not self.message and not late:
            return ""
        explanation, since = "contact", self.last_word_from_server
        if self.reply_late(now) and not self.server_late(now):
            explanation, since = "reply", self.last_acked_state
        seconds = int((now - since) / 1000)
        quit_hint = self.escape_key_string if self.show_quit_keystroke else ""
        if not self.message:
            duration = human_readable_duration(seconds, "seconds")
            text = f"mosh: Last {explanation} {duration} ago.{quit_hint}"
        elif not late:
            text = f"mosh: {self.message}{quit_hint}"
        else:
            duration = human_readable_duration(seconds, "s")
            text = f"mosh: {self.message} ({duration} without {explanation}.){quit_hint}"
        return text[: MAX_CHARS - 1]

    def apply(self, fb: Screen, now: float) -> None:
        text = self.text(now)
        if not text:
            return
        width = fb.width
        if fb.cursor_row == 0:
            fb.cursor_visible = False
        for col in range(width):
            fb.set_cell(0, col, " ", BAR_FG, BAR_BG, 0)
        col = 0
        last: tuple[int, str] | None = None  # (column, contents) of the last cell drawn
        for ch in text:
            w = char_width(ord(ch))
            if w in (1, 2):
                if col >= width:
                    continue
                fb.set_cell(0, col, ch, BAR_FG, BAR_BG, BOLD, w == 2)
                last = (col, ch)
                col += w
            elif w == 0 and last is not None:
                # combining mark: join the previous character (cap of 32 bytes per cell)
                at, contents = last
                if len((contents + ch).encode()) < 32:
                    contents += ch
                    wide = char_width(ord(contents[0])) == 2
                    fb.set_cell(0, at, contents, BAR_FG, BAR_BG, BOLD, wide)
                    last = (at, contents)
