"""
Convergence of the iterative methods
====================================

Error against the truth and relative change per iteration for L+S (the paper's proximal-gradient iteration
and its FISTA variant) and CG-SENSE (without and with Tikhonov weight), on the built-in cardiac simulation.
Curves come from the solver callbacks that the CLI's progress bar also uses.
"""
# %%
import torch
import matplotlib.pyplot as plt

from sensekit.app import get_app, make_config
from sensekit.app.runner import simulated_sample
from sensekit.core.random import make_generator
from sensekit.plot import quick

torch.set_num_threads(1)
QUICK = quick()
app = get_app("mri-recon")
inputs = simulated_sample(app, quick=QUICK)
ref = inputs["image_ref"].to(torch.complex64)


def nrmse(x):
    """Error after the best complex scale (the solvers work on data normalised to unit peak)."""
    a = torch.sum(x.conj() * ref) / torch.sum(x.conj() * x)
    return float(torch.linalg.vector_norm(a * x - ref) / torch.linalg.vector_norm(ref))


# %%
# Record every iteration (``check_every=1``) through a callback ``cb(info, state)``.
runs = {
    "L+S (proximal gradient, paper)": {"method": "ls"},
    "L+S + FISTA momentum": {"method": "ls", "momentum": True},
    "CG-SENSE, lam=0": {"method": "cg-sense", "lam": 0.0, "tol": 0.0},
    "CG-SENSE, lam=0.01": {"method": "cg-sense", "lam": 0.01, "tol": 0.0},
}
n_iter = 15 if QUICK else 100
curves = {}
for label, opts in runs.items():
    its, errs, changes = [], [], []

    def record(info, state):
        x = state.x
        if x.shape != ref.shape:     # L+S iterates on L and S stacked on a leading axis: the image is L + S
            x = x.sum(dim=-ref.ndim - 1)
        its.append(info["iter"])
        errs.append(nrmse(x))
        changes.append(info["rel_change"])

    cfg = make_config(app.Config, {**opts, "max_iter": n_iter, "check_every": 1})
    app.run(inputs, cfg, generator=make_generator(0), callbacks=[record])
    curves[label] = (its, errs, changes)

fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.8))
for label, (its, errs, changes) in curves.items():
    a0.plot(its, errs, label=label)
    a1.semilogy(its, changes, label=label)
a0.set_xlabel("iteration")
a0.set_ylabel("NRMSE vs truth")
a0.set_title("error", fontsize=10)
a1.set_xlabel("iteration")
a1.set_ylabel(r"$\|x_k - x_{k-1}\| \,/\, \|x_k\|$")
a1.set_title("relative change", fontsize=10)
a0.legend(fontsize=8)
fig.tight_layout()
plt.show()
