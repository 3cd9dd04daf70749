"""`sensekit batch --scheduler`: the same per-file tasks on a Dask cluster started here, on loopback."""
import pytest
from click.testing import CliRunner

from sensekit.cli import main

from batch_helpers import FAST, multi_sample_file, same_results, tree
from helpers import outside_mri_file

distributed = pytest.importorskip("dask.distributed", reason="dask.distributed is not installed "
                                  "(pip install 'sensekit[distributed]' or '.[test]')")


def test_dask_local_cluster_matches_local_run(tmp_path):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    outside_mri_file(src / "a" / "x.h5", T=3, C=2, Y=24, X=20, accel=2, seed=1)
    multi_sample_file(src / "b" / "x.h5", 2, seed=5)
    (src / "b" / "broken.h5").write_text("not hdf5")
    local = tmp_path / "local"
    assert CliRunner().invoke(main, ["batch", "mri-recon", f"{src}/**/x.h5", "-o", str(local), *FAST,
                                     "--quiet"]).exit_code == 0
    # workers are threads of this process (no second torch import), but every task still travels pickled
    # over TCP on loopback between client, scheduler and workers, as on a real cluster
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  dashboard_address=None, protocol="tcp") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask"
        r = CliRunner().invoke(main, ["batch", "mri-recon", f"{src}/**/*.h5", "-o", str(out), *FAST,
                                      "--scheduler", cluster.scheduler_address])
        assert r.exit_code == 3, r.output            # the broken file is bad input: reported, the rest done
        assert "done 2, skipped 0, failed 1 (of 3 files)" in r.output and "not an HDF5 file" in r.output
        assert tree(out) == ["a/x.h5", "b/x.h5"]
        for f in ("a/x.h5", "b/x.h5"):
            same_results(out / f, local / f)
        r = CliRunner().invoke(main, ["batch", "mri-recon", f"{src}/**/x.h5", "-o", str(out), *FAST, "--resume",
                                      "--scheduler", cluster.scheduler_address])
        assert r.exit_code == 0 and "skipped 2" in r.output


def test_unreachable_scheduler_is_exit_3(tmp_path, monkeypatch):
    monkeypatch.setattr("sensekit.app.pool.CONNECT_TIMEOUT", "2s")
    src = tmp_path / "x.h5"
    outside_mri_file(src, T=2, C=2, Y=16, X=16, accel=2)
    r = CliRunner().invoke(main, ["batch", "mri-recon", str(src), "-o", str(tmp_path / "o"),
                                  "--scheduler", "tcp://127.0.0.1:9"])
    assert r.exit_code == 3 and "cannot connect" in r.output
