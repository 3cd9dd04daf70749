"""The in-silico experiment of DPS: recovery of sparse pulse trains from partial Fourier measurements.

Signals (N samples): ``k`` spikes with Gaussian amplitudes at random positions convolved with a
Gaussian-modulated cosine pulse of centre frequency ``f0`` (cycles/sample) — an RF A-line, sparse in
a known basis (shifted pulses) with its energy in a band around ±f0.  Measurements: ``m`` of the ``N``
orthonormal DFT coefficients.  Masks compared at the same ``m``: DPS-learned, fixed random and low-pass
(the ``m`` lowest frequencies), each with the same unrolled proximal-gradient network trained on it,
and FISTA with an ℓ1 prior in the pulse (convolution) basis.  Score: NMSE = ‖x̂ − x‖² / ‖x‖² over a
fixed test set.
"""
from __future__ import annotations

import math

import torch

from sensekit.learned.sampling import DPSSampler, UnrolledProxGrad, train_dps
from sensekit.linop.fourier import FFT


def _dft(N: int) -> FFT:
    """The orthonormal (uncentred) DFT over the last axis of length ``N`` (:class:`sensekit.linop.FFT`)."""
    return FFT((N,), axes=(-1,), centered=False)


def pulse(N: int, f0: float = 0.2, width: float = 3.0, dtype=torch.float32) -> torch.Tensor:
    t = torch.arange(N, dtype=torch.float64) - N // 2
    p = torch.exp(-t ** 2 / (2 * width ** 2)) * torch.cos(2 * math.pi * f0 * t)
    return torch.roll(p / p.norm(), -(N // 2)).to(dtype)   # centred at index 0 (circular)


def signals(batch: int, N: int, k: int, generator: torch.Generator, f0: float = 0.2) -> torch.Tensor:
    """(batch, N) pulse trains: k-sparse spike trains circularly convolved with :func:`pulse`."""
    spikes = torch.zeros(batch, N)
    pos = torch.rand(batch, N, generator=generator).argsort(dim=1)[:, :k]
    spikes.scatter_(1, pos, torch.randn(batch, k, generator=generator))
    F = _dft(N)
    P = F(pulse(N, f0)) * math.sqrt(N)                 # the pulse's DFT: circular convolution = Fᴴ(P · F s)
    return F.H(F(spikes) * P).real


def _ops(mask: torch.Tensor):
    """forward / adjoint of x (B,1,1,N) real ↦ masked orthonormal DFT (B,1,1,N) complex."""
    m = mask[:, None, None, :] if mask.ndim == 2 else mask
    F = _dft(m.shape[-1])
    return (lambda x: F(x) * m, lambda y: F.H(y * m).real)


class FourierDPS(torch.nn.Module):
    def __init__(self, N: int, m: int, *, learn: bool, fixed: torch.Tensor | None = None, tau: float = 2.0,
                 features: int = 16, iterations: int = 5):
        super().__init__()
        self.sampler = DPSSampler(N, m, tau=tau)
        self.learn = learn
        self.register_buffer("fixed", fixed if fixed is not None else torch.zeros(N, dtype=torch.bool))
        self.net = UnrolledProxGrad(channels=1, features=features, layers=3, kernel=(1, 7), iterations=iterations)

    def mask(self, batch: int, generator=None) -> torch.Tensor:
        if not self.learn:
            return self.fixed.float()[None].expand(batch, -1)
        if self.training:
            return self.sampler(batch, generator)
        return self.sampler.fixed_mask().float()[None].expand(batch, -1)

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        m = self.mask(x.shape[0], generator)
        fwd, adj = _ops(m)
        xi = x[:, None, None, :]
        y = fwd(xi)
        return self.net(y, fwd, adj, m[:, None, None, :].expand_as(xi)).reshape(x.shape)


def lowpass_mask(N: int, m: int) -> torch.Tensor:
    f = torch.minimum(torch.arange(N), N - torch.arange(N)).to(torch.float64) / N     # |DFT frequency|
    out = torch.zeros(N, dtype=torch.bool)
    out[f.argsort(stable=True)[:m]] = True
    return out


def random_mask(N: int, m: int, generator: torch.Generator) -> torch.Tensor:
    out = torch.zeros(N, dtype=torch.bool)
    out[torch.randperm(N, generator=generator)[:m]] = True
    return out


def nmse(xh: torch.Tensor, x: torch.Tensor) -> float:
    return float(((xh - x) ** 2).sum() / (x ** 2).sum())


def fista_pulse_l1(x: torch.Tensor, mask: torch.Tensor, *, lam: float = 0.01, iterations: int = 300,
                   f0: float = 0.2) -> torch.Tensor:
    """FISTA on min_s ½‖M F (p ⊛ s) − y‖² + lam ‖s‖₁ (the known pulse basis), x̂ = p ⊛ s (sensekit.solvers)."""
    from sensekit.linop.base import LinOp
    from sensekit.prox import L1
    from sensekit.solvers import LeastSquares, fista

    N = x.shape[-1]
    F = _dft(N)
    P = (F(pulse(N, f0, dtype=torch.float64)) * math.sqrt(N)).to(torch.complex64)
    m = mask.to(torch.complex64)

    class _A(LinOp):
        def _forward(self, s):
            return F(s.to(torch.complex64)) * P * m

        def _adjoint(self, y):
            return F.H(y * m * P.conj()).real

    A = _A((N,), (N,))
    y = F(x.to(torch.complex64)) * m
    s = fista(LeastSquares(A, y), L1(lam), max_iter=iterations, tol=0.0).x
    return F.H(F(s.to(torch.complex64)) * P).real


def run_experiment(*, N: int = 128, m: int = 32, k: int = 6, steps: int = 400, batch: int = 32, seed: int = 0,
                   n_test: int = 256, lam: float | None = None, progress=None) -> dict:
    """Train the three masks' networks and score all on one test set; ``{method: nmse}`` plus the masks."""
    torch.manual_seed(seed)
    g_test = torch.Generator().manual_seed(seed + 1000)
    x_test = signals(n_test, N, k, g_test)
    masks = {"lowpass": lowpass_mask(N, m), "random": random_mask(N, m, torch.Generator().manual_seed(seed + 7))}
    out = {"masks": {}}
    for name in ("dps", "random", "lowpass"):
        torch.manual_seed(seed)
        model = FourierDPS(N, m, learn=name == "dps", fixed=masks.get(name))
        g = torch.Generator().manual_seed(seed)

        def sample(gen):
            return signals(batch, N, k, gen)

        def loss(mod, x, gen):
            return ((mod(x, gen) - x) ** 2).mean() / (x ** 2).mean()

        train_dps(model, sample, loss, iterations=steps, lr=2e-3, logit_lr=5e-2, entropy=0.0, generator=g,
                  check_every=50, callbacks=[progress] if progress else ())
        with torch.no_grad():
            out[f"{name}+net"] = nmse(model(x_test), x_test)
        mk = model.sampler.fixed_mask() if name == "dps" else masks[name]
        out["masks"][name] = mk
    for name, mk in out["masks"].items():
        best = None
        for lm in ([lam] if lam is not None else [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]):
            v = nmse(fista_pulse_l1(x_test, mk, lam=lm), x_test)
            if best is None or v < best[0]:
                best = (v, lm)
        out[f"{name}+fista"], out[f"{name}+fista_lam"] = best
    return out
