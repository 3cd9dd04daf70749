"""mri-recon model-based methods: convergence on small planted problems, core pieces they use, figures."""

import h5py
import pytest
import torch
from click.testing import CliRunner

import sensekit as sk
from sensekit.apps.mri_recon import methods, params
from sensekit.apps.mri_recon.app import Config, MRIRecon
from sensekit.apps.mri_recon.model import forward_model
from sensekit.cli import main
from sensekit.metrics import image_series_scores
from sensekit.testing import check_linop, check_moreau, check_prox

from helpers import outside_mri_file

ITERATIVE = ("rdledm", "tv", "kt-slr", "wavelet", "ls")


# ------------------------------------------------------------------------------------------- core pieces
def test_select_and_norm_bounds():
    check_linop(sk.linop.Select((2, 3, 4, 5), axis=0, index=1))
    maps = sk.sim.coil_maps(4, (8, 8)).to(torch.complex128)
    mask = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.5
    E = forward_model(maps, mask, 3)
    est = sk.linop.opnorm(E, dtype=torch.complex128, max_iter=200) ** 2
    assert est <= E.norm_bound * (1 + 1e-6)            # the bound is an upper bound …
    D = sk.linop.FiniteDiff((3, 8, 8), axes=(-2, -1))
    assert sk.linop.opnorm(sk.linop.Compose(D, sk.linop.Select((2, 3, 8, 8), 0, 0)),
                           dtype=torch.float64, max_iter=300) ** 2 <= 8.0


def test_schatten_p_prox():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(6, 9, dtype=torch.float64, generator=g)
    # p = 1 is the nuclear norm: exact prox and Moreau identity
    check_prox(sk.prox.SchattenP(0.7, 1.0), X[:3, :4], step=0.5)
    check_moreau(sk.prox.SchattenP(0.7, 1.0), X, step=0.5)
    assert torch.allclose(sk.prox.SchattenP(0.7, 1.0).prox(X, 0.5), sk.prox.Nuclear(0.7).prox(X, 0.5))
    # p < 1: the p-shrinkage keeps the singular vectors and shrinks large singular values less than SVT
    s = torch.linalg.svdvals(X)
    sp = torch.linalg.svdvals(sk.prox.SchattenP(0.5, 0.5).prox(X, 1.0))
    s1 = torch.linalg.svdvals(sk.prox.Nuclear(0.5).prox(X, 1.0))
    assert torch.all(sp <= s + 1e-12) and sp[0] > s1[0]
    with pytest.raises(ValueError):
        sk.prox.SchattenP(1.0, 1.5)


def test_wide_svd_fast_path_matches_full_svd():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 400, dtype=torch.complex128, generator=g)
    for t in (0.0, 3.0, 15.0):
        U, s, Vh = torch.linalg.svd(X, full_matrices=False)
        ref = (U * torch.clamp(s - t, min=0).to(U.dtype)) @ Vh
        assert torch.allclose(sk.prox.svt(X, t), ref, atol=1e-10)
        assert torch.allclose(sk.prox.svt(X.mT, t), ref.mT, atol=1e-10)


def test_preconditioned_pdhg_agrees_with_admm_on_tv_denoising():
    # 1-D TV denoising of a planted step signal: two solvers, one optimum
    g = torch.Generator().manual_seed(0)
    clean = torch.cat([torch.zeros(20), torch.ones(20), 0.3 * torch.ones(24)]).double()
    y = clean + 0.1 * torch.randn(64, dtype=torch.float64, generator=g)
    f = sk.solvers.LeastSquares(sk.linop.Identity(64), y)
    term = sk.solvers.tv_term((64,), 0.2, axes=(-1,))
    a = sk.solvers.pdhg(f, [term], precondition=True, ratio=3.0, max_iter=3000, tol=0, check_every=1000).x
    b = sk.solvers.admm(f, [term], rho=1.0, max_iter=3000, tol=0, check_every=1000).x
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.linalg.vector_norm(a - clean) < 0.5 * torch.linalg.vector_norm(y - clean)


def test_hqs_continuation_reaches_the_tv_minimiser():
    g = torch.Generator().manual_seed(1)
    clean = torch.cat([torch.zeros(16), torch.ones(16)]).double()
    y = clean + 0.05 * torch.randn(32, dtype=torch.float64, generator=g)
    f = sk.solvers.LeastSquares(sk.linop.Identity(32), y)
    term = sk.solvers.tv_term((32,), 0.1, axes=(-1,))
    ref = sk.solvers.admm(f, [term], rho=1.0, max_iter=3000, tol=0, check_every=1000).x
    res = sk.solvers.hqs(f, [term], beta=1.0, growth=2.0, beta_max=1e3, inner_iter=20, cg_iter=30,
                         max_iter=600, tol=0, record_objective=True, check_every=100)
    obj = [h["objective"] for h in res.history]
    # the penalty splitting approaches the minimiser as beta grows (bias O(1/beta))
    assert float(torch.linalg.vector_norm(res.x - ref)) < 0.02 * float(torch.linalg.vector_norm(ref))
    assert obj[-1] <= obj[0]


# ------------------------------------------------------------------------------------------- methods
@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A small noiseless dynamic acquisition (T=6, C=4, 48 x 40, acceleration 3) written by an outside script."""
    path = tmp_path_factory.mktemp("planted") / "in.h5"
    outside_mri_file(path, T=6, C=4, Y=48, X=40, accel=3, with_maps=True)
    with h5py.File(path) as f:
        arrays = {k: f[k][()] for k in f}
        layouts = {k: list(f[k].attrs.get("axes", ",".join("TCYX"[-f[k].ndim:])).split(",")) for k in f}
    app = MRIRecon()
    inp = app.prepare(arrays, {}, layouts)
    E = forward_model(inp["sens_maps"], inp["mask"], 6)
    k = inp["kspace"].to(torch.complex64)
    scale = float(E.H(k).abs().max())
    return E, k / scale, inp["image_ref"], scale, path


@pytest.mark.parametrize("method", ITERATIVE)
def test_method_converges_on_planted_series(planted, method):
    E, y, ref, scale, _ = planted
    cfg = Config(method=method, tol=0, max_iter=params.DEFAULTS[method]["max_iter"])
    x, iters, info = methods.METHODS[method][0](E, y, cfg)
    zf = image_series_scores(E.H(y) * scale, ref)
    got = image_series_scores(x * scale, ref)
    # the planted series is piecewise constant (ellipses): TV and low-rank priors fit it well, a 3-level
    # wavelet basis on 48 x 40 frames much less (measured +2.0 dB); the bar is what each prior can give
    assert got["psnr"] > zf["psnr"] + (1.5 if method == "wavelet" else 5.0), (method, got, zf)
    # the iterate has settled: the last relative change is small
    assert info["history"][-1]["rel_change"] < 2e-3, info["history"][-1]
    if "objective" in info:           # objective decreased from the zero-filled start
        assert info["objective"] < info["objective_init"]


def test_rdledm_without_priors_is_the_least_squares_fit(planted):
    # with every prior switched off and no error term the optimum fits the samples exactly
    E, y, _, _, _ = planted
    cfg = Config(method="rdledm", tol=0, max_iter=400, lam_tv=0.0, lam_tt=0.0, lam_nuc=0.0, lam_nuc2=0.0,
                 beta=1e6)
    x, _, info = methods.rdledm(E, y, cfg)
    assert float(torch.linalg.vector_norm(E(x) - y) / torch.linalg.vector_norm(y)) < 0.02
    assert info["objective"] < 1e-3 * info["objective_init"]


def test_rdledm_error_component_takes_an_image_domain_outlier(planted):
    # a strong image-domain perturbation outside the low-rank/TV model is partly absorbed by E
    E, y, _, _, _ = planted
    bump = torch.zeros(E.in_shape, dtype=torch.complex64)
    bump[2, 20:24, 18:22] = 0.5
    cfg = Config(method="rdledm", tol=0, max_iter=150)
    _, _, info = methods.rdledm(E, y + E(bump), cfg)
    err = info["error"]
    assert float(err[2, 20:24, 18:22].abs().mean()) > 3 * float(err.abs().mean())


@pytest.mark.parametrize("method", ["rdledm", "tv", "wavelet"])
def test_static_image(tmp_path, method):
    src = tmp_path / "static.h5"
    outside_mri_file(src, T=1, C=8, accel=2)
    out, zf = tmp_path / "o.h5", tmp_path / "zf.h5"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(out), "--method", method,
                                  "--quiet"])
    assert r.exit_code == 0, r.output
    CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(zf), "--method", "zero-filled",
                              "--quiet"])
    a = sk.io.read_group_attrs(out, "metrics")["psnr"]
    b = sk.io.read_group_attrs(zf, "metrics")["psnr"]
    assert a > b + 3


def test_kt_slr_needs_frames(tmp_path):
    src = tmp_path / "static.h5"
    outside_mri_file(src, T=1, C=4, accel=2)
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "-o", str(tmp_path / "x.h5"),
                                  "--method", "kt-slr"])
    assert r.exit_code == 3 and "needs a dynamic series" in r.output


@pytest.mark.parametrize("method", list(methods.METHODS))
def test_plot_for_every_method(planted, tmp_path, method):
    *_, path = planted
    fig = tmp_path / f"{method}.png"
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(path), "--method", method, "--set",
                                  "max_iter=5", "--plot", str(fig), "--quiet"])
    assert r.exit_code == 0, r.output
    assert fig.exists() and fig.stat().st_size > 10_000


def test_info_lists_the_new_options():
    r = CliRunner().invoke(main, ["info", "mri-recon"])
    assert r.exit_code == 0
    for key in ("lam_tv", "lam_tt", "lam_nuc", "lam_nuc2", "beta", "lam_w", "wavelet", "p", "rdledm", "kt-slr"):
        assert key in r.output, key
    assert "default per method" in r.output


def test_unknown_option_value_is_a_config_error(tmp_path):
    src = tmp_path / "in.h5"
    outside_mri_file(src)
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "--set", "wavelet=bior2.2"])
    assert r.exit_code == 3


@pytest.mark.cuda
def test_methods_on_cuda(planted):
    E, y, ref, scale, _ = planted
    Ec = forward_model(E.ops[-1].maps.cuda(), E.ops[0].mask[:, 0].cuda(), E.in_shape[0])
    for m in ITERATIVE:
        x, _, _ = methods.METHODS[m][0](Ec, y.cuda(), Config(method=m, max_iter=20))
        assert x.device.type == "cuda" and x.dtype == torch.complex64
