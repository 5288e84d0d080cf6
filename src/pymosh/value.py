"""Small value classes without ``dataclasses``.

Importing ``dataclasses`` (and with it ``inspect``, ``ast``, ``dis``, ``tokenize``) and
generating each class's methods costs pymosh-client about 10 ms of start-up, before its
first datagram. These bases give what pymosh's records use: equality, repr and (frozen)
hashing and immutability over the fields named in ``__slots__``; each class writes its
own ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Value:
    """Equality and repr over ``__slots__``; mutable, so unhashable (defining ``__eq__``
    alone sets ``__hash__`` to None)."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({args})"


class Frozen(Value):
    """A `Value` that cannot change after ``__init__`` (which takes the fields in
    ``__slots__`` order and sets them with ``object.__setattr__``), so it hashes."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        # copy and pickle rebuild through __init__ (its parameters are the fields in order)
        return (self.__class__, self._fields())
