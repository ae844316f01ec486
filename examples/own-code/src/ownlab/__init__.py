"""ownlab: an example of a user's own model, dataset and task, found by trainlab through entry points."""
