"""Command groups of the `journeys` CLI, one module each, registered by `jobs.cli`."""
