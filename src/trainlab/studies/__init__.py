"""Study kinds: each turns a validated spec and a store into runs and artifacts (see `kind.py`).
Importing the package registers every kind."""

from trainlab.studies import batch_size, landscape, lottery, nqm, scaling, train  # noqa: F401  (each module registers its kind)
