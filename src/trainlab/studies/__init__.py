"""Study kinds: each turns a validated spec and a store into runs and artifacts."""
