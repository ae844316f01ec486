"""Which way a metric improves: the study's own direction for its main metric, else higher for
accuracy-like names (accuracy, BLEU, exact match) and lower for everything else (losses, perplexity)."""

from __future__ import annotations

HIGHER_IS_BETTER = ("accuracy", "bleu", "exact_match")
SCALES = {"bleu": "0-100"}  # stored as sacreBLEU prints it; said wherever shown, as 0.21 could read as 21 %


def metric_title(name: str) -> str:
    """A metric's name as figures, tables and findings show it: with its scale where one could misread it."""
    return f"{name} ({SCALES[name]})" if name in SCALES else name


def metric_mode(name: str, main_metric: str | None = None, main_mode: str | None = None) -> str:
    """'max' or 'min' for the metric `name`."""
    if name == main_metric and main_mode in ("min", "max"):
        return main_mode
    return "max" if name in HIGHER_IS_BETTER else "min"
