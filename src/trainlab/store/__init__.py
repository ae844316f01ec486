"""The store: SQLite for records, one folder per run for files."""

from trainlab.store.db import DONE_STATUSES, Store, open_store

__all__ = ["DONE_STATUSES", "Store", "open_store"]
