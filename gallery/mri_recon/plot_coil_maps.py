"""
Coil sensitivity maps: simulated and estimated
==============================================

The coil sensitivities used to simulate the built-in input, and the maps that mri-recon estimates from the
undersampled data itself with its default ``coil_method=espirit``: ESPIRiT eigenvector maps from the
autocalibration region of the time-averaged k-space (``calib`` × ``calib`` centre, ``espirit_kernel``-sided
kernels, maps cropped where the eigenvalue falls below ``espirit_crop``), in magnitude and phase.
A run saves these maps as ``sens_maps_estimated``.
"""
# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

from sensekit.app import get_app
from sensekit.app.runner import sim_config, simulated_sample
from sensekit.plot import colorbar, quick, show
from sensekit.sim import coil_maps

torch.set_num_threads(1)
QUICK = quick()
app = get_app("mri-recon")
sim = sim_config(app, quick=QUICK)
inputs = simulated_sample(app, sim=sim)
true = coil_maps(sim.coils, (sim.size, sim.size))          # what the simulation used
est = app.maps_for(inputs, app.Config())                   # what a run estimates (no sens_maps in the input)

# %%
# Compare where there is signal (outside the body the estimate is normalised noise). The SENSE model
# determines the maps only up to one common phase per pixel (it moves into the image), so the estimate's
# phase is shown after removing that common phase.
support = inputs["image_ref"].abs().mean(0) > 0.05 * inputs["image_ref"].abs().max()
common = torch.sum(est.conj() * true, dim=0)
aligned = est * torch.exp(1j * torch.angle(common))[None]
err = torch.linalg.vector_norm((aligned - true)[:, support]) / torch.linalg.vector_norm(true[:, support])
C = min(4, sim.coils)
fig, axes = plt.subplots(4, C, figsize=(2.3 * C, 9.4), squeeze=False)
fig.set_layout_engine("constrained")
for c in range(C):
    im_mag = show(axes[0, c], true[c], f"simulated |S{c}|", vmax=1)
    show(axes[1, c], est[c], f"estimated |S{c}| (ESPIRiT)", vmax=1)
    for r, m, name in ((2, true, "simulated phase"), (3, aligned, "estimated phase")):
        ph = np.where(support.numpy(), np.angle(m[c].numpy()), np.nan)
        im_ph = axes[r, c].imshow(ph, cmap="twilight", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
        axes[r, c].set_title(f"{name} S{c}", fontsize=9)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
for r in range(2):
    colorbar(fig, im_mag, list(axes[r, :]), "|S| (unitless; Σ|S|² = 1)")
for r in range(2, 4):
    colorbar(fig, im_ph, list(axes[r, :]), "phase (rad)")
fig.suptitle(f"{sim.coils} coils; relative error of the ESPIRiT estimate on the object: {float(err):.3f}")
plt.show()
