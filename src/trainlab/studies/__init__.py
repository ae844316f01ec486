"""Study kinds, one package each (`train`, `landscape`, `lottery`, `scaling`, `batch_size`, `nqm`,
`transfer`): a kind's typed section, its plan, how a unit runs, its report and its own helpers live in its
package, which registers the kind in `kind.KINDS` when imported. `kind.py` is the interface a kind fills,
`catalog.py` validates study files and plans against every registry.

Importing this package imports every kind package found here, so adding a kind is adding a package."""

import importlib
import pkgutil

for _found in pkgutil.iter_modules(__path__):
    if _found.ispkg:
        importlib.import_module(f"{__name__}.{_found.name}")
