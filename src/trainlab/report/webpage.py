"""One self-contained HTML page: figures embedded as base64 PNG, no external resources."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import yaml
from matplotlib.figure import Figure

from trainlab.files import write_atomic

DPI = 110  # of every PNG a report writes and embeds

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
thead th{border-bottom:2px solid #444}
caption{caption-side:bottom;text-align:left;color:#555;padding-top:6px;max-width:1100px}
figure{margin:1.5em 0} figcaption{color:#555} img{max-width:100%}
pre{background:#f6f6f6;padding:1em;overflow:auto}
"""


def png_base64(fig: Figure, save_as: Path | None = None) -> str:
    """The figure as base64 PNG, rendered once; also written to `save_as` when given."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    if save_as is not None:
        write_atomic(save_as, lambda f: f.write(buf.getvalue()), buf.tell())
    return base64.b64encode(buf.getvalue()).decode()


def save_figure(fig: Figure, path: Path) -> None:
    """The figure in the format its suffix names (pdf, png), written atomically: a killed report never leaves
    half a file."""
    write_atomic(path, lambda f: fig.savefig(f, format=path.suffix.lstrip("."), dpi=DPI))


def figure_html(fig: Figure, caption: str, save_as: Path | None = None) -> str:
    """The figure embedded in a <figure> with its caption (and saved as PNG at `save_as`, same bytes, and as
    PDF beside it: every static figure of a report is in both)."""
    if save_as is not None:
        save_figure(fig, save_as.with_suffix(".pdf"))
        fig.set_layout_engine("none")  # laid out for the PDF: the PNG keeps those positions, not a second layout
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{png_base64(fig, save_as)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def page(title: str, sections: list[tuple[str, str]], spec: dict) -> str:
    """sections: (heading, inner HTML) pairs, in order; the study spec closes the page."""
    body = "".join(f"<h2>{html.escape(h)}</h2>{inner}" for h, inner in sections)
    spec_text = html.escape(yaml.safe_dump(spec, sort_keys=False, width=10**6))  # a command line on one line
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        f"<h2>Study spec</h2><pre>{spec_text}</pre></body></html>"
    )
