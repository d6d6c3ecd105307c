"""Flows: the migration process as a durable flow, and everything around it.

``process`` is the process itself, ``steps`` each robot step once, ``engine`` what runs flows (DBOS, the
worker, the run store, settings), ``interfaces`` how people reach it (the ``rpa`` command), ``reporting``
what they read afterwards, ``devtools`` the demo, the regression catalogue and the benchmarks.
"""
