"""ESPIRiT coil calibration: planted sensitivities, phase normalisation, calibration region, the option."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.apps.mri_recon.calib import calibration_matrix, espirit_maps, fitted_kernel, lowres_maps
from sensekit.cli import main
from sensekit.io import InputError
from sensekit.linop import fftc, ifftc
from sensekit.sim import coil_maps, dynamic_phantom, sampling_mask

from helpers import outside_mri_file


def planted(n=64, frames=8, coils=6, accel=4, acs=12, seed=0, pattern="vd-lines"):
    g = torch.Generator().manual_seed(seed)
    img = dynamic_phantom(n, frames, generator=g)
    maps = coil_maps(coils, (n, n))
    mask = sampling_mask(pattern, frames, (n, n), accel, acs=acs, generator=g)
    k = fftc(img[:, None] * maps[None]) * mask[:, None]
    return img, maps, mask, k


def aligned_error(est, maps, support):
    rel = (est * maps.conj()).sum(0)
    est = est * torch.exp(-1j * torch.angle(rel))
    return float((est - maps).abs()[:, support].mean() / maps.abs()[:, support].mean())


def test_espirit_recovers_planted_maps_from_kt_data():
    img, maps, mask, k = planted()
    support = img.abs().mean(0) > 0.2
    est = espirit_maps(k, mask)
    assert est.shape == maps.shape and est.dtype == torch.complex64
    assert aligned_error(est, maps, support) < 0.01                  # measured 0.0063
    # unit norm over coils on the object (the eigenvector normalisation)
    assert torch.allclose(est.abs().pow(2).sum(0)[support], torch.ones(()), atol=1e-4)
    # and better than the low-resolution estimate on the same data
    assert aligned_error(est, maps, support) < aligned_error(lowres_maps(k, mask), maps, support)


def test_espirit_phase_is_smooth_and_combination_returns_the_object():
    img, maps, _, _ = planted(frames=1)
    full = torch.ones(1, 64, 64, dtype=torch.bool)
    k = fftc(img[:, None] * maps[None])
    est = espirit_maps(k, full, crop=0.0)
    combined = (est.conj()[None] * ifftc(k)).sum(1)[0]               # SENSE combination of the coil images
    support = img[0].abs() > 0.2
    dphi = torch.angle(combined * img[0].conj())[support]
    # phase relative to the first principal component: one global phase, no per-pixel jumps
    assert float(torch.std(torch.angle(torch.exp(1j * (dphi - dphi[0]))))) < 0.05
    assert float((combined.abs() - img[0].abs())[support].abs().max()) < 0.02


def test_eigenvalue_crop_zeroes_maps_without_signal():
    g = torch.Generator().manual_seed(1)
    img, maps, mask, k = planted(frames=1, accel=2)
    k = k + 0.02 * torch.randn(k.shape, dtype=torch.complex64, generator=g) * mask[:, None]
    est = espirit_maps(k, mask, crop=0.9)
    outside = torch.zeros(64, 64, dtype=torch.bool)
    outside[:3, :3] = outside[-3:, -3:] = True                        # corners: noise only
    assert float(est.abs()[:, outside].max()) == 0.0
    assert float(est.abs().pow(2).sum(0)[img[0].abs() > 0.2].min()) > 0.99


def test_calibration_region_grows_along_a_full_readout():
    _, _, mask, k = planted(frames=1, pattern="equispaced", acs=10, accel=3)
    A, region = calibration_matrix(k, mask, calib=24, kernel=6)
    assert A.shape[1] == 6 * 36 and A.shape[0] >= 6 * 36             # over-determined after growing
    assert region[1] > 24                                             # grew along the fully sampled readout
    # every row is a patch of sampled data: no zeros from unsampled lines
    assert bool((A.abs() > 0).all())


def test_too_small_calibration_region_is_a_clear_error():
    _, _, mask, k = planted(frames=1, pattern="radial", accel=8)          # dense centre, but no full block
    with pytest.raises(InputError, match="ESPIRiT: the centre of k-space has no fully sampled block.*lowres"):
        espirit_maps(k, mask)
    _, _, mask, k = planted(frames=1, pattern="vd-points", accel=4, acs=12)   # a 12×12 block: 49 patches of 6×6
    with pytest.raises(InputError, match="ESPIRiT: only 49 fully sampled 6×6 k-space patches.*lowres"):
        espirit_maps(k, mask)


def test_kernel_fits_the_calibration_block():
    _, maps, mask, k = planted(frames=1, pattern="equispaced", accel=3, acs=8)
    assert fitted_kernel(mask, kernel=6) == 4                              # 8 lines: at most 8 // 2
    assert fitted_kernel(mask, kernel=3) == 3
    assert fitted_kernel(torch.zeros(1, 16, 16, dtype=torch.bool)) == 0


@pytest.mark.cuda
def test_espirit_on_cuda_matches_cpu():
    img, maps, mask, k = planted()
    a = espirit_maps(k, mask)
    b = espirit_maps(k.cuda(), mask.cuda())
    assert b.device.type == "cuda"
    support = img.abs().mean(0) > 0.2
    assert aligned_error(b.cpu(), a, support) < 1e-3


def test_coil_method_option_reaches_the_app(tmp_path):
    src = tmp_path / "in.h5"
    outside_mri_file(src, T=6, C=4, accel=3, noise=0.002)
    psnr = {}
    for cm in ("espirit", "lowres"):
        out = tmp_path / f"{cm}.h5"
        r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(out), "--method",
                                      "cg-sense", "--set", f"coil_method={cm}", "--set", "max_iter=30"])
        assert r.exit_code == 0, r.output
        psnr[cm] = float(r.output.split("psnr=")[1].split()[0])
    assert psnr["espirit"] > psnr["lowres"]
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "--set", "coil_method=magic"])
    assert r.exit_code == 3 and "not one of espirit, lowres" in r.output
    r = CliRunner().invoke(main, ["info", "mri-recon"])
    assert "coil_method" in r.output and "espirit_crop" in r.output and "pattern" in r.output


def test_espirit_does_not_modify_its_inputs():
    _, _, mask, k = planted(frames=2)
    k0, m0 = k.clone(), mask.clone()
    espirit_maps(k, mask)
    assert torch.equal(k, k0) and torch.equal(mask, m0)
    assert np.isfinite(espirit_maps(k.to(torch.complex128), mask).numpy()).all()
