"""A hostile model file (issue 17): a pickle that would run code is refused with exit 3 naming option and file."""
import os
import pickle
import shutil

from click.testing import CliRunner

from sensekit.cli import main


class _Payload:
    """Unpickling this would create the marker file (it must never run)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _model_dir(tmp_path, blob: bytes):
    from sensekit.learned import model_paths, weights_path
    _, shipped_js = model_paths(weights_path("mri_rim_indrnn"))
    d = tmp_path / "model"
    d.mkdir()
    shutil.copy(shipped_js, d / "model.json")
    (d / "model.pt").write_bytes(blob)
    return d


def _run(tmp_path, d):
    from sensekit.app.registry import get_app
    src, out = tmp_path / "in.h5", tmp_path / "o.h5"
    sets = sum((["--set", f"{k}={v}"] for k, v in get_app("mri-recon").quick_sim.items()), [])
    assert CliRunner().invoke(main, ["simulate", "mri-recon", "-o", str(src), *sets]).exit_code == 0
    r = CliRunner().invoke(main, ["run", "mri-recon", "--input", str(src), "--method", "rim",
                                  "--set", f"rim_model={d}", "-o", str(out), "--quiet"])
    return r, out


def test_malicious_pickle_model_is_exit_3(tmp_path):
    marker = tmp_path / "pwned"
    d = _model_dir(tmp_path, pickle.dumps({"state_dict": _Payload(str(marker))}))
    r, out = _run(tmp_path, d)
    assert r.exit_code == 3, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "rim_model" in lines[0] and str(d / "model.pt") in lines[0], lines
    assert not marker.exists() and not out.exists()


def test_garbage_model_file_is_exit_3(tmp_path):
    d = _model_dir(tmp_path, os.urandom(512))
    r, out = _run(tmp_path, d)
    assert r.exit_code == 3, r.output
    assert "rim_model" in r.output and str(d / "model.pt") in r.output
