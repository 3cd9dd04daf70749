"""
MUSIC, root-MUSIC and unitary ESPRIT on a uniform linear array
==============================================================

Three sources impinge on a 12-element half-wavelength array.  The MDL
criterion picks the number of sources from the eigenvalues of the sample
covariance; MUSIC scans a pseudo-spectrum, root-MUSIC and unitary ESPRIT
estimate the angles in closed form.  A Monte-Carlo sweep (all trials in one
batch) compares their RMSE with the Cramér–Rao bound.
"""
# %%
# Snapshots and the MUSIC pseudo-spectrum
# ---------------------------------------
import math
import os

import matplotlib.pyplot as plt
import torch

import sensekit as sk

quick = os.environ.get("SENSEKIT_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
M, L, d = 12, 50, 0.5
angles = torch.tensor([-30.0, 10.0, 20.0], dtype=torch.float64)
freqs = d * torch.sin(torch.deg2rad(angles))           # spatial frequencies f = d sin(theta)


def snapshots(snr_db, trials):
    steer = torch.exp(2j * math.pi * freqs[:, None] * torch.arange(M, dtype=torch.float64))
    s = torch.randn(trials, L, len(freqs), dtype=torch.complex128, generator=g)
    n = torch.randn(trials, L, M, dtype=torch.complex128, generator=g) * 10 ** (-snr_db / 20)
    return s @ steer + n, s


X, _ = snapshots(5.0, 1)
R = sk.solvers.sample_covariance(X[0])
k = int(sk.solvers.model_order(torch.linalg.eigvalsh(R), L, criterion="mdl"))
print("MDL model order:", k)

grid = torch.linspace(-0.5, 0.5, 2001, dtype=torch.float64)[:-1]
P = sk.solvers.music_spectrum(R, k, grid)
theta = torch.rad2deg(torch.asin(grid / d))
est = {"MUSIC": sk.solvers.music(R, k, spacing=d), "root-MUSIC": sk.solvers.root_music(R, k, spacing=d),
       "unitary ESPRIT": sk.solvers.unitary_esprit(R, k, spacing=d)}

fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(theta, 10 * torch.log10(P / P.max()), "k", lw=1, label="MUSIC pseudo-spectrum")
for a in angles:
    ax.axvline(float(a), color="gray", ls=":", lw=1)
for (name, e), mk in zip(est.items(), "ov^"):
    ax.plot(torch.rad2deg(e), [-2 - 2 * "ov^".index(mk)] * k, mk, label=name)
ax.set_xlabel("angle (degrees)")
ax.set_ylabel("dB")
ax.set_title(f"M={M}, L={L}, SNR 5 dB, MDL order {k} (dotted: true angles)", fontsize=9)
ax.legend(fontsize=7, loc="lower left")
fig.tight_layout()

# %%
# RMSE against the Cramér–Rao bound
# ---------------------------------
# All Monte-Carlo trials run as one batch of covariance matrices.
snrs = [-5.0, 5.0, 15.0] if quick else [-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0]
trials = 50 if quick else 300
methods = {"MUSIC": sk.solvers.music, "root-MUSIC": sk.solvers.root_music,
           "unitary ESPRIT": sk.solvers.unitary_esprit}
rmse = {name: [] for name in methods}
crb = []
for snr in snrs:
    X, s = snapshots(snr, trials)
    R = sk.solvers.sample_covariance(X)
    for name, fn in methods.items():
        err = fn(R, 3) - freqs          # sorted estimates against sorted true frequencies
        rmse[name].append(float(err.pow(2).mean().sqrt()))
    # single-tone deterministic CRB of the spatial frequency, averaged over sources and trials
    power = s.abs().pow(2).sum(1)
    crb.append(float((6 * 10 ** (-snr / 10) / ((2 * math.pi) ** 2 * power * M * (M * M - 1))).mean().sqrt()))

fig, ax = plt.subplots(figsize=(5, 3.4))
for (name, v), mk in zip(rmse.items(), "ov^"):
    ax.semilogy(snrs, v, mk + "-", label=name)
ax.semilogy(snrs, crb, "k--", label="CRB")
ax.set_xlabel("SNR per source (dB)")
ax.set_ylabel("RMSE of the spatial frequency")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
