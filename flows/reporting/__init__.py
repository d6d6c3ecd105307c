"""Reporting: the run report of each flow and the index of runs, with the process graph laid out here."""
