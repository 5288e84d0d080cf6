"""Client overlays: predictive local echo and the notification bar (terminal.md 5-9).

Use from the client loop (all times in ms, passed in)::

    overlays = OverlayManager(now, display_preference=os.environ.get(
        "MOSH_PREDICTION_DISPLAY", "adaptive"), predict_overwrite=overwrite)
    # network readable:
    overlays.notifications.server_heard(latest_state_receive_time)
    overlays.notifications.server_acked(send_time_of_newest_acked_user_state)
    overlays.predictions.set_local_frame_acked(n)
    overlays.predictions.set_send_interval(transport_send_interval)
    overlays.predictions.set_local_frame_late_acked(latest_remote_state.echo_ack)
    # stdin readable (before handling the bytes; skip new_user_byte for a paste > 100 bytes
    # and call overlays.predictions.reset() instead):
    overlays.predictions.set_local_frame_sent(last_sent_user_state_num)
    overlays.predictions.new_user_byte(byte, local_framebuffer, now)
    # each frame:
    frame = server_state.copy(); overlays.apply(frame, now)
    wait = min(network_wait, overlays.wait_time(now))

The window-title prefix ``[mosh] `` is the client's job (the Emulator API has no title
setter). ``apply`` needs ``cursor_row``, ``cursor_col`` and ``cursor_visible`` settable.
"""

from __future__ import annotations

from ...terminal.api import Screen
from .notification import NotificationEngine
from .prediction import PredictionEngine
from .stats import StatsOverlay

__all__ = ["NotificationEngine", "OverlayManager", "PredictionEngine", "StatsOverlay"]


class OverlayManager:
    """Both engines, applied in Mosh's order: cull, predictions, expiry, bar; then the
    statistics line (off unless toggled)."""

    def __init__(
        self, now: float = 0, display_preference: str = "adaptive", predict_overwrite: bool = False
    ) -> None:
        self.notifications = NotificationEngine(now)
        self.predictions = PredictionEngine(display_preference, predict_overwrite)
        self.stats = StatsOverlay()

    def apply(self, fb: Screen, now: float) -> None:
        self.predictions.cull(fb, now)
        self.predictions.apply(fb)
        self.notifications.adjust_message(now)
        self.notifications.apply(fb, now)
        self.stats.apply(fb, now, self.predictions.hits, self.predictions.misses)

    def wait_time(self, now: float) -> float:
        return min(
            self.notifications.wait_time(now),
            self.predictions.wait_time(now),
            self.stats.wait_time(now),
        )
