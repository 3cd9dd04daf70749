"""
Run time against tensor size: PLAIN against joint estimation
============================================================

One scene per size (4 targets, 10 dB per resource element, ranges ≤ 150 m, speeds up to 60 m/s), one
thread: ``plain`` with and without its ML refinement against the joint 3-D FFT + ML reference (run up
to 1 M resource elements; it grows with the zero-padded 3-D FFT).  A dashed line of slope one marks
linear growth in the number of resource elements.  Times depend on the machine's load; the benchmark
``benchmarks/isac.py`` has the table with RMSE / CRB.
"""
# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from sensekit.app.base import make_config
from sensekit.app.registry import get_app
from sensekit.plot import quick

torch.set_num_threads(1)
QUICK = quick()
app = get_app("isac")
sizes = [(16, 64, 64), (16, 128, 64)] if QUICK else [(16, 128, 64), (32, 256, 128), (64, 512, 128), (64, 1024, 256)]
methods = {"plain": {}, "plain, no refinement": {"refine": "off"}, "fft + ML": {"method": "ml"}}
times = {m: [] for m in methods}
for A, K, L in sizes:
    sim = make_config(app.SimConfig, {"antennas": A, "subcarriers": K, "symbols": L, "snr_db": 10.0,
                                      "max_range_m": 150.0, "max_speed_mps": 60.0})
    g = torch.Generator().manual_seed(0)
    arrays, attrs = app.simulate(sim, g)
    inputs = app.prepare(arrays, attrs, {})
    for name, opts in methods.items():
        if name == "fft + ML" and A * K * L > 1_100_000:
            times[name].append(np.nan)
            continue
        t = time.perf_counter()
        app.run(inputs, make_config(app.Config, opts), generator=g)
        times[name].append(time.perf_counter() - t)
    del inputs, arrays

n = np.array([a * k * l for a, k, l in sizes], dtype=float)
fig, ax = plt.subplots(figsize=(6, 4))
for name, style in zip(methods, ("o-", "s--", "x-")):
    ax.loglog(n, times[name], style, label=name)
ax.loglog(n, times["plain"][0] * n / n[0], "k:", label="linear in A·K·L")
ax.set_xlabel("resource elements A·K·L")
ax.set_ylabel("run time (s, one thread)")
ax.set_xticks(n)
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xticklabels(["×".join(map(str, s)) for s in sizes], rotation=20, fontsize=8)
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
