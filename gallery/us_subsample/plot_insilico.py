"""
DPS in silico: learned vs random vs low-pass partial Fourier masks
===================================================================

Sparse pulse trains (6 spikes convolved with an RF-like pulse centred at 0.2 cycles/sample, N = 128)
are observed through 32 of their 128 DFT coefficients.  The DPS layer learns which 32 to keep jointly
with an unrolled proximal-gradient recovery network; the same network is trained on a fixed random and
on a low-pass mask.  The learned mask moves onto the signal's band; NMSE is on a fixed test set.
"""
# %%
import matplotlib.pyplot as plt
import torch

from sensekit.apps.us_subsample.insilico import run_experiment, signals
from sensekit.plot import quick

torch.set_num_threads(1)
steps = 30 if quick() else 300
r = run_experiment(N=128, m=32, k=6, steps=steps, batch=32, seed=0, n_test=128)

# %%
fig, ax = plt.subplots(2, 1, figsize=(7, 5))
f = torch.fft.fftfreq(128)
order = f.argsort()
spec = torch.fft.fft(signals(256, 128, 6, torch.Generator().manual_seed(5))).abs().pow(2).mean(0)
ax[0].plot(f[order], spec[order] / spec.max(), color="0.6", label="signal power spectrum")
for i, (name, c) in enumerate([("dps", "C0"), ("random", "C1"), ("lowpass", "C2")]):
    m = r["masks"][name][order].float()
    ax[0].plot(f[order][m > 0], torch.full((int(m.sum()),), -0.15 * (i + 1)), "|", color=c, ms=8,
               label=f"{name}: NMSE {r[name + '+net']:.4f} (net)")
ax[0].set_xlabel("frequency (cycles/sample)")
ax[0].legend(fontsize=7, loc="upper left")
ax[0].set_yticks([])
ax[0].set_ylabel("power (a.u.)")
names = ["dps+net", "random+net", "lowpass+net", "random+fista", "lowpass+fista", "dps+fista"]
ax[1].bar(range(len(names)), [r[n] for n in names], color=["C0", "C1", "C2", "C1", "C2", "C0"])
ax[1].set_yscale("log")
ax[1].set_xticks(range(len(names)))
ax[1].set_xticklabels(names, fontsize=7)
ax[1].set_ylabel("test NMSE")
fig.suptitle(f"{steps} training steps per network" + (" (quick mode: not converged)" if quick() else ""), fontsize=9)
fig.tight_layout()
plt.show()
