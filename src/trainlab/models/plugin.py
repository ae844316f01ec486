"""A model from the user's code (an import path, an entry point of group `trainlab.models`, or
`trainlab.register_model`): a builder `build(config, info)` taking its own pydantic config class, or any
callable (an nn.Module class, a function) whose keyword options become its config and which receives the
data's `info` (a DataInfo: input shape, classes) when it has a parameter of that name."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.registry import Entry
from trainlab.spec.config import Named
from trainlab.spec.plugin import config_class, options


def model_plugin(name: str, target: Any, own: Any = None) -> Entry[Any]:
    if not callable(target):
        raise TrainlabError(f"model {name!r}: {type(target).__name__} is not a class or a function")
    config, takes_config = config_class(target, Named, "model", name, skip=("info",), own=own)
    wants_info = "info" in inspect.signature(target).parameters

    def build(cfg: Any, info: DataInfo) -> nn.Module:
        try:
            if takes_config:
                model = target(cfg, info) if wants_info or _arity(target) > 1 else target(cfg)
            else:
                model = target(**options(cfg), **({"info": info} if wants_info else {}))
        except TrainlabError:
            raise
        except Exception as err:  # the user's builder, on these options
            raise TrainlabError(f"model {name!r}: building it raised {type(err).__name__}: {err}") from None
        if not isinstance(model, nn.Module):
            raise TrainlabError(f"model {name!r}: built a {type(model).__name__}, not a torch.nn.Module")
        return model

    return Entry(name, build, config, source=config.plugin_source)


def _arity(target: Any) -> int:
    return len([p for p in inspect.signature(target).parameters.values() if p.name != "self"])
