"""pymosh's handshake policy: what this client asks for, what this server grants.

A pymosh client's first user event is a ``Hello`` (extension 100, skipped by a stock
mosh-server); a pymosh server answers in its host state with the features it grants.
A feature is used only once both hellos are known, so stock peers see nothing new.
"""

from __future__ import annotations

from pymosh.wire.protobuf import (
    FEATURE_CLIPBOARD,
    FEATURE_RESUME,
    FEATURE_SCROLLBACK,
    FEATURE_STREAMS,
    Hello,
)

VERSION = 1
# The features each side implements; a feature module adds its bit here when it lands.
CLIENT_FEATURES = FEATURE_SCROLLBACK | FEATURE_STREAMS | FEATURE_RESUME | FEATURE_CLIPBOARD
# resume: pymosh-server keeps a registry
SERVER_FEATURES = FEATURE_SCROLLBACK | FEATURE_STREAMS | FEATURE_RESUME | FEATURE_CLIPBOARD
MAX_SCROLLBACK_LINES = 1_000_000  # the most history a client may ask the server to keep


def client_hello(features: int = CLIENT_FEATURES, scrollback_lines: int = 0) -> Hello:
    return Hello(VERSION, features, max(scrollback_lines, 0))


def answer(asked: Hello, supported: int = SERVER_FEATURES) -> Hello:
    """The server's reply: the features both sides have; the history it will keep."""
    features = asked.features & supported
    return Hello(VERSION, features, min(asked.scrollback_lines, MAX_SCROLLBACK_LINES))
