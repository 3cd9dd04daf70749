"""Timing and quality comparisons against peer libraries: ``python -m benchmarks [--quick] [--only NAME]``.

Every module ``benchmarks/<name>.py`` (not starting with ``_``) that defines
``run(quick: bool = False) -> list[dict]`` is a benchmark; see ``_runner.py``.
"""
