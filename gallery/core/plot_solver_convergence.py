"""
Five solvers on one sparse recovery problem
===========================================

ISTA, FISTA, FISTA with adaptive restart, PDHG and ADMM minimising the same objective
½‖M F x − y‖² + λ‖x‖₁ (a sparse complex signal seen through 30 % of its Fourier coefficients).
They reach the same optimum; the curves show the objective gap F(x_k) − F* per iteration.
"""
# %%
# A planted sparse signal and random partial Fourier measurements.
import torch
import matplotlib.pyplot as plt

import sensekit as sk
from sensekit.core.random import make_generator, randn
from sensekit.plot import quick

torch.set_num_threads(1)
QUICK = quick()
n, k = (128, 6) if QUICK else (512, 20)
gen = make_generator(0)
x_true = torch.zeros(n, dtype=torch.complex128)
x_true[torch.randperm(n, generator=gen)[:k]] = randn((k,), dtype=torch.complex128, generator=gen) + 2
mask = torch.rand(n, generator=gen) < 0.3
A = sk.linop.Mask(mask, (n,)) @ sk.linop.FFT((n,), axes=(0,))
y = A(x_true) + 0.01 * randn((n,), dtype=torch.complex128, generator=gen) * mask
lam = 0.05
f = sk.solvers.LeastSquares(A, y)
g = sk.prox.L1(lam)


def objective(x):
    return float(0.5 * torch.linalg.vector_norm(A(x) - y) ** 2 + lam * x.abs().sum())


# %%
# Run each solver with the objective recorded at every iteration; F* from a long FISTA run.
n_iter = 60 if QUICK else 300
F_star = objective(sk.solvers.fista(f, g, max_iter=5 * n_iter, tol=0, restart=True).x)
runs = {
    "ISTA": lambda: sk.solvers.fista(f, g, momentum=False, max_iter=n_iter, tol=0, record_objective=True),
    "FISTA": lambda: sk.solvers.fista(f, g, max_iter=n_iter, tol=0, record_objective=True),
    "FISTA + restart": lambda: sk.solvers.fista(f, g, restart=True, max_iter=n_iter, tol=0, record_objective=True),
    "PDHG": lambda: sk.solvers.pdhg(f, [(g, sk.linop.Identity((n,)))], max_iter=n_iter, tol=0,
                                    record_objective=True),
    "ADMM (ρ=0.5)": lambda: sk.solvers.admm(f, [(g, sk.linop.Identity((n,)))], rho=0.5, max_iter=n_iter, tol=0,
                                            record_objective=True),
}
fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.8))
for name, fn in runs.items():
    res = fn()
    gap = [max(h["objective"] - F_star, 1e-16) for h in res.history]
    a0.semilogy([h["iter"] for h in res.history], gap, label=name)
a0.set_xlabel("iteration")
a0.set_ylabel(r"$F(x_k) - F^*$")
a0.legend(fontsize=8)
a0.set_title("objective gap", fontsize=10)
x = sk.solvers.fista(f, g, max_iter=5 * n_iter, tol=0, restart=True).x
a1.stem(x_true.abs().numpy(), linefmt="C7-", markerfmt="C7o", basefmt=" ", label="truth")
a1.plot(x.abs().numpy(), "C3.", label="recovered")
a1.set_title(f"|x|: {k} spikes from {int(mask.sum())} of {n} Fourier samples", fontsize=10)
a1.set_xlabel("index")
a1.set_ylabel("|x|")
a1.legend(fontsize=8)
fig.tight_layout()
plt.show()
