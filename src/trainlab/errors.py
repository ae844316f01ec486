"""User-facing errors: one clear line, no traceback (the CLI prints them and exits with 2)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TrainlabError(Exception):
    """A problem with the user's input or environment, stated so the user can fix it."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_choice(what: str, name: str, choices: Iterable[str]) -> TrainlabError:
    """The error for a name that is not registered, listing the valid ones."""
    choices = sorted(choices)
    return TrainlabError(f"{what}: unknown name {name!r}{did_you_mean(name, choices)}; valid: {', '.join(choices)}")
