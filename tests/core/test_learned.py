"""sensekit.learned: the recurrent inference machine, its cells, training loop and save/load; mri-recon's `rim`
method end to end with the shipped model, and on held-out real data."""
import json
import os

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sensekit.cli import main
from sensekit.core.random import make_generator
from sensekit.io import read_group_attrs
from sensekit.learned import CELLS, RIM, data_gradient, fit, load_model, read_model_card, save_model, step_loss
from sensekit.apps.mri_recon.model import forward_model, normal_bound
from sensekit.apps.mri_recon.training import Sampler, TrainConfig, rim_loss

from helpers import sha256


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def small_problem(seed=0, T=3, C=3, Y=16, X=12, dtype=torch.complex64, device="cpu"):
    g = make_generator(seed)
    maps = torch.randn(C, Y, X, dtype=dtype, generator=g)
    maps = maps / (maps.abs() ** 2).sum(0).sqrt()
    mask = torch.rand(T, Y, X, generator=g) < 0.4
    E = forward_model(maps.to(device), mask.to(device), T)
    x = torch.randn(T, Y, X, dtype=dtype, generator=g).to(device)
    return E, E(x), x, maps, mask


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_rim_shapes_and_backward_for_each_cell(cell):
    E, y, x, maps, _ = small_problem()
    rim = RIM(cell=cell, features=6, steps=3, context=1, generator=make_generator(0))
    xs = rim(E, y, lipschitz=normal_bound(maps))
    assert len(xs) == 3 and all(t.shape == (3, 16, 12) and t.dtype == torch.complex64 for t in xs)
    loss = step_loss(xs, x)
    loss.backward()
    grads = [p.grad for p in rim.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # the cell alone: (B, C_in, H, W), (B, C_h, H, W) -> (B, C_h, H, W)
    c = CELLS[cell](4, 5, kernel_size=3)
    h = c(torch.randn(2, 4, 7, 9), torch.randn(2, 5, 7, 9))
    assert h.shape == (2, 5, 7, 9)


def test_static_images_and_batches():
    # a static image (in_shape (Y, X)) with a leading batch axis: each batch element is normalised alone
    from sensekit.linop import FFT, Mask
    g = make_generator(1)
    A = Mask(torch.rand(20, 20, generator=g) < 0.5, (20, 20)) @ FFT((20, 20))
    x = torch.randn(2, 20, 20, dtype=torch.complex64, generator=g)
    x[1] *= 1000
    rim = RIM(features=4, steps=2, context=2, generator=make_generator(0))
    both = rim(A, A(x), lipschitz=1.0)[-1]
    one = rim(A, A(x[1]), lipschitz=1.0)[-1]
    assert both.shape == (2, 20, 20)
    assert torch.allclose(both[1], one, rtol=1e-4, atol=1e-4 * float(one.abs().max().detach()))


def test_data_gradient_matches_autograd():
    E, y, x, _, _ = small_problem(dtype=torch.complex128)
    x = (x + 0.3 * torch.randn_like(x)).requires_grad_(True)
    f = 0.5 * torch.linalg.vector_norm(E(x) - y) ** 2
    (auto,) = torch.autograd.grad(f, x)
    assert torch.allclose(data_gradient(E, x.detach(), y), auto, rtol=0, atol=1e-10 * float(auto.abs().max()))


def test_rim_is_scale_equivariant():
    # the output scales with the data and does not change with a constant factor on the operator
    E, y, x, maps, mask = small_problem()
    rim = RIM(features=6, steps=3, context=1, generator=make_generator(3))
    E2 = forward_model(2 * maps, mask, 3)
    with torch.no_grad():
        ref = rim(E, y, lipschitz=normal_bound(maps))[-1]
        scaled = rim(E, 1e4 * y, lipschitz=normal_bound(maps))[-1]
        half = rim(E2, y, lipschitz=normal_bound(2 * maps))[-1]
    tol = 1e-4 * float(ref.abs().max())
    assert torch.allclose(scaled, 1e4 * ref, rtol=1e-4, atol=1e4 * tol)
    assert torch.allclose(half, ref / 2, rtol=1e-4, atol=tol)


def _tiny_cfg(**kw):
    base = dict(size_min=24, size_max=32, frames_min=1, frames_max=3, coils_min=2, coils_max=4, accel_min=2,
                accel_max=4, features=8, steps=3, context=1, estimated_maps=0.0)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_training_reduces_loss():
    cfg = _tiny_cfg()
    sampler = Sampler(cfg)
    val = [sampler(make_generator(100 + i)) for i in range(6)]
    model = RIM(cell="indrnn", features=8, steps=3, context=1, generator=make_generator(0))
    loss = rim_loss("mse")

    def val_loss(m):
        with torch.no_grad():
            return float(np.mean([float(loss(m, p)) for p in val]))
    before = val_loss(model)
    res = fit(model, sampler, loss, max_iter=30, lr=3e-3, generator=make_generator(0), clip=1.0, check_every=10)
    after = val_loss(res.model)
    print(f"tiny training: validation loss {before:.4g} -> {after:.4g}")
    assert res.iterations == 30 and len(res.history) == 3
    assert after < 0.5 * before


def test_save_load_round_trip_and_resume(tmp_path):
    cfg = _tiny_cfg()
    sampler = Sampler(cfg)
    E, y, x, maps, _ = small_problem()
    m = RIM(cell="gru", features=5, steps=2, context=0, generator=make_generator(0))
    pt, js = save_model(m, tmp_path / "net", meta={"note": "round trip"})
    assert os.path.isfile(pt) and json.load(open(js))["config"]["cell"] == "gru"
    m2, card = load_model(tmp_path / "net.pt")
    assert card["note"] == "round trip" and card["model"] == "rim"
    with torch.no_grad():
        assert torch.equal(m(E, y, lipschitz=1.0)[-1], m2(E, y, lipschitz=1.0)[-1])
    # training 6 steps at once equals 3 steps, a checkpoint, and 3 resumed steps
    loss = rim_loss("mse")

    class Interrupt(Exception):
        pass

    def stop_at_3(info, model):
        if info["iter"] == 3:
            raise Interrupt

    def run(resume=None, model=None, ckpt=None, callbacks=()):
        model = model or RIM(cell="mgu", features=4, steps=2, generator=make_generator(0))
        return fit(model, sampler, loss, max_iter=6, lr=1e-3, lr_schedule="cosine", generator=make_generator(5),
                   check_every=3, checkpoint=ckpt, checkpoint_every=3 if ckpt else 0, resume=resume,
                   callbacks=callbacks).model
    full = run()
    with pytest.raises(Interrupt):
        run(ckpt=str(tmp_path / "ck"), callbacks=[stop_at_3])
    part, _, extra = load_model(tmp_path / "ck", with_extra=True)
    assert extra["iter"] == 3
    resumed = run(resume=extra, model=part.train())
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing")


def test_shipped_model_card():
    from sensekit.learned import model_paths, weights_path
    pt, js = model_paths(weights_path("mri_rim_indrnn"))
    assert os.path.getsize(pt) < 5_000_000
    card = read_model_card(pt)
    assert card["model"] == "rim" and card["config"]["cell"] == "indrnn" and card["app"] == "mri-recon"
    assert card["trained_by"].startswith("sensekit train mri-recon")
    # the held-out real data never entered training
    used = {d["file"] for d in card["training_images"]}
    assert used and not used & {"rat_cardiac_cine_8frames.mat", "brain_16coil_kspace_full.mat"}
    model, _ = load_model(pt)
    assert sum(p.numel() for p in model.parameters()) == card["parameters"]


def test_cli_rim_beats_zero_filled(tmp_path):
    src = tmp_path / "sim.h5"
    r = invoke("simulate", "mri-recon", "-o", src, "--set", "size=64", "--set", "frames=8", "--set", "accel=6",
               "--seed", 7)
    assert r.exit_code == 0, r.output
    before = sha256(src)
    scores = {}
    for m in ("zero-filled", "cg-sense", "rim"):
        out = tmp_path / f"{m}.h5"
        r = invoke("run", "mri-recon", "--input", src, "-o", out, "--method", m)
        assert r.exit_code == 0, r.output
        scores[m] = read_group_attrs(out, "metrics")
    print({m: round(s["psnr"], 2) for m, s in scores.items()})
    with h5py.File(tmp_path / "rim.h5") as f:
        assert f["recon"].shape == (8, 64, 64) and f["recon"].dtype == np.complex64
        assert f["provenance"].attrs["method"] == "rim" and f["provenance"].attrs["iterations"] == 8
    # shipped model, measured: zero-filled 24.79 / 0.753, cg-sense 28.17 / 0.859, rim 29.36 / 0.902 (ls: 35.71)
    assert scores["rim"]["psnr"] >= scores["zero-filled"]["psnr"] + 4.0
    assert scores["rim"]["psnr"] >= scores["cg-sense"]["psnr"] + 0.5
    assert scores["rim"]["ssim"] >= scores["zero-filled"]["ssim"] + 0.1
    assert sha256(src) == before
    # a model that does not exist: exit 3, one line, no output
    r = invoke("run", "mri-recon", "--input", src, "-o", tmp_path / "x.h5", "--method", "rim",
               "--set", f"rim_model={tmp_path / 'nope'}")
    assert r.exit_code == 3 and "rim_model" in r.output and not (tmp_path / "x.h5").exists()


def test_cli_train_then_run(tmp_path):
    out = tmp_path / "model"
    r = invoke("train", "mri-recon", "-o", out, "--seed", 3, "--device", "cpu", "--quiet",
               *sum((["--set", f"{k}={v}"] for k, v in dict(
                   iterations=4, size_min=24, size_max=32, frames_max=2, features=4, steps=2,
                   checkpoint_every=2, check_every=2).items()), []))
    assert r.exit_code == 0, r.output
    card = json.load(open(out / "model.json"))
    assert card["iterations"] == 4 and card["seed"] == 3 and card["config"]["features"] == 4
    assert (out / "checkpoint.pt").exists()
    src = tmp_path / "in.h5"
    invoke("simulate", "mri-recon", "-o", src, "--set", "size=32", "--set", "frames=3", "--set", "accel=3")
    r = invoke("run", "mri-recon", "--input", src, "--method", "rim", "--set", f"rim_model={out}", "--quiet")
    assert r.exit_code == 0, r.output
    # refuses to overwrite a trained model; bad options: exit 3 and no folder
    r = invoke("train", "mri-recon", "-o", out, "--set", "iterations=1")
    assert r.exit_code == 3 and "already holds" in r.output
    for bad in (["--set", "cell=lstm"], ["--set", "size_min=64", "--set", "size_max=32"], ["--set", "nope=1"],
                ["--set", "images=/no/such.mat"], ["--device", "cuda:9"]):
        r = invoke("train", "mri-recon", "-o", tmp_path / "bad", *bad)
        assert r.exit_code == 3, (bad, r.output)
        assert r.output.count("\n") == 1 and not (tmp_path / "bad").exists()


@pytest.mark.cuda
def test_rim_on_cuda_matches_cpu():
    E, y, x, maps, _ = small_problem()
    rim = RIM(features=6, steps=2, context=1, generator=make_generator(0))
    ref = rim(E, y, lipschitz=normal_bound(maps))[-1]
    Ec, yc, _, _, _ = small_problem(device="cuda")
    out = rim.to("cuda")(Ec, yc, lipschitz=normal_bound(maps))[-1]
    assert out.device.type == "cuda" and torch.allclose(out.cpu(), ref, atol=1e-4)


# ------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_rat_cine_held_out(tmp_path):
    """The rat cine never entered training: simulated acquisition at acceleration 6, as in test_mri_recon."""
    from helpers import rat_cine_file as _rat_cine_file
    src = tmp_path / "rat.h5"
    _rat_cine_file(src, accel=6)
    scores = {}
    for m in ("zero-filled", "cg-sense", "rim"):
        out = tmp_path / f"{m}.h5"
        r = invoke("run", "mri-recon", "--input", src, "-o", out, "--method", m, "--quiet")
        assert r.exit_code == 0, r.output
        scores[m] = read_group_attrs(out, "metrics")
    print({m: (round(s["psnr"], 2), round(s["ssim"], 3)) for m, s in scores.items()})
    assert scores["rim"]["psnr"] >= scores["zero-filled"]["psnr"] + 3.0
    assert scores["rim"]["ssim"] > scores["zero-filled"]["ssim"]


# ----------------------------------------------------------------------------- model registry
class _TinyNet(torch.nn.Module):
    def __init__(self, width: int = 3):
        super().__init__()
        self.width = width
        self.lin = torch.nn.Linear(width, width)

    @property
    def config(self):
        return {"width": self.width}


def test_model_registry_round_trip_and_refusals(tmp_path):
    import json

    from sensekit.learned import MODELS, load_model, register_model, save_model
    net = _TinyNet(4)
    with pytest.raises(TypeError, match="register it first"):
        save_model(net, tmp_path / "m")
    register_model("tiny-test", f"{__name__}:_TinyNet")
    try:
        save_model(net, tmp_path / "m", meta={"card": "test"})
        back, card = load_model(tmp_path / "m")
        assert card["model"] == "tiny-test" and isinstance(back, _TinyNet)
        assert torch.equal(back.lin.weight, net.lin.weight)
    finally:
        MODELS.pop("tiny-test")
    # a card may only name registered kinds or torch modules inside sensekit
    for kind, msg in [("os:system", "unknown model kind"), ("tiny-test", "unknown model kind"),
                      ("sensekit.core.util:vdot", "not a torch.nn.Module"),
                      ("sensekit.nowhere:X", "cannot be imported")]:
        doc = json.loads((tmp_path / "m.json").read_text())
        doc["model"] = kind
        (tmp_path / "m.json").write_text(json.dumps(doc))
        with pytest.raises(ValueError, match=msg):
            load_model(tmp_path / "m")
