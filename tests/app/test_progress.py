"""Progress lines: elapsed time, rate and ETA; named setup phases (mri-recon: coil maps, model, method)."""
import io
import time

from sensekit.app.progress import BatchProgress, ProgressBar, fmt_seconds, phase


def test_fmt_seconds():
    assert fmt_seconds(7.4) == "0:07" and fmt_seconds(723) == "12:03" and fmt_seconds(3723) == "1:02:03"


def test_bar_shows_elapsed_rate_and_eta():
    buf = io.StringIO()
    bar = ProgressBar(100, "app", stream=buf, enabled=True, t0=time.monotonic() - 3.0)
    bar.phase("coil maps")
    assert "app: coil maps… 0:03" in buf.getvalue()
    bar._start = (time.monotonic() - 2.0, 0)   # 50 iterations in the last 2 s: 25 it/s, 2 s left
    bar({"iter": 50})
    last = buf.getvalue().split("\r")[-1]
    assert "50/100" in last and "0:03 elapsed" in last and "it/s" in last and "ETA 0:02" in last
    rate = float(last.split(" it/s")[0].split("· ")[-1])
    assert 20 < rate < 30
    bar.close()
    assert buf.getvalue().endswith("\r")
    quiet = io.StringIO()
    q = ProgressBar(10, "x", stream=quiet)   # not a terminal: nothing drawn
    q.phase("loading")
    q({"iter": 3})
    assert quiet.getvalue() == ""


def test_batch_progress_eta_after_the_first_samples():
    buf = io.StringIO()
    bar = BatchProgress(1, stream=buf, enabled=True)
    bar.t0 -= 10.0
    bar("start", 0, 4)
    bar("sample", 0, 0)
    bar.draw(force=True)
    last = buf.getvalue().split("\r")[-1]
    assert "samples 1/4" in last and "0:10" in last and "ETA 0:30" in last


class Recorder:
    def __init__(self):
        self.phases, self.iters = [], 0

    def phase(self, name):
        self.phases.append(name)

    def __call__(self, info, state=None):
        self.iters += 1


def test_mri_recon_names_its_setup_phases():
    import torch
    from sensekit.app.registry import get_app
    from sensekit.app.runner import simulated_sample
    app = get_app("mri-recon")
    sample = simulated_sample(app, quick=True)
    cfg = app.Config(max_iter=5)
    rec = Recorder()
    app.run(sample, cfg, generator=torch.Generator().manual_seed(0), callbacks=[rec])
    assert rec.phases == ["coil maps (espirit)", "model", "llr-tv"] and rec.iters > 0   # auto on a series
    phase([object(), None and rec], "ignored")   # callbacks without a phase method are left alone
