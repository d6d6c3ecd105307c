"""Flows: the migration process as a durable flow, the runner, settings and the ``rpa`` command."""
