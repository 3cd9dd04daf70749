"""Shared bits of the low-rank solver tests."""
import pytest
import torch


def rel(a, b):
    """‖a − b‖ / ‖b‖ as a float."""
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


@pytest.fixture(autouse=True)
def one_thread():
    """Iterative solvers on small problems: one thread avoids oversubscription on shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
