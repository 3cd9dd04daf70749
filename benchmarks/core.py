"""Core solvers against their peers, in one run (issue 4).

* randomised SVD vs scikit-learn's ``randomized_svd``; PCP (inexact ALM) vs pyrpca; matrix completion:
  sketched vs exact alternating least squares, scaling with |Ω| (``_core_lowrank.py``);
* Tucker (HOOI) and CP-ALS vs TensorLy's ``tucker`` / ``parafac`` (numpy and pytorch backends);
  Kronecker SBL (AM and SVD forms) vs plain SBL on the dense dictionary (``_core_tensor.py``).

Every case builds one planted input and hands the same input to each method; rows carry time and
accuracy, and our rows the ratios against the peer.  A peer that is not installed gives a ``skipped`` row.
Run ``python -m benchmarks.core [--quick]`` (JSON rows on stdout) or ``python -m benchmarks`` (all).
"""
from __future__ import annotations

import json
import sys

from . import _core_lowrank, _core_tensor


def run(quick: bool = False) -> list[dict]:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # one thread for everyone: numpy peers and torch compared on equal terms
    try:
        return _core_lowrank.run(quick) + _core_tensor.run(quick)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
