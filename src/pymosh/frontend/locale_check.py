"""The UTF-8 locale check of the wrapper and the client (the server's: locale_policy)."""

from __future__ import annotations

import locale
from typing import MutableMapping

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
