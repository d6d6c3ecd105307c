"""Robots: one module per console; each step takes a pydantic input and returns a result with its evidence."""
