"""``sensekit info APP`` groups the options by method for every registered app with more than one method."""
import pytest
from click.testing import CliRunner

from sensekit.app.options import config_fields, field_default, method_options_of
from sensekit.app.registry import app_names, get_app
from sensekit.cli import main

MULTI = [n for n in app_names() if len(get_app(n).methods) > 1]


def _blocks(out: str, heads: list) -> dict:
    """The text of each ``  method M`` section of the run-options part of ``info``."""
    opts = out[out.index("options (run: --set KEY=VALUE):"):]
    opts = opts[:opts.index("\n\n")] if "\n\n" in opts else opts
    pos = {m: opts.index(f"\n  method {m}") for m in heads}
    order = sorted(pos, key=pos.get)
    return {m: opts[pos[m]:(pos[order[i + 1]] if i + 1 < len(order) else None)] for i, m in enumerate(order)}


def test_every_multi_method_app_is_listed():
    assert {"mri-recon", "rpca-video", "unmix", "isac", "gain-calib", "us-subsample"} <= set(MULTI)


@pytest.mark.parametrize("name", MULTI)
def test_info_groups_options_by_method(name):
    app = get_app(name)
    mo = method_options_of(app.Config)
    assert mo is not None, f"{name}: Config is not built by MethodOptions"
    r = CliRunner().invoke(main, ["info", name])
    assert r.exit_code == 0, r.output
    blocks = _blocks(r.output, list(mo.methods))
    shared = {f.name for f in config_fields(mo.shared)} if mo.shared is not None else set()
    flat = {f.name for f in config_fields(app.Config)} - shared - {mo.name}
    listed = set()
    for m, (cls, _) in mo.methods.items():
        own = {f.name for f in config_fields(cls)} - shared
        for k in flat:
            assert (f"    {k} (" in blocks[m]) == (k in own), f"{name}: option {k} under method {m}"
        listed |= own
    assert listed == flat                   # every method option of the flat Config is under its method(s)
    assert set(app.methods) <= set(mo.methods) | set(mo.aliases)


@pytest.mark.parametrize("name", ["unmix", "isac", "gain-calib", "us-subsample"])
def test_each_method_keeps_the_flat_default(name):
    """These apps had one default per option before the split: every method's own default is the flat one."""
    app = get_app(name)
    mo = method_options_of(app.Config)
    flat = {f.name: field_default(f) for f in config_fields(app.Config)}
    cfg = app.Config()
    for m in mo.methods:
        for k, v in vars(mo.of(cfg, m)).items():
            assert v == flat[k], (m, k)
