"""The dashboard's routes, one module per part: `pages` (HTML shells, static files, reports), `studies` (the
JSON of studies, runs and curves, and the live event stream), `landscapes` (stored and uploaded surfaces)."""
