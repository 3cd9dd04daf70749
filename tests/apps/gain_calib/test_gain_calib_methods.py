"""gain-calib solvers on simulated instances: exact recovery, noise, subspace priors, the PGD pieces."""
import pytest
import torch

from sensekit.sim.gains import gain_instance
from sensekit.solvers import bilinear as bl

RECOVERY = ("pgd", "lsq", "spectral")


def _solve(name, inst, **kw):
    pr = bl.GainCalProblem(inst.sensing, inst.measurements, inst.signal_basis, inst.gain_basis)
    if name == "pgd":
        d, x, res = bl.gain_pgd(pr, check_every=5, **kw)
        return d, x, res.iterations
    if name == "pgd-linesearch":
        d, x, res = bl.gain_pgd(pr, accel="linesearch", check_every=5, **kw)
        return d, x, res.iterations
    if name == "pgd-cg":
        d, x, res = bl.gain_pgd(pr, accel="cg", check_every=5, **kw)
        return d, x, res.iterations
    if name == "lsq":
        d, x, info = bl.gain_lsq(pr, ignore_gain_basis=True, **kw)
        return d, x, info["iterations"]
    if name == "spectral":
        d, x, info = bl.gain_spectral(pr, ignore_gain_basis=True, **kw)
        return d, x, info["iterations"]
    d, x = bl.gain_backprojection(pr)
    return d, x, 0


def _errors(name, inst, **kw):
    d, x, _ = _solve(name, inst, **kw)
    assert abs(complex(d.mean()) - 1) < 1e-12
    return bl.rel_errors(d, x, inst.gains, inst.signal)


# Above the threshold: n = 64, m = 16, p = 12 (m·p = 2.4 (n + m)); measured errors 1e-10 .. 1e-13
@pytest.mark.parametrize("name", RECOVERY + ("pgd-linesearch", "pgd-cg"))
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["gaussian", "bernoulli"])
def test_noiseless_exact_recovery(name, seed, kind):
    inst = gain_instance(64, 16, 12, rho=0.5, kind=kind, generator=torch.Generator().manual_seed(seed))
    e = _errors(name, inst)
    assert e["rel_err_gains"] < 1e-6 and e["rel_err_signal"] < 1e-6, e


def test_backprojection_baseline_is_not_exact():
    """The initialiser alone (the 'init' baseline) is only a start: measured errors ~0.3 (gains), ~0.5 (signal)."""
    inst = gain_instance(64, 16, 12, generator=torch.Generator().manual_seed(0))
    e = _errors("init", inst)
    assert 0.05 < e["rel_err_gains"] < 0.6 and 0.1 < e["rel_err_signal"] < 1.0, e


# 1 % noise, m·p = 3.2 (n + m): measured error / noise 0.22 .. 0.40 (gains), 0.54 .. 0.79 (signal) over 4 seeds
NOISE_CONSTANT = 2.0


@pytest.mark.parametrize("name", RECOVERY + ("pgd-cg",))
@pytest.mark.parametrize("noise", [0.01, 0.03])
def test_noise_degrades_gracefully(name, noise):
    for seed in range(2):
        inst = gain_instance(64, 16, 16, noise=noise, generator=torch.Generator().manual_seed(seed))
        e = _errors(name, inst)
        assert e["rel_err_gains"] <= NOISE_CONSTANT * noise and e["rel_err_signal"] <= NOISE_CONSTANT * noise, e
        # and far better than the initialiser
        e0 = _errors("init", inst)
        assert e["rel_err_gains"] < 0.1 * e0["rel_err_gains"]


def _success_rate(p, trials, k=0, h=0, n=32, m=8, method="pgd"):
    ok = 0
    for t in range(trials):
        inst = gain_instance(n, m, p, k=k, h=h, generator=torch.Generator().manual_seed(100 * p + t))
        e = _errors(method, inst, max_iter=3000)
        ok += max(e.values()) < 1e-6
    return ok / trials


def _boundary(ps, **kw):
    """Smallest p of ``ps`` with a success rate >= 1/2 (None if none)."""
    for p in ps:
        if _success_rate(p, 4, **kw) >= 0.5:
            return p
    return None


def test_subspace_prior_needs_fewer_snapshots():
    """n = 32, m = 8 (n + m = 40 unknowns); priors k = 4, h = 3.

    Measured (4 trials per p, success = both errors < 1e-6 within 3000 iterations, μ = 0.7): unconstrained
    pgd succeeds in 0/4 at p = 5, 1/4 at p = 6, 4/4 at p = 7: the 50 % boundary is p = 7 (m·p = 1.4 (n + m));
    with both subspace priors 3/4 at p = 1 (m·p = 8 measurements ≥ k + h = 7 unknowns), 4/4 at p = 2.
    """
    ps = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12]
    full = _boundary(ps)
    sub = _boundary(ps, k=4, h=3)
    assert full is not None and sub is not None
    assert sub < full, (sub, full)
    assert 5 <= full <= 10 and sub <= 2, (sub, full)


def test_lsq_is_exact_at_the_counting_bound():
    """m·p = n + m (p = 5 for n = 32, m = 8): the linear system is just determined up to scale, lsq recovers."""
    assert _success_rate(5, 3, method="lsq") == 1.0


def test_box_projection():
    v = torch.tensor([3.0, -2.0, 1.0, 1.5, 0.2], dtype=torch.float64)
    g = bl.project_box_mean(v, 0.5)
    assert abs(float(g.sum()) - 5) < 1e-9
    assert float(g.min()) >= 0.5 - 1e-12 and float(g.max()) <= 1.5 + 1e-12
    # optimality: the projection is closer to v than random feasible points
    for s in range(20):
        r = bl.project_box_mean(torch.randn(5, generator=torch.Generator().manual_seed(s), dtype=torch.float64), 0.5)
        assert float(((g - v) ** 2).sum()) <= float(((r - v) ** 2).sum()) + 1e-12


def test_pgd_gains_stay_in_the_set():
    inst = gain_instance(32, 8, 8, rho=0.8, generator=torch.Generator().manual_seed(5))
    pr = bl.GainCalProblem(inst.sensing, inst.measurements)
    solver = bl.GainPGD(rho=0.9)
    s = solver.init(pr)
    for _ in range(30):
        s = solver.step(pr, s)
        d = s.x[1]
        assert abs(float(d.sum()) - 8) < 1e-9
        assert float((d - 1).abs().max()) <= 0.9 + 1e-9


def test_pgd_is_linear_convergence():
    """The paper's claim: linear convergence; the error after 2k iterations ≈ (error after k)² / initial."""
    inst = gain_instance(64, 16, 16, generator=torch.Generator().manual_seed(2))
    errs = []
    for it in (20, 40, 80):
        e = _errors("pgd", inst, max_iter=it, tol=0.0)
        errs.append(e["rel_err_gains"])
    r1, r2 = errs[1] / errs[0], errs[2] / errs[1]
    assert r1 < 0.5 and r2 < 0.5 and r2 < 1.5 * r1 ** 2 + 1e-3, errs


def test_zero_gain_sensor_is_refused():
    inst = gain_instance(16, 6, 8, generator=torch.Generator().manual_seed(0))
    y = inst.measurements.clone()
    y[:, 2] = 0
    with pytest.raises(ValueError, match="sensor 2"):
        bl.gain_lsq(bl.GainCalProblem(inst.sensing, y))


# Complex gains (phase spread ±0.3 rad): measured noiseless errors 1e-9 (pgd) .. 1e-13 (lsq); with 1 % noise
# 0.35 .. 0.42 × noise (gains), 0.70 .. 0.94 × noise (signal)
@pytest.mark.parametrize("name", RECOVERY)
@pytest.mark.parametrize("kind", ["gaussian", "bernoulli"])
def test_complex_gains(name, kind):
    inst = gain_instance(64, 16, 12, phase=0.3, kind=kind, generator=torch.Generator().manual_seed(0))
    assert inst.gains.is_complex() and inst.sensing.is_complex()
    d, x, _ = _solve(name, inst)
    assert d.is_complex() and abs(complex(d.mean()) - 1) < 1e-12
    e = bl.rel_errors(d, x, inst.gains, inst.signal)
    assert max(e.values()) < 1e-6, e
    noisy = gain_instance(64, 16, 12, phase=0.3, kind=kind, noise=0.01, generator=torch.Generator().manual_seed(0))
    e = _errors(name, noisy)
    assert max(e.values()) <= NOISE_CONSTANT * 0.01, e


def test_disc_projection():
    v = 2 * torch.randn(7, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    g = bl.project_disc_mean(v, 0.5)
    assert abs(complex(g.mean()) - 1) < 1e-9 and float((g - 1).abs().max()) <= 0.5 + 1e-6
    for s in range(20):   # closer to v than other feasible points
        r = bl.project_disc_mean(torch.randn(7, dtype=torch.complex128, generator=torch.Generator().manual_seed(s)),
                                 0.5)
        assert float((g - v).abs().pow(2).sum()) <= float((r - v).abs().pow(2).sum()) + 1e-9


def test_cg_option_needs_fewer_iterations():
    """accel=cg (beyond the paper) against the paper's fixed steps, same instance and tolerance.

    Measured (n = 64, m = 16, p = 12, seed 3): 480 fixed-step iterations, 60 cg iterations; n = 1024, m = 64,
    p = 51: 390 against 50 (7.4 s against 1.6 s on the loaded machine)."""
    inst = gain_instance(64, 16, 12, generator=torch.Generator().manual_seed(3))
    _, _, it_plain = _solve("pgd", inst, max_iter=3000)
    d, x, it_cg = _solve("pgd-cg", inst, max_iter=3000)
    assert max(bl.rel_errors(d, x, inst.gains, inst.signal).values()) < 1e-8
    assert it_cg * 4 < it_plain, (it_cg, it_plain)


@pytest.mark.parametrize("accel", ["cg", "linesearch"])
def test_accelerated_subspace_and_complex(accel):
    sub = gain_instance(64, 16, 2, k=8, h=4, generator=torch.Generator().manual_seed(3))
    cpx = gain_instance(64, 16, 12, phase=0.3, generator=torch.Generator().manual_seed(3))
    for inst in (sub, cpx):
        pr = bl.GainCalProblem(inst.sensing, inst.measurements, inst.signal_basis, inst.gain_basis)
        d, x, _ = bl.gain_pgd(pr, accel=accel, check_every=5)
        assert max(bl.rel_errors(d, x, inst.gains, inst.signal).values()) < 1e-6
