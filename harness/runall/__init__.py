"""runall: the package behind ./run_all.py (scenario matrix, builds, runs, checkers, results)."""

SCHEMA_VERSION = 1  # of results.json; harness/runall/SCHEMA.md
