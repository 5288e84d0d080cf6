"""The client's escape key (``Ctrl-^`` by default; terminal.md §5.1, §5.3), sans-I/O.

``feed(byte)`` says what one typed byte means: bytes to send, quit, suspend, show or
hide the help line, a local repaint (Ctrl-L), or (beyond Mosh) ``s``: toggle the
connection statistics line.
"""

from __future__ import annotations

from pymosh.value import Value

DEFAULT_ESCAPE = 0x1E  # Ctrl-^
_REFUSED = {0x03, 0x04, 0x0A, 0x0C, 0x0D}  # Ctrl-C, Ctrl-D, LF, Ctrl-L, CR
CTRL_Z = 0x1A
STATS = ord("s")


class KeyAction(Value):
    __slots__ = ("send", "quit", "suspend", "show_help", "hide_help", "repaint", "toggle_stats")

    def __init__(
        self,
        send: bytes = b"",
        quit: bool = False,
        suspend: bool = False,
        show_help: bool = False,
        hide_help: bool = False,
        repaint: bool = False,
        toggle_stats: bool = False,
    ) -> None:
        self.send = send
        self.quit = quit
        self.suspend = suspend
        self.show_help = show_help
        self.hide_help = hide_help
        self.repaint = repaint
        self.toggle_stats = toggle_stats


def _name(key: int) -> str:
    return f"Ctrl-{chr(key + 0x40)}" if key < 0x20 else chr(key)


class EscapeKeys:
    def __init__(self, setting: str | None = None) -> None:
        """``setting`` = $MOSH_ESCAPE_KEY (None: default; "": no escape key)."""
        key: int | None = DEFAULT_ESCAPE
        if setting == "":
            key = None
        elif (
            setting is not None
            and len(setting) == 1
            and 1 <= ord(setting) <= 127
            and ord(setting) not in _REFUSED
        ):
            key = ord(setting)
        self.key = key
        self.pass_keys: set[int] = set()
        self.requires_lf = False
        if key is not None:
            pass_key = key + 0x40 if key < 0x20 else key
            self.pass_keys = {pass_key}
            if 0x41 <= pass_key <= 0x5A:
                self.pass_keys.add(pass_key + 0x20)  # upper case also accepts lower case
            self.requires_lf = 0x20 <= key <= 0x7E
            self.key_name = _name(key)
            self.pass_name = _name(pass_key)
        else:
            self.key_name = self.pass_name = ""
        self.pending = False
        self.after_lf = True  # a printable escape key works at the very start, too

    def help_text(self) -> str:
        stats = "" if STATS in self.pass_keys else '"s" stats, '  # fits 80 columns
        return (
            f'Commands: Ctrl-Z suspends, "." quits, {stats}"{self.pass_name}" gives '
            f"literal {self.key_name}"
        )

    def feed(self, byte: int) -> KeyAction:
        if self.pending and self.key is not None:  # (pending implies a key)
            self.pending = False
            self.after_lf = False
            action = KeyAction(hide_help=True)
            if byte == ord("."):
                action.quit = True
            elif byte == CTRL_Z:
                action.suspend = True
            elif byte in self.pass_keys:
                action.send = bytes([self.key])
            elif byte == STATS:
                action.toggle_stats = True
            else:
                action.send = bytes([self.key, byte])
            return action
        if self.key is not None and byte == self.key and (not self.requires_lf or self.after_lf):
            self.pending = True
            return KeyAction(show_help=True)
        self.after_lf = byte in (0x0A, 0x0D)
        return KeyAction(send=bytes([byte]), repaint=byte == 0x0C)
