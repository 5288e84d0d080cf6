"""OSC 52 clipboard writes (terminal.md 2.5), shared by both emulator implementations.

Two records: Mosh's ``clipboard`` (selection ``c`` only, the payload as written, raw,
within Mosh's 16384-code-point OSC buffer: what a stock client is sent), and
``selections``: the latest valid write per selection (``c``, ``p``, ``q``, ``s``, ``0``-``7``;
an empty selection parameter means ``s0``, as in xterm), the payload strict base64 of at
most CLIPBOARD_MAX decoded bytes; anything else is dropped. A query (payload ``?``), which
would make the local terminal type its clipboard into the session, is never recorded in
either (a deliberate deviation: Mosh stores and forwards it).
"""

from __future__ import annotations

import re

SELECTIONS = "cpqs01234567"
CLIPBOARD_MAX = 1 << 20  # decoded bytes of one write
MOSH_OSC_MAX = 16384  # Mosh's MAXIMUM_CLIPBOARD_SIZE: its OSC buffer, in code points
# the OSC buffer (code points): the longest valid write (every selection named once) and
# one more, so a write that fills the buffer is known to be cut
OSC_MAX = len("52;") + len(SELECTIONS) + len(";") + 4 * ((CLIPBOARD_MAX + 2) // 3) + 1
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def osc52(buffer: str, clipboard: str, selections: dict) -> tuple[str, dict]:
    """Apply an OSC buffer starting with ``52;``: the new (clipboard, selections). The
    selections dict is replaced, never changed in place (copies of an emulator share it)."""
    target, sep, data = buffer[3:].partition(";")
    if not sep or data == "?":
        return clipboard, selections
    if target == "c":
        clipboard = buffer[5:MOSH_OSC_MAX]
    if len(buffer) >= OSC_MAX:  # possibly cut by the OSC buffer: not a whole write
        return clipboard, selections
    target = target or "s0"
    if target.strip(SELECTIONS) or not _BASE64.fullmatch(data):
        return clipboard, selections
    if len(data) // 4 * 3 - data[-2:].count("=") > CLIPBOARD_MAX:
        return clipboard, selections
    selections = dict(selections)
    for name in target:
        selections[name] = data
    return clipboard, selections


def changed_writes(last: dict, new: dict) -> str:
    """The OSC 52 sequences that bring a terminal from ``last``'s selections to ``new``'s:
    one per distinct changed payload, its selections in SELECTIONS order."""
    groups: dict[str, str] = {}
    for name in SELECTIONS:
        payload = new.get(name)
        if payload is not None and payload != last.get(name):
            groups[payload] = groups.get(payload, "") + name
    return "".join(f"\x1b]52;{names};{payload}\x07" for payload, names in groups.items())
