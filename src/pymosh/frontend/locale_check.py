"""UTF-8 locale checks for the server (with ``-l NAME=VALUE`` fallbacks) and the client."""

from __future__ import annotations

import locale
import os
from typing import Iterable, MutableMapping

# every variable the wrapper forwards with -l, in mosh's order
LOCALE_VARS = (
    "LANG", "LANGUAGE", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE", "LC_MONETARY",
    "LC_MESSAGES", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT",
    "LC_IDENTIFICATION", "LC_ALL",
)


def is_utf8_locale() -> bool:
    """Adopt the environment's locale (LC_ALL from env) and say whether its charset is UTF-8."""
    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        return False
    codeset = locale.nl_langinfo(locale.CODESET)
    return codeset.replace("-", "").upper() == "UTF8"


def locale_env_summary(env: MutableMapping[str, str]) -> str:
    """The locale variables of ``env``, one ``NAME=VALUE`` a line (like ``locale`` prints)."""
    return "\n".join(f"{name}={env.get(name, '')}" for name in LOCALE_VARS)


def ensure_utf8_locale(fallbacks: Iterable[str],
                       env: MutableMapping[str, str] | None = None) -> str | None:
    """Make the process locale UTF-8, trying ``NAME=VALUE`` fallbacks if needed.

    Returns None on success (``env``, default ``os.environ``, then holds the locale the
    child should inherit), else an actionable error message.
    """
    env = os.environ if env is None else env
    if is_utf8_locale():
        return None
    before = locale_env_summary(env)
    fallbacks = list(fallbacks)
    for name in LOCALE_VARS:
        env.pop(name, None)
    for item in fallbacks:
        name, sep, value = item.partition("=")
        if sep:
            env[name] = value
    if is_utf8_locale():
        return None
    return (
        "needs a UTF-8 native locale to run.\n\n"
        f"Unfortunately, the local environment ({before.replace(chr(10), ' ')}) specifies\n"
        "a character set that is not UTF-8, and the client-supplied environment\n"
        f"({' '.join(fallbacks) or 'nothing'}) does not name an installed UTF-8 locale either.\n"
        "Set LANG or LC_ALL to a UTF-8 locale that exists here (see `locale -a`, e.g. C.UTF-8)."
    )
