"""Registries: lookups by name, errors that list the valid names."""

from __future__ import annotations

import pytest

from trainlab.errors import TrainlabError
from trainlab.registry import Registry


def test_unknown_name_lists_choices_and_suggests() -> None:
    """A misspelt name gets a suggestion and the sorted valid names."""
    reg: Registry[int] = Registry("model")
    reg.register("resnet", 1)
    reg.register("vit", 2)
    with pytest.raises(
        TrainlabError, match=r"model: unknown name 'resnte' \(did you mean resnet\?\); valid: resnet, vit"
    ):
        reg.get("resnte")
    assert reg.get("vit").build == 2 and reg.names() == ["resnet", "vit"] and "vit" in reg


def test_double_registration_is_a_bug() -> None:
    """Registering a name twice fails loudly."""
    reg: Registry[int] = Registry("data")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", 2)
