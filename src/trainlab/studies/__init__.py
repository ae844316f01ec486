"""Study kinds: each turns a validated spec and a store into runs and artifacts (see `kind.py`).
Importing the package registers every kind."""

from trainlab.studies import landscape, lottery, train  # noqa: F401  (each module registers its kind)
