"""Builders and fixture files shared by the test suite (on the path through `pythonpath` in pyproject.toml).

Test modules import shared helpers from here, never from one another."""
