"""Core operators against a direct numpy implementation (a smoke benchmark of the operator layer).

Cases: the centred orthonormal 2-D FFT of a (T, C, Y, X) k-space array, and the SENSE normal operator
EᴴE x = Σ_c conj(S_c) F⁻¹ M F (S_c x) of mri-recon's forward model.  ``rel_err`` is the relative
difference between the two results.
"""
from __future__ import annotations

import json


def _numpy_normal(x, maps, mask):
    import numpy as np
    ax = (-2, -1)
    out = np.zeros_like(x)
    for c in range(maps.shape[0]):   # coil by coil, as one writes it by hand
        k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(maps[c] * x, axes=ax), norm="ortho"), axes=ax)
        img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k * mask, axes=ax), norm="ortho"), axes=ax)
        out += np.conj(maps[c]) * img
    return out


def run(quick: bool = False) -> list[dict]:
    import numpy as np
    import torch
    from sensekit.apps.mri_recon.model import forward_model
    from sensekit.core.random import make_generator, randn
    from sensekit.linop import FFT
    from sensekit.sim import cartesian_mask, coil_maps

    from benchmarks._timing import best_time

    T, C, N = (4, 4, 64) if quick else (20, 8, 128)
    repeat = 2 if quick else 5
    gen = make_generator(0)
    rows = []

    k = randn((T, C, N, N), dtype=torch.complex64, generator=gen)
    F = FFT((T, C, N, N), axes=(-2, -1))
    case = f"centred 2-D FFT, ({T}, {C}, {N}, {N}) complex64"
    t_sk, y_sk = best_time(lambda: F(k), repeat=repeat)
    kn = k.numpy()
    ax = (-2, -1)
    t_np, y_np = best_time(lambda: np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(kn, axes=ax), norm="ortho"), axes=ax),
                           repeat=repeat)
    err = float(np.linalg.norm(y_sk.numpy() - y_np) / np.linalg.norm(y_np))
    rows += [{"benchmark": "linop", "case": case, "method": "sensekit.linop.FFT", "peer": False, "time_s": t_sk,
              "rel_err": err},
             {"benchmark": "linop", "case": case, "method": "numpy.fft", "peer": True, "time_s": t_np}]

    maps = coil_maps(C, (N, N))
    mask = cartesian_mask(T, (N, N), 4.0, generator=gen)
    E = forward_model(maps, mask, T)
    x = randn((T, N, N), dtype=torch.complex64, generator=gen)
    case = f"SENSE normal operator, T={T} C={C} {N}x{N}"
    t_sk, n_sk = best_time(lambda: E.N(x), repeat=repeat)
    xm, mm, sm = x.numpy(), mask.numpy(), maps.numpy()
    t_np, n_np = best_time(lambda: _numpy_normal(xm, sm, mm), repeat=repeat)
    err = float(np.linalg.norm(n_sk.numpy() - n_np) / np.linalg.norm(n_np))
    rows += [{"benchmark": "linop", "case": case, "method": "sensekit E.N", "peer": False, "time_s": t_sk,
              "rel_err": err},
             {"benchmark": "linop", "case": case, "method": "numpy, coil loop", "peer": True, "time_s": t_np}]
    return rows


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=1))
