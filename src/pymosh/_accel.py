"""The one place that decides between the Cython fast paths and the pure-Python twins.

``PYMOSH_NO_EXTENSIONS=1`` forces the twins. An extension that is missing or fails
to import silently falls back to its twin; :func:`status` says which is in use. A twin
is imported only when it serves (it costs start-up time: regex compiles, ``cryptography``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

NO_EXTENSIONS = os.environ.get("PYMOSH_NO_EXTENSIONS", "") not in ("", "0")

# name of the fast-path module -> the twin module that serves when it is missing
FAST_PATHS = {
    "crypto": "pymosh.crypto.ocb",
    "terminal": "pymosh.terminal.emulator",
    "codec": "pymosh.network.codec",
    "lane": "pymosh.frontend.lane",
}

_loaded: dict[str, ModuleType | None] = {}


def fast_module(name: str) -> ModuleType | None:
    """The compiled ``_fastpath.<name>`` module, or None if disabled or unavailable."""
    if NO_EXTENSIONS:
        return None
    if name not in _loaded:
        try:
            _loaded[name] = _import(f"_fastpath.{name}")
        except ImportError:
            _loaded[name] = None
    return _loaded[name]


def pick(name: str, twin: ModuleType | str | None = None) -> ModuleType:
    """The fast module for ``name`` if usable, else its twin.

    ``twin`` is the twin module or its dotted name (default ``FAST_PATHS[name]``); a
    name is imported only when the fast path is not used.
    """
    fast = fast_module(name)
    if fast is not None:
        return fast
    if twin is None:
        twin = FAST_PATHS[name]
    return _import(twin) if isinstance(twin, str) else twin


def _import(name: str) -> ModuleType:
    # importlib.import_module without importing importlib (and warnings) at start-up
    __import__(name)
    return sys.modules[name]


def status() -> dict[str, bool]:
    """Which fast paths are active: {"crypto": True, "terminal": False, ...}."""
    return {name: fast_module(name) is not None for name in FAST_PATHS}


def describe() -> str:
    active = status()
    overall = "yes" if all(active.values()) else ("partial" if any(active.values()) else "no")
    detail = ", ".join(f"{k}={'C' if v else 'py'}" for k, v in active.items())
    return f"fast path: {overall} ({detail})"
