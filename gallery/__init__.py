"""The gallery scripts (``<folder>/plot_*.py``), shipped as package data; run them with ``sensekit gallery``."""
