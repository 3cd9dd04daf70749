"""``sensekit train rpca-video`` through the common loop: a run stopped by its time budget and continued with
``--resume`` ends with the same weights as an uninterrupted run; the card holds the app's validation metric."""
import json

import torch
from click.testing import CliRunner

from sensekit.cli import main

TINY = ["--set", "iterations=4", "--set", "check_every=2", "--set", "batch=2", "--set", "height=16",
        "--set", "width=16", "--set", "frames=6", "--set", "stages=1", "--set", "channels=4", "--set", "depth_b=0",
        "--set", "depth_t=0", "--seed", "2"]


def _train(out, *extra):
    r = CliRunner().invoke(main, ["train", "rpca-video", "-o", str(out), *TINY, *extra])
    assert r.exit_code == 0, r.output
    return r.output


def test_time_budget_then_resume_equals_an_uninterrupted_run(tmp_path):
    out = _train(tmp_path / "full")
    assert "val_f_measure=" in out                         # the app's own metric, printed
    card = json.loads((tmp_path / "full" / "model.json").read_text())
    assert card["val_metric"] == "val_f_measure" and card["val_f_measure"] == card["eval_f_measure"]
    _train(tmp_path / "cut", "--set", "max_seconds=1e-9", "--quiet")          # stops at the first check
    cut = json.loads((tmp_path / "cut" / "model.json").read_text())
    assert cut["iterations"] == 2 and cut["stop_reason"] == "max_seconds"
    _train(tmp_path / "cut", "--resume", "--quiet")
    done = json.loads((tmp_path / "cut" / "model.json").read_text())
    assert done["iterations"] == 4 and done["stop_reason"] == "max_iter"
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the model written through the registry loads with the app's loader and with sensekit.learned.load_model
    from sensekit.apps.rpca_video.training import load_rpcanet
    from sensekit.learned import load_model
    m1, _ = load_rpcanet(str(tmp_path / "cut"), "cpu")
    m2, c2 = load_model(tmp_path / "cut")
    assert c2["model"] == "rpcanet" and all(torch.equal(x, y) for x, y in zip(m1.state_dict().values(),
                                                                            m2.state_dict().values()))
