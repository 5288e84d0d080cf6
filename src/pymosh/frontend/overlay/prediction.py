"""Predictive local echo, following Mosh 1.4.0's prediction engine (terminal.md 7-9).

Sans-I/O: the client feeds typed bytes, the framebuffer on screen and ``now`` (ms);
``apply`` draws the predictions onto a copy of the server's frame.

    engine = PredictionEngine(display_preference="adaptive", predict_overwrite=False)
    engine.set_local_frame_sent(n)       # before handling each read from the tty
    engine.new_user_byte(byte, shown_fb, now)   # shown_fb: what is on screen now
    engine.set_local_frame_acked(n); engine.set_local_frame_late_acked(echo_ack)
    engine.set_send_interval(ms)         # transport send interval, clamp(SRTT/2, 20, 250)
    engine.cull(fb, now); engine.apply(fb)   # per frame, fb = copy of the server's frame
    engine.reset()                       # resize, paste
    engine.wait_time(now)                # 50 ms while timing tests are pending

Cell predictions are *judged* once the server's echo ack covers the keystroke. Where and
why this engine goes beyond Mosh's (rebase, early confirmation, known prompts):
docs/prediction.md.
"""

from __future__ import annotations

from ...terminal.api import Screen
from ...terminal.width import char_width
from .. import PREDICTION_MODES
from .keyparse import CSI, ESC, EXECUTE, PRINT, KeyParser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

SRTT_TRIGGER_LOW = 20
SRTT_TRIGGER_HIGH = 30
FLAG_TRIGGER_LOW = 50
FLAG_TRIGGER_HIGH = 80
GLITCH_THRESHOLD = 250
GLITCH_REPAIR_COUNT = 10
GLITCH_REPAIR_MININTERVAL = 150
GLITCH_FLAG_THRESHOLD = 5000
TIMER_INTERVAL = 50
FOREVER = 1 << 30
HISTORY_LIMIT = 4096  # in-flight bytes remembered for a rebase (more: give up rebasing)
KNOWN_PROMPTS_LIMIT = 64  # prompts learned to echo (oldest forgotten first)
# keys after which a shell is back at a fresh, echoing prompt: Enter, Ctrl-C, Ctrl-U
FRESH_LINE_KEYS = frozenset(b"\r\n\x03\x15")

UNDERLINED = 8

# validity verdicts
PENDING, CORRECT, CORRECT_NO_CREDIT, INCORRECT, INACTIVE = range(5)

# A predicted cell: (contents, fg, bg, attrs, wide)
Cell = tuple[str, int, int, int, bool]


def _cell(fb: Screen, row: int, col: int) -> Cell:
    return fb.get_cell(row, col)[:5]


def _is_blank(contents: str) -> bool:
    return contents in ("", " ", "\xa0")


def _contents_match(a: str, b: str) -> bool:
    return (_is_blank(a) and _is_blank(b)) or a == b


def _current_renditions(fb: Screen) -> tuple[int, int, int]:
    """The framebuffer's current SGR state (fg, bg, attrs)."""
    fg, bg, attrs = fb.dump()["renditions"]
    return fg, bg, attrs


def _prompt_at(fb: Screen) -> tuple | None:
    """The cells left of the cursor if they look like a prompt waiting for input: ending in
    a space, not all blank, with the rest of the row and all rows below blank."""
    row, col = fb.cursor_row, fb.cursor_col
    if not 0 < col < fb.width or not 0 <= row < fb.height:
        return None
    left = tuple(fb.get_cell(row, c)[0] for c in range(col))
    if left[-1] != " " or all(_is_blank(x) for x in left):
        return None
    for c in range(col, fb.width):
        if not _is_blank(fb.get_cell(row, c)[0]):
            return None
    for r in range(row + 1, fb.height):
        for c in range(fb.width):
            if not _is_blank(fb.get_cell(r, c)[0]):
                return None
    return (col, left)


class _Conditional:
    """What every prediction has: the frame that must be echo-acked, epoch, timestamp."""

    __slots__ = ("expiration_frame", "col", "active", "tentative_until_epoch", "prediction_time")

    def __init__(self, expiration_frame: int, col: int, tentative_until_epoch: int) -> None:
        self.expiration_frame = expiration_frame
        self.col = col
        self.active = False
        self.tentative_until_epoch = tentative_until_epoch
        self.prediction_time = 0.0

    def tentative(self, confirmed_epoch: int) -> bool:
        return self.tentative_until_epoch > confirmed_epoch

    def expire(self, frame: int, now: float) -> None:
        self.expiration_frame = frame
        self.prediction_time = now

    def deactivate(self) -> None:
        self.expiration_frame = -1
        self.tentative_until_epoch = -1
        self.active = False


class CursorMove(_Conditional):
    __slots__ = ("row",)

    def __init__(self, expiration_frame: int, row: int, col: int, epoch: int) -> None:
        super().__init__(expiration_frame, col, epoch)
        self.row = row
        self.active = True

    def validity(self, fb: Screen, late_ack: int) -> int:
        if not self.active:
            return INACTIVE
        if self.row >= fb.height or self.col >= fb.width:
            return INCORRECT
        if late_ack < self.expiration_frame:
            return PENDING
        if fb.cursor_row == self.row and fb.cursor_col == self.col:
            return CORRECT
        return INCORRECT


class OverlayCell(_Conditional):
    __slots__ = ("replacement", "unknown", "original_contents")

    def __init__(self, col: int) -> None:
        super().__init__(-1, col, -1)
        self.replacement: Cell = ("", 0, 0, 0, False)
        self.unknown = False
        self.original_contents: list[Cell] = []

    def deactivate(self) -> None:
        self.unknown = False
        self.original_contents = []
        super().deactivate()

    def restart(self) -> None:
        """Start a new prediction here; an overwritten known prediction counts as an original."""
        if not self.active or self.unknown:
            self.deactivate()
            return
        self.original_contents.append(self.replacement)
        _Conditional.deactivate(self)

    def predict(self, epoch: int, frame: int, now: float) -> None:
        self.active = True
        self.tentative_until_epoch = epoch
        self.expire(frame, now)

    def contradicted(self, fb: Screen, row: int, late_ack: int, early_ack: int) -> bool:
        """Received by the server, not judged yet, and ``fb`` shows something else here (a
        blank or unknown prediction is never wrong, as in ``validity``)."""
        if (
            not self.active
            or self.unknown
            or not late_ack < self.expiration_frame <= early_ack
            or _is_blank(self.replacement[0])
        ):
            return False
        if row >= fb.height or self.col >= fb.width:
            return True
        return not _contents_match(fb.get_cell(row, self.col)[0], self.replacement[0])

    def validity(self, fb: Screen, row: int, late_ack: int, early_ack: int = -1) -> int:
        if not self.active:
            return INACTIVE
        if row >= fb.height or self.col >= fb.width:
            return INCORRECT
        if late_ack < self.expiration_frame:
            # early confirmation: received by the server and already shown exactly
            # (the caller passes early_ack = -1 when fb contradicts a received prediction)
            if (
                early_ack >= self.expiration_frame
                and not self.unknown
                and not _is_blank(self.replacement[0])
            ):
                current = fb.get_cell(row, self.col)[0]
                if current == self.replacement[0] and not any(
                    _contents_match(current, orig[0]) for orig in self.original_contents
                ):
                    return CORRECT
            return PENDING
        if self.unknown or _is_blank(self.replacement[0]):
            return CORRECT_NO_CREDIT
        current = fb.get_cell(row, self.col)[0]
        if not _contents_match(current, self.replacement[0]):
            return INCORRECT
        if any(_contents_match(current, orig[0]) for orig in self.original_contents):
            return CORRECT_NO_CREDIT
        return CORRECT

    def apply(self, fb: Screen, row: int, confirmed_epoch: int, flag: bool) -> None:
        if not self.active or row >= fb.height or self.col >= fb.width:
            return
        if self.tentative(confirmed_epoch):
            return
        actual = _cell(fb, row, self.col)
        if _is_blank(self.replacement[0]) and _is_blank(actual[0]):
            flag = False
        if self.unknown:
            if flag and self.col != fb.width - 1:
                contents, fg, bg, attrs, wide = actual
                fb.set_cell(row, self.col, contents, fg, bg, attrs | UNDERLINED, wide)
            return
        if actual != self.replacement:
            contents, fg, bg, attrs, wide = self.replacement
            fb.set_cell(
                row, self.col, contents, fg, bg, attrs | UNDERLINED if flag else attrs, wide
            )


class PredictionEngine:
    def __init__(
        self, display_preference: str = "adaptive", predict_overwrite: bool = False
    ) -> None:
        if display_preference not in PREDICTION_MODES:
            raise ValueError(f"unknown prediction display preference {display_preference!r}")
        self.display_preference = display_preference
        self.predict_overwrite = predict_overwrite
        self._parser = KeyParser()
        self._last_byte = -1
        self.overlays: dict[int, list[OverlayCell]] = {}  # row number -> one cell per column
        self.cursors: list[CursorMove] = []
        self.local_frame_sent = 0
        self.local_frame_acked = 0
        self.local_frame_late_acked = 0
        self.prediction_epoch = 1
        self.confirmed_epoch = 0
        self.send_interval: float = 250
        self.srtt_trigger = False
        self.flagging = False
        self.glitch_trigger = 0
        self.last_quick_confirmation = 0.0
        self._last_size: tuple[int, int] | None = None
        # rebase bookkeeping: [frame, byte, time, epoch] per predicted byte not yet known
        # to be received; tentative epoch -> frame of the keystroke that opened it
        self._history: List[list] = []
        self._epoch_start: dict[int, int] = {}
        self._rebase_from: int | None = None
        self._frame: int | None = None  # frame of the byte being handled, else None
        self.rebases = 0  # diagnostics
        self.hits = 0  # predictions the server's screen confirmed (the stats line)
        self.misses = 0  # predictions it contradicted
        # known prompts: epoch -> prompt it started at; prompts seen echoing; banned ones
        self._epoch_prompt: dict[int, tuple] = {}  # epoch -> (row, prompt)
        self._known_prompts: dict[tuple, None] = {}
        self._banned_prompts: set[tuple] = set()
        self._trusted: tuple[int, int, int] | None = None  # (epoch, row, prompt end column)
        self._last_received = -1  # the newest byte the server has received (-1: unknown)
        self.trusted_epochs = 0  # diagnostics

    # -- counters from the transport ------------------------------------------------------
    def set_local_frame_sent(self, n: int) -> None:
        self.local_frame_sent = n

    def set_local_frame_acked(self, n: int) -> None:
        self.local_frame_acked = n

    def set_local_frame_late_acked(self, n: int) -> None:
        self.local_frame_late_acked = n

    def set_send_interval(self, ms: float) -> None:
        self.send_interval = ms

    # -- state ----------------------------------------------------------------------------
    @property
    def _experimental(self) -> bool:
        return self.display_preference == "experimental"

    def reset(self) -> None:
        """Forget every prediction (resize, paste): nothing is re-predicted."""
        self._history = []
        self._epoch_start = {}
        self._rebase_from = None
        self._drop_all()
        self._epoch_prompt = {}
        self._last_received = -1

    def _drop_all(self) -> None:
        self.cursors = []
        self.overlays = {}
        self._become_tentative()

    def _become_tentative(self) -> None:
        if not self._experimental:
            self.prediction_epoch += 1
            if self._frame is not None:  # a keystroke opened this epoch
                self._epoch_start[self.prediction_epoch] = self._frame

    def _next_frame(self) -> int:
        return self.local_frame_sent + 1 if self._frame is None else self._frame

    def active(self) -> bool:
        if self.cursors:
            return True
        return any(c.active for cells in self.overlays.values() for c in cells)

    def displaying(self) -> bool:
        """Would ``apply`` draw anything right now (before tentative filtering)?"""
        pref = self.display_preference
        if pref == "never":
            return False
        return pref in ("always", "experimental") or self.srtt_trigger or self.glitch_trigger > 0

    def wait_time(self, now: float) -> float:
        timing_tests_pending = not (self.glitch_trigger and self.flagging)
        return TIMER_INTERVAL if timing_tests_pending and self.active() else FOREVER

    def _row(self, row: int, width: int) -> list[OverlayCell]:
        cells = self.overlays.get(row)
        if cells is None:
            cells = self.overlays[row] = [OverlayCell(col) for col in range(width)]
        return cells

    def _cursor(self) -> CursorMove:
        return self.cursors[-1]

    def _init_cursor(self, fb: Screen) -> None:
        frame = self._next_frame()
        if not self.cursors:
            if not self.active():  # fb is the server's screen, no prediction drawn on it
                self._note_prompt(fb)
            self.cursors.append(
                CursorMove(frame, fb.cursor_row, fb.cursor_col, self.prediction_epoch)
            )
        elif self._cursor().tentative_until_epoch != self.prediction_epoch:
            last = self._cursor()
            self.cursors.append(CursorMove(frame, last.row, last.col, self.prediction_epoch))

    def _kill_epoch(self, epoch: int, fb: Screen) -> None:
        self.cursors = [c for c in self.cursors if c.tentative_until_epoch < epoch]
        self.cursors.append(
            CursorMove(self._next_frame(), fb.cursor_row, fb.cursor_col, self.prediction_epoch)
        )
        for cells in self.overlays.values():
            for cell in cells:
                if cell.tentative_until_epoch >= epoch:
                    cell.deactivate()
        self._become_tentative()

    # -- judging ----------------------------------------------------------------------------
    def cull(self, fb: Screen, now: float, displayed: bool = False) -> None:
        """Judge predictions against ``fb``: the server's newest frame (from ``apply``), or
        with ``displayed`` the frame on screen (from ``new_user_byte``; no rebase then)."""
        if self.display_preference == "never":
            return
        size = (fb.width, fb.height)
        if size != self._last_size:
            self._last_size = size
            self.reset()
        self._judge(fb, now)
        if not displayed and not self._experimental:
            self._maybe_rebase(fb)

    def _judge(self, fb: Screen, now: float) -> None:

        interval = self.send_interval
        if interval > SRTT_TRIGGER_HIGH:
            self.srtt_trigger = True
        elif self.srtt_trigger and interval <= SRTT_TRIGGER_LOW and not self.active():
            self.srtt_trigger = False
        if interval > FLAG_TRIGGER_HIGH:
            self.flagging = True
        elif interval <= FLAG_TRIGGER_LOW:
            self.flagging = False
        if self.glitch_trigger > GLITCH_REPAIR_COUNT:
            self.flagging = True

        for row in [r for r in self.overlays if r < 0 or r >= fb.height]:
            del self.overlays[row]

        late = self.local_frame_late_acked
        early = self.local_frame_acked
        # early confirmation only for keys older than every received key whose prediction
        # fb contradicts: a cell shifted by an insert can match by chance (vi's ``cw``: the
        # word is deleted, the typed key lands on a blank, a shifted copy meets the same
        # letter further right), and confirming it would show the whole stale epoch
        contradicted = self._first_contradicted(fb, late, early)
        for row, cells in self.overlays.items():
            for idx, cell in enumerate(cells):
                verdict = cell.validity(
                    fb, row, late, early if cell.expiration_frame < contradicted else -1
                )
                if verdict == INCORRECT:
                    self.misses += 1
                    if self._experimental:
                        cell.deactivate()
                    elif cell.tentative(self.confirmed_epoch):
                        self._want_rebase(cell.tentative_until_epoch)
                        self._kill_epoch(cell.tentative_until_epoch, fb)
                    else:
                        self._distrust(cell.tentative_until_epoch)
                        self._want_rebase(0)
                        self._drop_all()
                        return
                elif verdict == CORRECT:
                    self.hits += 1
                    self._credit(fb, row, cells, idx, now)
                    cell.deactivate()
                elif verdict == CORRECT_NO_CREDIT:
                    self.hits += 1
                    cell.deactivate()
                elif verdict == PENDING:
                    age = now - cell.prediction_time
                    if age >= GLITCH_FLAG_THRESHOLD:
                        self.glitch_trigger = GLITCH_REPAIR_COUNT * 2
                    elif age >= GLITCH_THRESHOLD and self.glitch_trigger < GLITCH_REPAIR_COUNT:
                        self.glitch_trigger = GLITCH_REPAIR_COUNT

        if self.cursors and self._cursor().validity(fb, late) == INCORRECT:
            self.misses += 1
            if self._experimental:
                self.cursors = []
            else:
                self._distrust(self._cursor().tentative_until_epoch)
                self._want_rebase(0)
                self._drop_all()
                return
        self.cursors = [c for c in self.cursors if c.validity(fb, late) == PENDING]

    def _first_contradicted(self, fb: Screen, late: int, early: int) -> int:
        """The oldest frame with a received, unjudged prediction that ``fb`` contradicts."""
        first = FOREVER
        if early <= late:
            return first
        for row, cells in self.overlays.items():
            for cell in cells:
                if cell.expiration_frame < first and cell.contradicted(fb, row, late, early):
                    first = cell.expiration_frame
        for cursor in self.cursors:
            if (
                cursor.active
                and late < cursor.expiration_frame <= early
                and cursor.expiration_frame < first
                and (fb.cursor_row, fb.cursor_col) != (cursor.row, cursor.col)
            ):
                first = cursor.expiration_frame
        return first

    # -- rebase: re-predict the bytes in flight on the server's newest frame -----------------
    def _want_rebase(self, epoch: int) -> None:
        if self._rebase_from is None or epoch < self._rebase_from:
            self._rebase_from = epoch

    def _maybe_rebase(self, fb: Screen) -> None:
        acked = self.local_frame_acked
        history = self._history
        if history and history[0][0] <= acked:
            self._last_received = [h for h in history if h[0] <= acked][-1][1]
            self._history = history = [h for h in history if h[0] > acked]
        # a tentative epoch whose opening keystroke the server has had 50 ms to answer
        late = self.local_frame_late_acked
        reanchor = False  # the screen now shows the answer to an epoch's opening key
        for epoch in sorted(self._epoch_start):
            start = self._epoch_start[epoch]
            if epoch <= self.confirmed_epoch:
                del self._epoch_start[epoch]
            elif start <= late:
                del self._epoch_start[epoch]
                self._want_rebase(epoch)
                reanchor = True
        start_epoch = self._rebase_from
        if start_epoch is None:
            return
        if late < acked:
            # the server has keys this frame may not show yet (received < 50 ms before it):
            # predicting the rest on it would shift stale text; wait for a frame that does
            return
        self._rebase_from = None
        if not history and not reanchor:
            return  # a kill with nothing in flight: Mosh's own recovery is as good
        if any(h[3] < start_epoch for h in history):
            return  # older, possibly shown predictions are still in flight: leave them be
        self.rebases += 1
        self.cursors = [c for c in self.cursors if c.tentative_until_epoch < start_epoch]
        for cells in self.overlays.values():
            for cell in cells:
                if cell.tentative_until_epoch >= start_epoch:
                    cell.deactivate()
        self._become_tentative()
        first = history[0][0] if history else self._next_frame()
        self.cursors.append(CursorMove(first, fb.cursor_row, fb.cursor_col, self.prediction_epoch))
        prompt = self._note_prompt(fb)
        if prompt is not None and self._may_trust(prompt):
            self.confirmed_epoch = self.prediction_epoch
            self._trusted = (self.prediction_epoch, fb.cursor_row, fb.cursor_col)
            self.trusted_epochs += 1
        parser, last_byte = self._parser, self._last_byte
        self._parser, self._last_byte = KeyParser(), -1
        try:
            for entry in history:
                self._frame = entry[0]
                self._handle_byte(entry[1], fb, entry[2])
                entry[3] = self.prediction_epoch
        finally:
            self._frame = None
            self._parser, self._last_byte = parser, last_byte

    # -- known prompts ----------------------------------------------------------------------
    def _note_prompt(self, fb: Screen) -> tuple | None:
        """Remember the prompt the current epoch starts at on the real screen ``fb``."""
        prompt = _prompt_at(fb)
        if prompt is not None:
            self._epoch_prompt[self.prediction_epoch] = (fb.cursor_row, prompt)
            if len(self._epoch_prompt) > 64:
                del self._epoch_prompt[min(self._epoch_prompt)]
        return prompt

    def _learn_prompt(self, epoch: int, row: int, col: int) -> None:
        """A cell of ``epoch`` at (row, col) was echoed: learn the epoch's prompt if the cell
        is on the prompt's row, right of it."""
        start = self._epoch_prompt.get(epoch)
        if start is None or start[0] != row or col < start[1][0]:
            return
        del self._epoch_prompt[epoch]
        prompt = start[1]
        if prompt in self._banned_prompts:
            return
        self._known_prompts.pop(prompt, None)
        self._known_prompts[prompt] = None
        if len(self._known_prompts) > KNOWN_PROMPTS_LIMIT:
            del self._known_prompts[next(iter(self._known_prompts))]

    def _may_trust(self, prompt: tuple) -> bool:
        if prompt not in self._known_prompts or self._experimental:
            return False
        if self._last_received not in FRESH_LINE_KEYS:
            return False  # e.g. Escape (vi mode), or a kill in mid-line: not a fresh prompt
        if self.local_frame_late_acked < self.local_frame_acked:
            return False  # the server has keys this frame may not show yet
        epoch, confirmed = self.prediction_epoch, self.confirmed_epoch
        if any(confirmed < c.tentative_until_epoch < epoch for c in self.cursors):
            return False
        return not any(
            c.active and confirmed < c.tentative_until_epoch < epoch
            for cells in self.overlays.values()
            for c in cells
        )

    def _distrust(self, epoch: int) -> None:
        """A prediction of ``epoch`` was wrong: if it was trusted, ban its prompt."""
        if self._trusted is None or self._trusted[0] != epoch:
            return
        self._trusted = None
        start = self._epoch_prompt.get(epoch)
        if start is not None:
            self._banned_prompts.add(start[1])
            self._known_prompts.pop(start[1], None)

    def _at_trusted_edge(self, col: int) -> bool:
        """Would moving left from ``col`` leave the trusted epoch's typing into its prompt?"""
        trusted = self._trusted
        return (
            trusted is not None
            and trusted[0] == self.prediction_epoch
            and self._cursor().row == trusted[1]
            and col <= trusted[2]
        )

    def _credit(self, fb: Screen, row: int, cells: list[OverlayCell], idx: int, now: float) -> None:
        cell = cells[idx]
        self._learn_prompt(cell.tentative_until_epoch, row, cell.col)
        if cell.tentative_until_epoch > self.confirmed_epoch:
            self.confirmed_epoch = cell.tentative_until_epoch
        if now - cell.prediction_time < GLITCH_THRESHOLD:
            if (
                self.glitch_trigger > 0
                and now - GLITCH_REPAIR_MININTERVAL >= self.last_quick_confirmation
            ):
                self.glitch_trigger -= 1
                self.last_quick_confirmation = now
        # the server knows the right colours: use them for the rest of the row too
        _, fg, bg, attrs = fb.get_cell(row, cell.col)[:4]
        for later in cells[idx:]:
            contents, _, _, _, wide = later.replacement
            later.replacement = (contents, fg, bg, attrs, wide)

    # -- showing ------------------------------------------------------------------------------
    def apply(self, fb: Screen) -> None:
        if not self.displaying():
            return
        confirmed = self.confirmed_epoch
        for cursor in self.cursors:
            if cursor.active and not cursor.tentative(confirmed):
                fb.cursor_row = cursor.row
                fb.cursor_col = cursor.col
        for row, cells in self.overlays.items():
            for cell in cells:
                cell.apply(fb, row, confirmed, self.flagging)

    # -- making predictions -----------------------------------------------------------------------
    def new_user_byte(self, byte: int, fb: Screen, now: float) -> None:
        if self.display_preference == "never":
            return
        if self._experimental:
            self.prediction_epoch = self.confirmed_epoch
        self.cull(fb, now, displayed=True)
        frame = self.local_frame_sent + 1
        self._frame = frame
        try:
            self._handle_byte(byte, fb, now)
        finally:
            self._frame = None
        if not self._experimental:
            if len(self._history) >= HISTORY_LIMIT:
                self._history = []
                self._epoch_start = {}
                self._last_received = -1
            self._history.append([frame, byte, now, self.prediction_epoch])

    def _handle_byte(self, byte: int, fb: Screen, now: float) -> None:
        if self._last_byte == 0x1B and byte == 0x4F:  # ESC O x (application cursor keys)
            byte = 0x5B
        self._last_byte = byte
        for kind, ch in self._parser.feed(byte):
            if kind == PRINT:
                if ch == "\x7f":
                    self._predict_backspace(fb, now)
                elif ord(ch) < 0x20 or char_width(ord(ch)) != 1:
                    self._become_tentative()
                else:
                    self._predict_print(ch, fb, now)
            elif kind == EXECUTE:
                self._become_tentative()
                if ch == "\r":
                    self._newline_carriage_return(fb, now)
            elif kind == CSI and ch in ("C", "D"):
                self._init_cursor(fb)
                if ch == "D" and self._at_trusted_edge(self._cursor().col):
                    self._become_tentative()
                    self._init_cursor(fb)
                cursor = self._cursor()
                if ch == "C" and cursor.col < fb.width - 1:
                    cursor.col += 1
                    cursor.expire(self._next_frame(), now)
                elif ch == "D" and cursor.col > 0:
                    cursor.col -= 1
                    cursor.expire(self._next_frame(), now)
            elif kind in (CSI, ESC):
                self._become_tentative()

    def _predict_backspace(self, fb: Screen, now: float) -> None:
        self._init_cursor(fb)
        if self._at_trusted_edge(self._cursor().col):
            self._become_tentative()
            self._init_cursor(fb)
        cursor = self._cursor()
        cells = self._row(cursor.row, fb.width)
        if cursor.col <= 0:
            return
        frame = self._next_frame()
        cursor.col -= 1
        cursor.expire(frame, now)
        width = fb.width
        if self.predict_overwrite:
            cell = cells[cursor.col]
            cell.restart()
            cell.predict(self.prediction_epoch, frame, now)
            under_cursor = _cell(fb, fb.cursor_row, fb.cursor_col)
            cell.original_contents.append(under_cursor)
            cell.replacement = (" ",) + under_cursor[1:4] + (False,)
            return
        for col in range(cursor.col, width):
            cell = cells[col]
            cell.restart()
            cell.predict(self.prediction_epoch, frame, now)
            cell.original_contents.append(_cell(fb, cursor.row, col))
            if col + 2 < width:
                right = cells[col + 1]
                if right.active:
                    cell.unknown = right.unknown
                    if not right.unknown:
                        cell.replacement = right.replacement
                else:
                    cell.unknown = False
                    cell.replacement = _cell(fb, cursor.row, col + 1)
            else:
                cell.unknown = True

    def _predict_print(self, ch: str, fb: Screen, now: float) -> None:
        self._init_cursor(fb)
        width = fb.width
        if self._cursor().col + 1 >= width:
            self._become_tentative()  # last column: wrapping behaviour is up to the application
        cursor = self._cursor()
        row = cursor.row
        cells = self._row(row, width)
        frame = self._next_frame()
        epoch = self.prediction_epoch
        if not self.predict_overwrite:
            for col in range(width - 1, cursor.col, -1):
                cell = cells[col]
                cell.restart()
                cell.predict(epoch, frame, now)
                cell.original_contents.append(_cell(fb, row, col))
                left = cells[col - 1]
                if col == width - 1:
                    cell.unknown = True
                elif left.active:
                    cell.unknown = left.unknown
                    if not left.unknown:
                        cell.replacement = left.replacement
                else:
                    cell.unknown = False
                    cell.replacement = _cell(fb, row, col - 1)
        cell = cells[cursor.col]
        cell.restart()
        cell.predict(epoch, frame, now)
        if cursor.col > 0:
            left = cells[cursor.col - 1]
            if left.active and not left.unknown:
                fg, bg, attrs = left.replacement[1:4]
            else:
                fg, bg, attrs = fb.get_cell(row, cursor.col - 1)[1:4]
        else:
            fg, bg, attrs = _current_renditions(fb)
        cell.replacement = (ch, fg, bg, attrs, False)
        cell.original_contents.append(_cell(fb, row, cursor.col))
        cursor.expire(frame, now)
        if cursor.col < width - 1:
            cursor.col += 1
        else:
            self._become_tentative()
            self._newline_carriage_return(fb, now)

    def _newline_carriage_return(self, fb: Screen, now: float) -> None:
        self._init_cursor(fb)
        cursor = self._cursor()
        cursor.col = 0
        if cursor.row < fb.height - 1:
            cursor.row += 1
            return
        # bottom row: predict a blank line, not the scroll itself
        frame = self._next_frame()
        for cell in self._row(cursor.row, fb.width):
            cell.predict(self.prediction_epoch, frame, now)
            cell.unknown = False
            cell.replacement = ("",) + cell.replacement[1:]
