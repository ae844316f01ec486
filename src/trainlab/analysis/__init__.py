"""Pure pandas/numpy/scipy over stored records: summaries, seed statistics, curve diagnostics."""
