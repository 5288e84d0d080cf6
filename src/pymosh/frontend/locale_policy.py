"""The shell's locale on the server, decided from the environment the server was given.

Mosh's rule for *when* the client's ``-l NAME=VALUE`` values apply: only if the server's
own locale is not UTF-8; then the locale variables are replaced by the client's. Beyond
Mosh: the shell really gets them, a value naming a locale not installed here (which makes
``setlocale(LC_ALL, "")`` fail in every program) is replaced by an installed UTF-8 locale
with a one-line notice, and the server refuses only when this host has no UTF-8 locale.

The decision is made on the environment the server was *started* with, read from
``/proc/self/environ``: CPython's C-locale coercion (PEP 538) puts ``LC_CTYPE=C.UTF-8``
into ``os.environ`` at start-up, which would make a non-UTF-8 server look UTF-8 and leak
into the shell; UTF-8 mode (PEP 540) changes no variable and is irrelevant here.
"""

from __future__ import annotations

import _locale  # locale.py without its re and encodings imports (client start-up)

from pymosh.frontend.procenv import original_environ

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterable, Mapping

    Probe = Callable[[str], "str | None"]

# every variable the wrapper forwards with -l, in mosh's order
LOCALE_VARS = (
    "LANG",
    "LANGUAGE",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "LC_ALL",
)
# LANGUAGE is a list of message languages, not a locale name: passed on, never probed
PROBED = tuple(name for name in LOCALE_VARS if name != "LANGUAGE")
FALLBACKS = ("C.UTF-8", "C.utf8", "en_US.UTF-8")
INSTALL_HINT = (
    "install it on this host (Debian/Ubuntu: sudo dpkg-reconfigure locales, or locale-gen NAME)"
)


class LocaleDecision:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env  # the shell's environment
        self.notices: list[str] = []
        self.error: str | None = None


def is_utf8(codeset: str | None) -> bool:
    return codeset is not None and codeset.replace("-", "").upper() == "UTF8"


def ctype_name(env: Mapping[str, str]) -> str:
    """The locale name LC_CTYPE resolves to under POSIX precedence ("" = the C locale)."""
    return env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""


def decide(
    env: Mapping[str, str], requested: Iterable[str], probe: Probe, fallbacks: Iterable[str]
) -> LocaleDecision:
    """The shell's environment for ``env`` and the client's ``-l`` values.

    ``probe(name)`` is the codeset of an installed locale, None if not installed;
    ``fallbacks`` are tried in order for an installed UTF-8 locale.
    """
    shell = dict(env)
    if is_utf8(probe(ctype_name(shell) or "C")):
        return LocaleDecision(shell)  # Mosh: -l does not apply
    decision = LocaleDecision(shell)
    for name in LOCALE_VARS:
        shell.pop(name, None)
    for item in requested:
        name, sep, value = item.partition("=")
        if not sep or name not in LOCALE_VARS or not value.isprintable():
            decision.notices.append(f"ignored -l {item!r} (not NAME=VALUE of a locale variable)")
            continue
        shell[name] = value
    missing = [name for name in PROBED if shell.get(name) and probe(shell[name]) is None]
    if not missing and is_utf8(probe(ctype_name(shell) or "C")):
        return decision
    fallback = next((f for f in fallbacks if is_utf8(probe(f))), None)
    if fallback is None:
        asked = " ".join(f"{n}={shell[n]}" for n in LOCALE_VARS if n in shell) or "nothing"
        decision.error = (
            "needs a UTF-8 locale, and this host has none installed (client asked for "
            f"{asked}). Install one, e.g. C.UTF-8 (Debian/Ubuntu: apt-get install locales; "
            "dpkg-reconfigure locales)."
        )
        return decision
    if missing:
        asked = ", ".join(f"{name}={shell[name]}" for name in missing)
        first = shell[missing[0]]
        verb = "is" if len(missing) == 1 else "are"
        decision.notices.append(
            f"locale {asked} {verb} not installed here; using {fallback} "
            f"instead ({INSTALL_HINT.replace('NAME', first)})"
        )
        for name in missing:
            shell[name] = fallback
    if not is_utf8(probe(ctype_name(shell) or "C")):
        was = ctype_name(shell) or "unset"
        target = "LC_ALL" if "LC_ALL" in shell else "LC_CTYPE"
        shell[target] = fallback
        decision.notices.append(f"the locale ({was}) is not UTF-8; using {target}={fallback}")
    return decision


# ------------------------------------------------------------------ the real host


def probe_locale(name: str) -> str | None:
    """The codeset of the installed locale ``name``, None if setlocale refuses it."""
    saved = _locale.setlocale(_locale.LC_CTYPE)
    try:
        _locale.setlocale(_locale.LC_CTYPE, name)
        return _locale.nl_langinfo(_locale.CODESET)
    except _locale.Error:  # type: ignore[attr-defined]  # (missing from the stubs)
        return None
    finally:
        _locale.setlocale(_locale.LC_CTYPE, saved)


def host_fallbacks() -> list[str]:
    """C.UTF-8 first, then the host's other UTF-8 locales as ``locale -a`` lists them."""
    import subprocess  # (not at import: the client imports this module, never runs this)

    names = list(FALLBACKS)
    try:
        out = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    names += [n for n in out.split() if n.lower().replace("-", "").endswith("utf8")]
    return names


class _LazyFallbacks:
    """``locale -a`` runs only if none of the usual names is installed."""

    def __iter__(self):
        yield from FALLBACKS
        yield from host_fallbacks()[len(FALLBACKS) :]


def shell_locale(requested: Iterable[str], env: Mapping[str, str] | None = None) -> LocaleDecision:
    return decide(
        original_environ() if env is None else env, requested, probe_locale, _LazyFallbacks()
    )
