"""
Samson abundance maps by rrlbs, VCA+FCLS and l1/2-NMF
=====================================================

The Samson scene (95 × 95 pixels, 156 bands; soil, tree, water) unmixed by the reconstructed RRLbS (ℓ2,1 fit
over bands + learnt per-pixel ℓ_p sparsity), VCA + fully constrained least squares and ℓ1/2-NMF, each after the
app's per-pixel normalisation; one row per method, the community reference on top, all maps on one abundance
scale (fraction, 0–1). Each method row's label gives the mean spectral angle to the reference endmembers and
the abundance RMSE (in the reference's endmember scale). The quick gallery build uses a
40 × 40 corner and 10 iterations.
"""
# %%
import matplotlib.pyplot as plt
import torch

from sensekit.app.base import make_config
from sensekit.apps.unmix import data
from sensekit.apps.unmix.app import Unmix
from sensekit.plot import colorbar, data_file, quick

torch.set_num_threads(1)
QUICK = quick()
data_file("hsi/samson_upc.mat")            # skips the script when the data are absent
scene = data.samson()
if QUICK:                                  # a corner of the scene and few iterations
    scene = dict(scene, cube=scene["cube"][:40, :40], abundances=scene["abundances"][:40, :40])
app = Unmix()
inputs = app.prepare({"cube": scene["cube"], "endmembers_ref": scene["endmembers"],
                      "abundances_ref": scene["abundances"]}, {"cube": {"n_endmembers": 3}}, {})
methods = ("rrlbs", "vca-fcls", "l12nmf")
fig, axes = plt.subplots(len(methods) + 1, 3, figsize=(8, 2.5 * (len(methods) + 1)), layout="constrained")
for j, name in enumerate(scene["names"]):
    im = axes[0, j].imshow(scene["abundances"][:, :, j], vmin=0, vmax=1, cmap="viridis")
    axes[0, j].set_title(f"reference: {name}", fontsize=9)
for i, m in enumerate(methods, start=1):
    cfg = make_config(app.Config, {"method": m, "max_iter": 10 if QUICK else 60})
    out = app.run(inputs, cfg, generator=torch.Generator().manual_seed(0))
    outs = {k: torch.as_tensor(v) for k, v in out.outputs.items()}
    s = app.score(outs, inputs)
    from sensekit.solvers.unmixing import match_endmembers
    est, ref = match_endmembers(outs["endmembers"].double().T, torch.from_numpy(scene["endmembers"]).T)
    for e, r in zip(est, ref):
        axes[i, r].imshow(outs["abundances"][:, :, e].numpy(), vmin=0, vmax=1, cmap="viridis")
        axes[i, r].set_title(f"{m}: {scene['names'][r]}", fontsize=9)
    axes[i, 0].set_ylabel(f"SAD {s['sad_mean_deg']:.2f}°\nRMSE {s['rmse_abundance']:.3f}", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
colorbar(fig, im, list(axes.ravel()), "abundance (fraction)")
plt.show()
