"""One small registry type for models, datasets, optimizers and schedules (OpenLTH/timm style)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from trainlab.errors import unknown_choice

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered builder and the pydantic class that validates its config (None: shared schema)."""

    name: str
    build: T
    config: Any = None


class Registry(Generic[T]):
    """A plain name -> entry mapping whose lookups fail with the list of valid names."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, build: T, config: Any = None) -> T:
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = Entry(name, build, config)
        return build

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_choice(self.what, name, self._entries) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())
