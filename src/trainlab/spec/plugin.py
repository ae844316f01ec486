"""The config class of a plugin (a model, dataset, optimizer or schedule from the user's code), without torch.

A plugin is validated like a built-in: by its own pydantic config class when its first parameter is annotated
with one (it is then called like a built-in builder, `build(config, ...)`), else by a class made from its
signature's type hints and defaults (it is then called with its options as keywords). Either way the class
takes the section's `name` (the plugin's import path or registered name) and an optional `version`, and
remembers a digest of the plugin's source: run ids cover it (or the `version`, when one is stated), so an
edited model is a new run.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from trainlab.errors import TrainlabError

# Where each section's registry lives, for configs unpickled in a worker process.
REGISTRIES = {
    "model": ("trainlab.models", "MODELS"),
    "data": ("trainlab.data", "DATASETS"),
    "optim": ("trainlab.optim", "OPTIMIZERS"),
    "schedule": ("trainlab.optim", "SCHEDULES"),
}


def source_digest(target: Any) -> str | None:
    """12 hex digits of the source of the module that defines `target` (of `target` itself where that module
    has no file, e.g. a notebook cell); None when no source can be read."""
    for obj in (inspect.getmodule(target), target):
        try:
            text = inspect.getsource(obj)
        except (OSError, TypeError):
            continue
        return hashlib.sha256(text.encode()).hexdigest()[:12]
    return None


def config_class(
    target: Callable[..., Any] | type,
    base: type[BaseModel],
    section: str,
    name: str,
    skip: Sequence[str] = (),
    own: type[BaseModel] | None = None,
) -> tuple[type[BaseModel], bool]:
    """(the plugin's config class, whether the plugin takes that config as its first argument). `base` is
    the section's base (e.g. Named, DataConfig); parameters named in `skip` (e.g. `info`) are not options;
    `own` is the plugin's config class when given apart from its signature."""
    params = _parameters(target)
    if own is None:
        annotation = _hints(target).get(params[0].name) if params else None
        own = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if own is not None:
        bases: tuple[type, ...] = (own, base) if not issubclass(own, base) else (own,)
        cls = _derive(bases, {}, section, name, target)
        cls.plugin_options = tuple(f for f in own.model_fields if f not in ("name", "version"))
        return cls, True
    hints = _hints(target)
    fields: dict[str, tuple[Any, Any]] = {}
    for p in params:
        if p.name in skip:
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TrainlabError(
                f"{section} {name!r}: takes *{p.name}, so its options cannot be checked; give it "
                "named parameters, or a pydantic config class as its first parameter's annotation"
            )
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    return _derive((base,), fields, section, name, target), False


def shared_config(schema: type[BaseModel], section: str, name: str, target: Any) -> type[BaseModel]:
    """A section with one schema for every name (optim, schedule): that schema, with the plugin's `version`
    and source digest."""
    return _derive((schema,), {}, section, name, target)


def options(config: BaseModel) -> dict[str, Any]:
    """The plugin's own options in a config made by `config_class` (not `name`, not `version`)."""
    return {k: getattr(config, k) for k in type(config).plugin_options}


def _derive(
    bases: tuple[type, ...], fields: dict[str, tuple[Any, Any]], section: str, name: str, target: Any
) -> type[BaseModel]:
    annotations: dict[str, Any] = {k: v[0] for k, v in fields.items()}
    annotations |= {
        "name": str,
        "version": str | None,
        "plugin_options": ClassVar[tuple[str, ...]],
        "plugin_section": ClassVar[str],
        "plugin_source": ClassVar[str | None],
    }
    namespace = {k: v[1] for k, v in fields.items() if v[1] is not ...}
    namespace |= {
        "__annotations__": annotations,
        "__module__": __name__,
        "__reduce__": _reduce,
        "model_config": ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True),
        "version": None,
        "plugin_options": tuple(fields),
        "plugin_section": section,
        "plugin_source": source_digest(target),
    }
    return type(f"Plugin{getattr(target, '__name__', 'Config')}", bases, namespace)


def _reduce(self: BaseModel) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """Pickled as (section, name, values): a worker process finds the class again through the registry."""
    return _rebuilt, (type(self).plugin_section, self.name, self.model_dump())


def _rebuilt(section: str, name: str, values: dict[str, Any]) -> BaseModel:
    module, registry = REGISTRIES[section]
    config = getattr(importlib.import_module(module), registry).get(name).config
    return config.model_validate(values)


def _parameters(target: Any) -> list[inspect.Parameter]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [p for p in signature.parameters.values() if p.name != "self"]


def _hints(target: Any) -> dict[str, Any]:
    """Resolved type hints of the callable (of `__init__` for a class); those that cannot be resolved (names
    imported only for type checking) are Any."""
    function = target.__init__ if isinstance(target, type) else target
    try:
        return typing.get_type_hints(function)
    except Exception:  # an annotation naming what its module does not define at run time
        return {}
