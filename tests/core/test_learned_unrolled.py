"""sensekit.learned.unrolled and the one training loop: the unrolled block equals the plain solver with fixed
parameters, gradients reach every parameter, any linear operator; fit is seeded, resumable (an interrupted or
time-budgeted run resumed ends with the same weights as an uninterrupted one), validated and registered."""
import io
import json

import pytest
import torch

import sensekit as sk
from sensekit.learned import (FunctionOp, Unrolled, Validation, fit, load_checkpoint, load_model,
                              read_model_card, train_and_save)
from sensekit.learned.sampling import UnrolledProxGrad
from sensekit.learned.unrolled import inverse_positive
from sensekit.solvers import FISTA, Composite, LeastSquares, MaxIter, solve


def _ops():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(12, 20, dtype=torch.float64, generator=g)
    mask = torch.rand(8, 10, generator=g) < 0.5
    F = sk.linop.Mask(mask, (8, 10)) @ sk.linop.FFT((8, 10), axes=(-2, -1))
    D = sk.linop.FiniteDiff((6, 7), axes=(-2, -1))
    return {"dense": (sk.linop.Dense(M), (20,), torch.float64),
            "masked-fft": (F, (8, 10), torch.complex128),
            "finite-diff": (D, (6, 7), torch.float64),
            "functions": (FunctionOp(lambda x: M @ x, lambda y: M.T @ y, (20,), (12,)), (20,), torch.float64)}


OPS = _ops()
OPS_M32 = torch.randn(12, 20, generator=torch.Generator().manual_seed(0)) / 12 ** 0.5


def _problem(name, lam=0.05, seed=1):
    A, shape, dt = OPS[name]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, dtype=dt, generator=g)
    return Composite(LeastSquares(A, A(x)), sk.prox.L1(lam))


@pytest.mark.parametrize("momentum", [False, True])
@pytest.mark.parametrize("name", sorted(OPS))
def test_fixed_parameters_give_the_plain_solvers_iterates(name, momentum):
    K = 8
    prob = _problem(name)
    plain = []
    solve(FISTA(momentum=momentum), prob, stop=MaxIter(K), callbacks=[lambda info, s: plain.append(s.x)])
    net = Unrolled(FISTA(momentum=momentum), iterations=K, dtype=torch.float64)
    with torch.no_grad():
        its = net(prob, return_all=True)
    assert len(its) == len(plain) == K
    for a, b in zip(its, plain):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # float32 parameters: equal up to the rounding of σ = softplus(softplus⁻¹(1))
    net32 = Unrolled(FISTA(momentum=momentum), iterations=K)
    with torch.no_grad():
        torch.testing.assert_close(net32(prob), plain[-1], rtol=1e-5, atol=1e-6)


def test_inverse_positive_round_trips():
    for v in (1e-3, 0.5, 1.0, 40.0):
        for pos, fn in (("softplus", torch.nn.functional.softplus), ("exp", torch.exp)):
            r = torch.tensor(inverse_positive(v, pos), dtype=torch.float64)
            assert abs(float(fn(r)) - v) < 1e-12 * max(1.0, v)
    with pytest.raises(ValueError):
        inverse_positive(0.0)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradients_reach_every_step_and_threshold(name):
    prob = _problem(name, lam=0.2)
    net = Unrolled(iterations=5, step=0.8, threshold=1.3, dtype=torch.float64)
    x = net(prob)
    target = torch.ones_like(x)
    ((x - target).abs() ** 2).sum().backward()
    for n, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and (p.grad != 0).all(), n
    assert net.steps().shape == net.thresholds().shape == (5,)
    assert float(net.steps()[0].detach()) == pytest.approx(0.8)
    assert float(net.thresholds()[0].detach()) == pytest.approx(1.3)


class _Den(torch.nn.Module):
    def __init__(self, extra=0):
        super().__init__()
        self.a = torch.nn.Conv1d(1 + extra, 4, 3, padding=1)
        self.b = torch.nn.Conv1d(4, 1, 3, padding=1)

    def forward(self, v, *context):
        h = torch.cat([v[:, None], *[c[:, None] for c in context]], 1)
        return v + self.b(torch.tanh(self.a(h)))[:, 0]


@pytest.mark.parametrize("shared", [True, False])
def test_denoiser_replaces_the_prox_and_gets_gradients(shared):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 20, generator=g)
    A32 = FunctionOp(lambda v: v @ OPS_M32.T, lambda r: r @ OPS_M32, (20,), (12,))
    y = A32(x)
    ctx = torch.rand(3, 20, generator=g)
    den = _Den(extra=1) if shared else [_Den(extra=1) for _ in range(3)]
    net = Unrolled(iterations=3, denoiser=den)
    assert net.thresholds() is None
    out = net(Composite(LeastSquares(A32, y)), A32.H(y), context=(ctx,))
    assert out.shape == x.shape
    ((out - x) ** 2).mean().backward()
    for n, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, n
    # the denoiser really is applied: a denoiser returning zeros gives zeros
    zero = Unrolled(iterations=2, denoiser=lambda v, *c: torch.zeros_like(v))
    assert not zero(Composite(LeastSquares(A32, y)), A32.H(y)).any()


def test_learned_steps_and_thresholds_beat_the_plain_iterations():
    """LISTA-style: 6 unrolled ISTA iterations with learned σ_k, θ_k vs the same 6 plain ones (held-out)."""
    M = OPS_M32

    def draw(g, n=16):
        x = torch.zeros(n, 20)
        idx = torch.rand(n, 20, generator=g).argsort(1)[:, :3]
        x.scatter_(1, idx, torch.randn(n, 3, generator=g))
        return x

    A = FunctionOp(lambda v: v @ M.T, lambda r: r @ M, (20,), (12,))

    def run(net, x):
        return net(Composite(LeastSquares(A, A(x)), sk.prox.L1(0.05)))

    net = Unrolled(iterations=6)
    test = draw(torch.Generator().manual_seed(99), 64)

    def err(m):
        with torch.no_grad():
            return float(((run(m, test) - test) ** 2).sum() / (test ** 2).sum())
    before = err(net)
    fit(net, lambda g: draw(g), lambda m, x: ((run(m, x) - x) ** 2).mean(), max_iter=60, lr=5e-2,
        generator=torch.Generator().manual_seed(0), check_every=20)
    after = err(net)
    print(f"unrolled ISTA, 6 iterations: held-out NMSE {before:.4f} (plain) -> {after:.4f} (learned)")
    assert after < 0.7 * before


# ------------------------------------------------------------------------------------------- the training loop
def _tiny():
    torch.manual_seed(0)
    return UnrolledProxGrad(features=3, layers=2, iterations=2)


def _sample(g):
    return torch.randn(2, 1, 6, 5, generator=g)


def _loss(m, x):
    keep = (torch.rand(1, 1, 6, 1) < 0.6).float().expand(2, 1, 6, 5)      # the global RNG (restored on resume)
    op = lambda v: v * keep  # noqa: E731
    return ((m(x * keep, op, op, keep) - x) ** 2).mean()


def _val(m):
    x = _sample(torch.Generator().manual_seed(123))
    keep = torch.ones(2, 1, 6, 5)
    keep[:, :, ::2] = 0
    op = lambda v: v * keep  # noqa: E731
    with torch.no_grad():
        return float(((m(x * keep, op, op, keep) - x) ** 2).mean())


KW = dict(max_iter=8, lr=1e-2, lr_schedule="cosine", check_every=2)


def test_resume_after_an_interruption_or_the_time_budget_gives_the_same_weights(tmp_path):
    full = fit(_tiny(), _sample, _loss, generator=torch.Generator().manual_seed(5), **KW).model

    class Killed(Exception):
        pass

    def kill_at_4(info, model):
        if info["iter"] == 4:
            raise Killed
    ck = str(tmp_path / "ck")
    with pytest.raises(Killed):
        fit(_tiny(), _sample, _loss, generator=torch.Generator().manual_seed(5), checkpoint=ck, checkpoint_every=2,
            callbacks=[kill_at_4], **KW)
    torch.manual_seed(31)                                       # a new process: its own RNG state
    model = _tiny()
    state = load_checkpoint(ck, model)
    assert state["iter"] == 4
    resumed = fit(model, _sample, _loss, generator=torch.Generator().manual_seed(999), resume=state, **KW).model
    for (n, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), n
    # the time budget stops at the first check, leaves a checkpoint, and the resumed run finishes the same
    ck2 = str(tmp_path / "budget")
    r = fit(_tiny(), _sample, _loss, generator=torch.Generator().manual_seed(5), checkpoint=ck2, max_seconds=0.0,
            **KW)
    assert r.stop_reason == "max_seconds" and r.iterations == 2
    model = _tiny()
    resumed = fit(model, _sample, _loss, generator=torch.Generator(), resume=load_checkpoint(ck2, model), **KW)
    assert resumed.iterations == 8 and [h["iter"] for h in resumed.history] == [2, 4, 6, 8]
    for (n, a), b in zip(full.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), n


def test_validation_metric_is_scored_shown_and_written_in_the_card(tmp_path):
    from sensekit.app.progress import ProgressBar
    stream = io.StringIO()
    bar = ProgressBar(8, "toy train", stream=stream, enabled=True)
    val = Validation(_val, "val_mse", every=4)
    res, card = train_and_save(_tiny(), _sample, _loss, output=str(tmp_path / "m"),
                               card=lambda r: {"app": "toy", "iterations": r.iterations},
                               generator=torch.Generator().manual_seed(5), validate=val, callbacks=[bar],
                               checkpoint_every=4, **KW)
    assert [v["iter"] for v in res.val_history] == [4, 8] and res.validation == res.val_history[-1]["val_mse"]
    assert "val_mse" in stream.getvalue() and "loss" in stream.getvalue()
    doc = read_model_card(tmp_path / "m")
    assert doc["val_mse"] == res.validation and doc["val_metric"] == "val_mse" and doc["iterations"] == 8
    assert doc["model"] == "dps_unrolled" or doc["model"].endswith(":UnrolledProxGrad")
    model, _ = load_model(tmp_path / "m")
    assert _val(model) == pytest.approx(res.validation, abs=1e-7)
    # resume from the checkpoint left in the folder: nothing left to do, same weights, same score
    res2, _ = train_and_save(_tiny(), _sample, _loss, output=str(tmp_path / "m"), card=lambda r: {},
                             generator=torch.Generator(), validate=val, resume=True, checkpoint_every=4, **KW)
    assert res2.iterations == 8 and res2.validation == pytest.approx(res.validation, abs=1e-7)
    from sensekit.io.errors import ConfigError
    with pytest.raises(ConfigError, match="no checkpoint"):
        train_and_save(_tiny(), _sample, _loss, output=str(tmp_path / "empty"), card=lambda r: {}, resume=True, **KW)
    json.dumps(doc)
