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


# ------------------------------------------------------------------ simulated acquisitions from real images
def _loop_coil_maps(coils, Y, X):
    """Smooth synthetic loop-coil sensitivities around the field of view, Σ_c |S_c|² = 1."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, Y), np.linspace(-1, 1, X), indexing="ij")
    maps = []
    for c in range(coils):
        th = 2 * np.pi * c / coils
        d2 = (yy - 1.4 * np.sin(th)) ** 2 + (xx - 1.4 * np.cos(th)) ** 2
        maps.append(np.exp(1j * (np.arctan2(yy - 1.4 * np.sin(th), xx - 1.4 * np.cos(th)) + th)) / (1 + d2))
    maps = np.stack(maps)
    return maps / np.sqrt(np.sum(np.abs(maps) ** 2, axis=0, keepdims=True))


def simulated_acquisition_file(path, img, *, accel, coils=8, noise=0.01, seed=0, acs=8):
    """Write an mri-recon input simulated from real-valued images ``img`` (T, Y, X), peak 1.

    k-space = centred FFT of the images times synthetic coil maps, plus complex
    Gaussian noise of std ``noise`` (relative to the peak), sampled on variable-density
    random phase-encode lines drawn anew in every frame (``acs`` central lines always
    kept).  Returns the achieved acceleration (Y / mean lines per frame).
    """
    T, Y, X = img.shape
    rng = np.random.default_rng(seed)
    maps = _loop_coil_maps(coils, Y, X)
    k = fft2c(img[:, None] * maps[None])
    k += noise * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2)
    n_lines = int(round(Y / accel))
    dens = np.clip(1 - np.abs(np.arange(Y) - Y // 2) / (Y / 2), 0, 1) ** 2 + 1e-3
    dens[Y // 2 - acs // 2:Y // 2 + acs // 2] = 0
    lines = np.zeros((T, Y), bool)
    for t in range(T):
        lines[t, Y // 2 - acs // 2:Y // 2 + acs // 2] = True
        lines[t, rng.choice(Y, n_lines - acs, replace=False, p=dens / dens.sum())] = True
    with h5py.File(path, "w") as f:
        f["kspace"] = (k * lines[:, None, :, None]).astype(np.complex64)
        f["kspace"].attrs["axes"] = "T,C,Y,X"
        f["mask"] = lines[:, :, None].astype(np.uint8)
        f["mask"].attrs["axes"] = "T,Y,1"
        f["image_ref"] = img.astype(np.float32)
    return Y / lines.sum(1).mean()


def rat_cine_images():
    """The rat cardiac cine (real magnitude, 8 frames of 192 × 192) as (T, Y, X), peak 1."""
    import scipy.io as sio
    from conftest import require_data
    src = require_data("mri/rat_cardiac_cine_8frames.mat")
    img = np.transpose(sio.loadmat(src)["image0"], (2, 1, 0)).astype(np.float64)
    return img / img.max()


def pincat_images(frames=None):
    """The PINCAT phantom (50 frames of 128 × 128) as (T, Y, X), peak 1; optionally the first ``frames``."""
    import scipy.io as sio
    from conftest import require_data
    src = require_data("mri/pincat_phantom_50frames.mat")
    img = np.transpose(sio.loadmat(src)["X"], (2, 0, 1)).astype(np.float64)
    img = img[:frames] if frames else img
    return img / img.max()


def rat_cine_file(path, *, accel, coils=8, noise=0.01, seed=0):
    """The rat cine with k-space simulated by an outside script (a simulated acquisition)."""
    return simulated_acquisition_file(path, rat_cine_images(), accel=accel, coils=coils, noise=noise, seed=seed)


def pincat_file(path, *, accel, frames=None, coils=8, noise=0.01, seed=0):
    """The PINCAT phantom with simulated multi-coil k-space (a phantom test)."""
    return simulated_acquisition_file(path, pincat_images(frames), accel=accel, coils=coils, noise=noise, seed=seed)


def pattern_acquisition_file(path, img, mask, *, coils=8, noise=0.01, seed=0, with_maps=True):
    """An mri-recon input simulated from images ``img`` (T, Y, X), peak 1, on a given (T, Y, X) ``mask``.

    Same model as :func:`simulated_acquisition_file` (synthetic loop coils, complex Gaussian noise of std
    ``noise`` relative to the peak) but any sampling pattern (e.g. ``sensekit.sim.masks.sampling_mask``);
    ``with_maps`` writes the true coil maps as ``sens_maps`` (known maps).  Returns the achieved
    acceleration (samples / sampled samples).
    """
    T, Y, X = img.shape
    mask = np.asarray(mask, bool)
    rng = np.random.default_rng(seed)
    maps = _loop_coil_maps(coils, Y, X)
    k = fft2c(img[:, None] * maps[None])
    k += noise * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2)
    with h5py.File(path, "w") as f:
        f["kspace"] = (k * mask[:, None]).astype(np.complex64)
        f["kspace"].attrs["axes"] = "T,C,Y,X"
        f["mask"] = mask.astype(np.uint8)
        f["mask"].attrs["axes"] = "T,Y,X"
        if with_maps:
            f["sens_maps"] = maps.astype(np.complex64)
        f["image_ref"] = img.astype(np.float32)
    return mask.size / mask.sum()
