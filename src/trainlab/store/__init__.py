"""The store: SQLite for records, one folder per run for files; one writer applies training events."""

from trainlab.store.claims import Claim, Claims
from trainlab.store.db import DONE_STATUSES, Store, open_store
from trainlab.store.writer import StoreWriter

__all__ = ["DONE_STATUSES", "Claim", "Claims", "Store", "StoreWriter", "open_store"]
