"""Regularisation-term builders of sensekit.solvers (terms.py): each term solves its own denoising problem."""
import torch

from sensekit.linop import Identity
from sensekit.prox import LocallyLowRank, SquaredL2, Zero
from sensekit.solvers import PDHG, MaxIter, PrimalDual, llr_term, solve


def _series(seed=0, T=6, Y=12, X=10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, Y, X, generator=g, dtype=torch.float64) + 1j * torch.randn(T, Y, X, generator=g,
                                                                                       dtype=torch.float64)


def test_llr_term_by_pdhg_reaches_the_exact_prox_on_a_fixed_grid():
    """min ½‖x − b‖² + λ Σ‖C_b x‖_* on a fixed grid is solved exactly by the block SVT of b (the prox)."""
    b = _series()
    lam = 2.0
    term = llr_term(b.shape, lam, block=4, shift=(1, 2))
    assert isinstance(term[0], LocallyLowRank) and isinstance(term[1], Identity)
    problem = PrimalDual(Zero(), [(SquaredL2(1.0, b), Identity(b.shape)), term])
    res = solve(PDHG(precondition=True, ratio=1.0), problem, x0=torch.zeros_like(b), stop=MaxIter(100))
    want = LocallyLowRank(lam, block=4, shift=(1, 2)).prox(b, 1.0)
    err = float((res.x - want).abs().max() / want.abs().max())
    assert err < 1e-8, err
    assert float((want - b).abs().max()) > 0.1        # the prox is far from b: the test can tell them apart


def test_llr_term_random_shifts_draw_from_the_generator():
    b = _series(1)
    g1, _ = llr_term(b.shape, 1.0, block=4, generator=torch.Generator().manual_seed(3))
    g2, _ = llr_term(b.shape, 1.0, block=4, generator=torch.Generator().manual_seed(3))
    assert g1.random and torch.equal(g1.prox(b, 1.0), g2.prox(b, 1.0))
