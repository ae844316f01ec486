"""One small registry type for models, datasets, tasks, optimizers, schedules and study kinds (OpenLTH/timm
style), open to the user's code: an entry is built in, registered from Python, found through an installed
package's entry points (group `trainlab.<registry>`), or named by import path (`my_pkg.nets:TinyNet`). All
four are the same `Entry`; `origin` says which, `source` is a digest of a plugin's code (run ids cover it).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from trainlab.errors import TrainlabError, unknown_choice

T = TypeVar("T")
BUILT_IN = "built in"
IMPORTED = "import path"
IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")  # module.path:Attribute.path


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A builder and the pydantic class that validates its config (None: shared schema), where it came from,
    and for a plugin a digest of its code."""

    name: str
    build: T
    config: Any = None
    origin: str = BUILT_IN
    source: str | None = None


Adapt = Callable[..., Entry[Any]]  # (name, the imported object, config class or None) -> its entry


def _as_is(name: str, target: Any, config: Any = None) -> Entry[Any]:
    return Entry(name, target, config)


class Registry(Generic[T]):
    """A name -> entry mapping whose lookups fail with the list of valid names. Names it does not hold are
    looked for among its entry points, then read as import paths; `adapt` turns what they name into an
    entry (a config class from a builder's signature, ...)."""

    def __init__(self, what: str, group: str | None = None, adapt: Adapt = _as_is) -> None:
        self.what, self.group, self.adapt = what, group, adapt
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, build: T, config: Any = None) -> T:
        """A built-in entry."""
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = Entry(name, build, config)
        return build

    def add_plugin(self, name: str, target: Any, origin: str, config: Any = None) -> Entry[T]:
        """An entry from the user's code (adapted like an import path's; `config`: its config class, when
        it is not the annotation of the builder's first parameter), replacing one of the same name that is
        not built in."""
        existing = self._entries.get(name)
        if existing is not None and existing.origin == BUILT_IN:
            raise TrainlabError(f"{self.what} {name!r}: a built-in name; register yours under another")
        entry = replace(self.adapt(name, target, config), origin=origin)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        entry = self.find(name)
        if entry is None:
            raise unknown_choice(self.what, str(name), self.names())
        return entry

    def find(self, name: str) -> Entry[T] | None:
        """The entry of `name` (loading it if it is an entry point or an import path), or None when no entry
        goes by that name; a TrainlabError when one does but cannot be loaded."""
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        found = self._entry_points().get(name)
        if found is not None:
            return self.add_plugin(name, _load(found, f"{self.what} {name!r}"), _origin(found))
        if isinstance(name, str) and IMPORT_PATH.fullmatch(name):
            return self.add_plugin(name, import_path(name, f"{self.what} {name!r}"), IMPORTED)
        return None

    def configs(self) -> Mapping[str, Any]:
        """name -> config class, for the spec's Catalog: every name this registry can resolve (its entry
        points and import paths too, looked up when asked for)."""
        return _Configs(self)

    def names(self) -> list[str]:
        """The names to choose from: built in, registered, from entry points (import paths are not names)."""
        named = (n for n, e in self._entries.items() if e.origin != IMPORTED)
        return sorted({*named, *self._entry_points()})

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        """The entries held (built in and registered; plugins once loaded, import paths aside)."""
        return iter(self._entries[n] for n in sorted(self._entries) if self._entries[n].origin != IMPORTED)

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self.group is None:
            return {}
        return {ep.name: ep for ep in entry_points(group=self.group)}


def import_path(path: str, what: str) -> Any:
    """The object `module.path:Attribute` names; a TrainlabError saying what failed otherwise."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise TrainlabError(f"{what}: cannot import {module_name} ({err})") from None
    except Exception as err:  # the user's module raised while being imported
        raise TrainlabError(f"{what}: importing {module_name} raised {type(err).__name__}: {err}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise TrainlabError(f"{what}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target


def _load(found: EntryPoint, what: str) -> Any:
    try:
        return found.load()
    except Exception as err:  # a broken entry point: the user's package, not trainlab
        raise TrainlabError(
            f"{what}: entry point {found.value!r} of {_origin(found)} fails to load ({type(err).__name__}: {err})"
        ) from None


def _origin(found: EntryPoint) -> str:
    dist = found.dist
    return f"entry point of {dist.name} {dist.version}" if dist else "entry point"


class _Configs(Mapping[str, Any]):
    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry

    def __getitem__(self, name: str) -> Any:
        entry = self.registry.find(name)
        if entry is None:
            raise KeyError(name)
        return entry.config

    def __iter__(self) -> Iterator[str]:
        return iter(self.registry.names())

    def __len__(self) -> int:
        return len(self.registry.names())
