"""Execution: how a study's units get run, whatever their kind. `units` (what a unit, its context and its
outcome are), `runner` (train one run, from its checkpoint when it has one), `driver` (skip, wait for inputs,
claim, run each unit in this process), `parallel` with `pool` (worker processes) and `ray_pool` +
`ray_mailbox` (Ray tasks), `workers` (a unit's side in another process), `progress` (the display).

Nothing here knows a study kind; a kind hands its units and its `run` to the driver. This package imports
nothing at its top, so `ray_mailbox` stays light for Ray's actor processes."""
