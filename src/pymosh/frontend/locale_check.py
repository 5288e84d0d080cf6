"""The UTF-8 locale check of the wrapper and the client (the server's: locale_policy)."""

from __future__ import annotations

from pymosh.frontend.locale_policy import (
    LOCALE_VARS,
    ctype_name,
    is_utf8,
    original_environ,
    probe_locale,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

__all__ = ["LOCALE_VARS", "is_utf8_locale", "locale_env_summary"]


def is_utf8_locale(env: Mapping[str, str] | None = None) -> bool:
    """Whether LC_CTYPE resolves to an installed UTF-8 locale in ``env`` (default: the
    environment this process was started with, so CPython's C-locale coercion, which puts
    LC_CTYPE=C.UTF-8 into os.environ, does not turn a C locale into a UTF-8 one)."""
    env = original_environ() if env is None else env
    return is_utf8(probe_locale(ctype_name(env) or "C"))


def locale_env_summary(env: Mapping[str, str] | None = None) -> str:
    """The locale variables of ``env`` (default: as this process was started), one
    ``NAME=VALUE`` a line (like ``locale`` prints)."""
    env = original_environ() if env is None else env
    return "\n".join(f"{name}={env.get(name, '')}" for name in LOCALE_VARS)
