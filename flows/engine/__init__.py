"""The engine: DBOS configured from settings, the worker that runs flows, the run store, the robots of a
process. It knows how to run and record flows, not what the process decides."""
