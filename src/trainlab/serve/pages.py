"""The dashboard's HTML shells: a header, the page's container and its data; static/app.js draws the rest."""

from __future__ import annotations

import html
import json
from typing import Any


def page(title: str, kind: str, data: dict[str, Any]) -> str:
    """One page: `kind` names what app.js draws (studies, study, run, landscapes) from `data`."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · trainlab</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/style.css">'
        '<script src="/static/plotly.min.js"></script><script src="/static/app.js" defer></script></head>'
        f'<body data-page="{html.escape(kind)}" data-args="{html.escape(json.dumps(data))}">'
        '<header><a href="/">trainlab</a> <span class="crumbs" id="crumbs"></span></header>'
        f'<main><h1>{html.escape(title)}</h1><div id="app">loading…</div></main></body></html>'
    )
