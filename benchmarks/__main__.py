"""``python -m benchmarks``: run every benchmark, write results.json and results.md (see _runner.py)."""
import sys

from benchmarks._runner import main

if __name__ == "__main__":
    sys.exit(main())
