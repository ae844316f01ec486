"""Which way a metric improves: the study's own direction for its main metric, else higher for
accuracy-like names (accuracy, BLEU, exact match) and lower for everything else (losses, perplexity)."""

from __future__ import annotations

HIGHER_IS_BETTER = ("accuracy", "bleu", "exact_match")


def metric_mode(name: str, main_metric: str | None = None, main_mode: str | None = None) -> str:
    """'max' or 'min' for the metric `name`."""
    if name == main_metric and main_mode in ("min", "max"):
        return main_mode
    return "max" if name in HIGHER_IS_BETTER else "min"
