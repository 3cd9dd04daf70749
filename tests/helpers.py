"""Test helpers: input files written the way an outside script would (h5py + numpy only)."""
from __future__ import annotations

import hashlib

import h5py
import numpy as np


def fft2c(img: np.ndarray) -> np.ndarray:
    """Centred orthonormal 2-D FFT, exactly as CONTRACTS.md spells it (numpy only)."""
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img, axes=ax), axes=ax, norm="ortho"), axes=ax)


def outside_mri_file(path, *, T=6, C=4, Y=48, X=40, accel=3, seed=0, with_mask=True, with_ref=True,
                     with_maps=False, mask_layout="T,Y,X", noise=0.0, dtype=np.complex64):
    """A small dynamic multi-coil Cartesian MRI input written with numpy + h5py only."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(-1, 1, Y), np.linspace(-1, 1, X), indexing="ij")
    frames = []
    for t in range(T):
        r = 0.35 + 0.08 * np.sin(2 * np.pi * t / T)
        img = 0.4 * ((yy / 0.8) ** 2 + (xx / 0.9) ** 2 <= 1) + 0.6 * (yy ** 2 + (xx - 0.1) ** 2 <= r ** 2)
        frames.append(img)
    img = np.stack(frames).astype(np.complex128)
    maps = []
    for c in range(C):
        th = 2 * np.pi * c / C
        d2 = (yy - 1.5 * np.sin(th)) ** 2 + (xx - 1.5 * np.cos(th)) ** 2
        maps.append(np.exp(1j * th) / (1 + d2))
    maps = np.stack(maps)
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0, keepdims=True))
    k = fft2c(img[:, None] * maps[None])
    k += noise * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    # variable-density random phase-encode lines, 8 central lines always, a new draw every frame
    lines = np.zeros((T, Y), bool)
    dens = np.clip(1 - np.abs(np.arange(Y) - Y // 2) / (Y / 2), 0, 1) ** 2 + 1e-3
    dens[Y // 2 - 4:Y // 2 + 4] = 0
    for t in range(T):
        lines[t, Y // 2 - 4:Y // 2 + 4] = True
        extra = rng.choice(Y, size=max(0, Y // accel - 8), replace=False, p=dens / dens.sum())
        lines[t, extra] = True
    mask = np.broadcast_to(lines[:, :, None], (T, Y, X))
    k = k * mask[:, None]
    with h5py.File(path, "w") as f:
        d = f.create_dataset("kspace", data=k.astype(dtype))
        d.attrs["axes"] = "T,C,Y,X"
        if with_mask:
            if mask_layout == "T,Y,X":
                f.create_dataset("mask", data=mask.astype(np.uint8))
            elif mask_layout == "T,Y,1":
                f.create_dataset("mask", data=lines[:, :, None].astype(np.uint8)).attrs["axes"] = "T,Y,1"
            elif mask_layout == "Y,X":
                f.create_dataset("mask", data=mask[0])
        if with_maps:
            f.create_dataset("sens_maps", data=maps.astype(np.complex64))
        if with_ref:
            f.create_dataset("image_ref", data=np.abs(img).astype(np.float32))
    return {"image": img, "maps": maps, "mask": mask, "kspace": k}


def sha256(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
