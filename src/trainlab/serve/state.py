"""What every route of the dashboard shares: where the store and the reports are, the caches, and the store
opened read-only for one request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from trainlab.serve.series import SeriesCache
from trainlab.serve.upload import UploadParser
from trainlab.serve.views import StudyTables
from trainlab.store import Store


@dataclass
class Dashboard:
    store_root: Path
    reports: Path | None = None  # `--reports DIR`: report folders served under /reports/NAME/
    series: SeriesCache = field(default_factory=SeriesCache)
    tables: StudyTables = field(default_factory=StudyTables)
    uploads: UploadParser = field(default_factory=UploadParser)

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store in SQLite's read-only mode, for one request."""
        db = Store(self.store_root, read_only=True)
        try:
            yield db
        finally:
            db.close()

    def has_report(self, study: str) -> bool:
        return bool(self.reports and (self.reports / study / "index.html").is_file())


def dashboard(request: Request) -> Dashboard:
    """The app's Dashboard (a FastAPI dependency)."""
    return request.app.state.dashboard
