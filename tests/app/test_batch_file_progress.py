"""`batch` shows the file in hand: workers send throttled ``iter`` events (iteration, bound) to the progress line."""
import io
import time

from sensekit.app import batch as B
from sensekit.app.base import make_config
from sensekit.app.pool import run_tasks
from sensekit.app.progress import BatchProgress
from sensekit.app.registry import get_app

from helpers import outside_mri_file


def _tasks(tmp_path, names):
    src = tmp_path / "in"
    src.mkdir()
    for k, name in enumerate(names):
        outside_mri_file(src / name, T=2, C=2, Y=24, X=20, accel=2, seed=k)
    app = get_app("mri-recon")
    cfg = make_config(app.Config, {"method": "tv", "max_iter": 6, "check_every": 1, "tol": 0.0})
    return B.plan(app, str(src), str(tmp_path / "out"), cfg, seed=0)


def test_inline_file_reports_every_iteration_with_its_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(B, "ITER_REPORT_EVERY", 0.0)
    (task,) = _tasks(tmp_path, ["a.h5"])
    events = []
    rep = B.process_file(task, lambda kind, v: events.append((kind, v)))
    assert rep.status == "done", rep.reason
    iters = [v for k, v in events if k == "iter"]
    assert iters and all(v[:2] == (0, 1) and v[3] == 6 for v in iters)
    assert [v[2] for v in iters] == sorted(v[2] for v in iters) and iters[-1][2] >= 5
    kinds = [k for k, _ in events]   # start, the setup phases, the iterations, then the finished sample
    assert kinds[0] == "start" and kinds[-1] == "sample" and set(kinds[1:-1]) == {"phase", "iter"}
    phases = [v[2] for k, v in events if k == "phase"]
    assert phases == ["coil maps (espirit)", "model", "tv"]
    assert kinds.index("iter") > max(i for i, k in enumerate(kinds) if k == "phase")


def test_worker_processes_send_iterations_to_the_line(tmp_path):
    tasks = _tasks(tmp_path, ["a.h5", "b.h5"])
    buf = io.StringIO()
    bar = BatchProgress(len(tasks), "mri-recon", stream=buf, enabled=True)
    bar.names = {t.index: t.name for t in tasks}
    seen, texts = [], []

    def on_event(kind, index, value):
        seen.append((kind, index, value))
        bar(kind, index, value)
        if kind == "iter":   # what the line says then (its redraws are throttled, so read the text itself)
            texts.append(bar.text(time.monotonic()))

    reports = run_tasks(tasks, workers=2, on_event=on_event)[0]
    assert [r.status for r in reports] == ["done", "done"]
    for t in tasks:   # the first iteration of every file is always sent (the throttle lets later ones through)
        assert any(k == "iter" and i == t.index and v[3] == 6 for k, i, v in seen), seen
    assert any((" · now a.h5 it " in t or " · now b.h5 it " in t) and "/6" in t for t in texts), texts
    assert "files 0/2" in buf.getvalue() and "files 2/2" in buf.getvalue()   # the line was drawn
    bar.close()
    assert buf.getvalue().split("\r")[-1].strip() == ""   # closed: the summary table starts on a clean line


def test_line_shows_rate_and_eta_of_the_file_in_hand():
    buf = io.StringIO()
    bar = BatchProgress(2, "app", stream=buf, enabled=True)
    bar.names = {0: "long.h5", 1: "next.h5"}
    bar("start", 0, 2)
    bar("phase", 0, (1, 2, "coil maps"))
    bar.draw(force=True)
    assert "now long.h5 sample 2/2: coil maps…" in buf.getvalue().split("\r")[-1]
    bar("iter", 0, (1, 2, 20, 100))
    bar._inhand[0][4] = (bar._inhand[0][4][0] - 2.0, 20)   # 40 iterations in the last 2 s: 20 it/s, 2 s left
    bar("iter", 0, (1, 2, 60, 100))
    bar.draw(force=True)
    last = buf.getvalue().split("\r")[-1]
    assert "now long.h5 sample 2/2 it 60/100" in last and "it/s ETA 0:02" in last, last
    rate = float(last.split(" it/s")[0].split(" ")[-1])
    assert 15 < rate < 25
    bar("sample", 0, 1)   # a finished sample leaves the in-hand part
    bar.draw(force=True)
    assert "now long.h5" not in buf.getvalue().split("\r")[-1]
    bar.close()
    quiet = io.StringIO()
    q = BatchProgress(1, stream=quiet)   # not a terminal: nothing drawn
    q("iter", 0, (0, 1, 3, 10))
    assert quiet.getvalue() == ""
