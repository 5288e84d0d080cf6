"""``Generic``, ``Protocol`` and ``TypeVar`` for the classes on pymosh-client's start-up
path, without importing ``typing`` at run time.

``typing`` (with the ``re``, ``functools``, ``collections`` and ``contextlib`` it loads)
costs pymosh-client milliseconds before its first datagram. Type checkers see typing's
own names; at run time ``Generic[...]`` and ``Protocol[...]`` are plain bases that only
allow the subscript, and a type variable is its name. Nothing here checks anything at run
time (no ``isinstance`` against a protocol).

Modules on that path import other typing names for annotations only, under
``TYPE_CHECKING = False`` / ``if TYPE_CHECKING:`` (their annotations are strings).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Generic as Generic
    from typing import Protocol as Protocol
    from typing import TypeVar as TypeVar
else:

    class Generic:
        """A base that accepts ``Generic[T, ...]`` (which is this class itself)."""

        __slots__ = ()

        def __class_getitem__(cls, params):
            return cls

    class Protocol(Generic):
        """An interface written as a class; implementations need not subclass it."""

        __slots__ = ()

    def TypeVar(name, *constraints, **options):  # noqa: N802  (typing's name)
        return name
