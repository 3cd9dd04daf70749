"""The option machinery (sensekit.app.options): parsing each type, bounds, unknown options, per-method options, info."""
import dataclasses
import enum
import json
import pickle
import typing
from typing import Literal, Optional

import pytest
from click.testing import CliRunner

from sensekit.app.options import (MethodOptions, config_dict, describe_fields, info_lines, make_config,
                                  method_options_of, option, parse_value)
from sensekit.cli import main
from sensekit.io.errors import ConfigError


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass(frozen=True)
class Every:
    flag: bool = option(False, "a switch")
    n: int = option(3, "a count", min=1, max=10)
    x: float = option(0.5, "a weight", min=0.0)
    name: str = option("a", "a name", choices=("a", "b"))
    maybe: Optional[int] = option(None, "unset or a count", min=0)
    size: tuple[int, int] = option((64, 48), "height, width", min=1)
    weights: tuple[float, ...] = option((), "any number of weights", min=0.0)
    names: list[str] = option(["p", "q"], "a list", choices=("p", "q", "r"))
    mode: Literal["fast", "exact"] = option("fast", "a literal")
    colour: Colour = option(Colour.RED, "an enum")


def build(**values):
    return make_config(Every, values)


# ------------------------------------------------------------------------------------------- parsing per type
@pytest.mark.parametrize("text,want", [("true", True), ("YES", True), ("on", True), ("1", True), ("false", False),
                                       ("no", False), ("off", False), ("0", False)])
def test_bool(text, want):
    assert build(flag=text).flag is want
    assert build(flag=want).flag is want      # a JSON/TOML boolean


def test_bool_rejects_other_words():
    with pytest.raises(ConfigError, match=r"option 'flag' in --set: cannot read 'maybe' as bool"):
        build(flag="maybe")


def test_int_and_float():
    assert build(n="7").n == 7 and build(n="1e0").n == 1 and build(n=4).n == 4
    assert build(x="1e-4").x == 1e-4 and build(x=2).x == 2.0
    for bad in ("2.5", "abc", "1.5e0", True):
        with pytest.raises(ConfigError, match="option 'n'"):
            build(n=bad)
    for bad in ("nan", "inf", "abc", False):
        with pytest.raises(ConfigError, match="option 'x'.*as float"):
            build(x=bad)
    with pytest.raises(ConfigError, match="out of range"):
        build(n="1e400")


def test_optional():
    assert build(maybe="none").maybe is None and build(maybe="").maybe is None and build(maybe=None).maybe is None
    assert build(maybe="5").maybe == 5
    with pytest.raises(ConfigError, match="option 'maybe' in --set: cannot read 'five' as int"):
        build(maybe="five")


@pytest.mark.parametrize("text", ["32,16", "(32, 16)", "[32,16]", " 32 , 16 "])
def test_fixed_tuple(text):
    assert build(size=text).size == (32, 16)


def test_fixed_tuple_errors_name_the_form():
    with pytest.raises(ConfigError, match=r"option 'size' in --set: '32' has 1 value\(s\), expected 2 "
                                          r"comma-separated int"):
        build(size="32")
    with pytest.raises(ConfigError, match=r"option 'size' in --set: cannot read 'a' as int"):
        build(size="32,a")
    assert build(size=[8, 4]).size == (8, 4)          # a JSON/TOML list


def test_variable_tuple_and_list():
    assert build(weights="0.5,1,2").weights == (0.5, 1.0, 2.0)
    assert build(weights="").weights == () and build().weights == ()
    assert build(names="r, p").names == ["r", "p"] and build().names == ["p", "q"]
    assert build().names is not build().names         # a list default is copied
    with pytest.raises(ConfigError, match=r"option 'names' in --set: 's' is not one of p, q, r"):
        build(names="p,s")


def test_literal_and_enum():
    assert build(mode="exact").mode == "exact"
    with pytest.raises(ConfigError, match="option 'mode' in --set: 'slow' is not one of fast, exact"):
        build(mode="slow")
    for text in ("GREEN", "green", "Colour.GREEN", Colour.GREEN):
        assert build(colour=text).colour is Colour.GREEN
    with pytest.raises(ConfigError, match="option 'colour' in --set: 'blue' is not one of RED, GREEN"):
        build(colour="blue")


# ------------------------------------------------------------------------------------------- bounds, unknown
def test_bounds_and_choices_apply_to_scalars_and_elements():
    with pytest.raises(ConfigError, match="option 'n' in --set: 0 is below the minimum 1"):
        build(n="0")
    with pytest.raises(ConfigError, match="option 'n' in --set: 11 is above the maximum 10"):
        build(n="11")
    with pytest.raises(ConfigError, match="option 'size' in --set: 0 is below the minimum 1"):
        build(size="4,0")
    with pytest.raises(ConfigError, match="option 'weights' in --set: -1.0 is below the minimum 0.0"):
        build(weights="1,-1")
    with pytest.raises(ConfigError, match="option 'name' in --set: 'c' is not one of a, b"):
        build(name="c")
    assert build(n="10").n == 10 and build(n="1").n == 1      # bounds are inclusive


def test_unknown_option_lists_the_valid_ones_and_reads_dashes():
    with pytest.raises(ConfigError, match="unknown option 'nosuch' in c.json; expected one of: flag, n, x"):
        make_config(Every, {"nosuch": 1}, source="in c.json")
    assert make_config(Every, {"flag": "1"}).flag is True
    assert parse_value(tuple[int, ...], "1,2", "k") == (1, 2)


def test_describe_names_types_and_implicit_choices():
    d = {f["name"]: f for f in describe_fields(Every)}
    assert d["size"]["type"] == "2 comma-separated int" and d["weights"]["type"] == "comma-separated list of float"
    assert d["maybe"]["type"] == "int or none" and d["names"]["default"] == ["p", "q"]
    assert d["mode"]["choices"] == ("fast", "exact") and d["colour"]["choices"] == ("RED", "GREEN")


def test_the_cli_exits_3_with_one_line_naming_the_option():
    r = CliRunner().invoke(main, ["run", "mri-recon", "--set", "max_iter=1,2"])
    assert r.exit_code == 3 and r.output.strip().count("\n") == 0, r.output
    assert "option 'max_iter'" in r.output and "cannot read '1,2' as int" in r.output


# ------------------------------------------------------------------------------------------- per-method options
@dataclasses.dataclass(frozen=True)
class Shared:
    calib: int = option(24, "calibration side", min=4)


@dataclasses.dataclass(frozen=True)
class Fast:
    max_iter: int = option(50, "sweeps", min=1)
    lam: float = option(0.1, "fast weight", min=0.0, max=1.0)


@dataclasses.dataclass(frozen=True)
class Exact(Shared):       # a method class may carry the shared options too
    max_iter: int = option(500, "iterations", min=10)
    lam: float = option(0.1, "exact weight", min=0.0)
    size: tuple[int, int] = option((8, 8), "patch", min=1)


@dataclasses.dataclass(frozen=True)
class Plain:
    """No options."""


def methods(unused="ignore"):
    return MethodOptions(option("fast", "the method"), Shared,
                         {"fast": (Fast, "quick"), "exact": (Exact, "slow"), "plain": Plain},
                         aliases={"auto": "fast"}, unused=unused)


MO = methods()
Flat = MO.flat_config("Flat", __name__)
MOE = methods("error")
FlatStrict = MOE.flat_config("FlatStrict", __name__)


def test_flat_config_is_built_from_the_method_classes():
    f = {d.name: d for d in dataclasses.fields(Flat)}
    assert list(f) == ["method", "calib", "max_iter", "lam", "size"]
    assert f["method"].metadata["choices"] == ("auto", "fast", "exact", "plain")
    assert f["max_iter"].default is None and f["lam"].default == 0.1          # defaults differ / agree
    assert f["max_iter"].metadata["min"] == 1 and f["lam"].metadata["max"] is None   # the loosest bounds
    assert typing.get_type_hints(Flat)["size"] == Optional[tuple[int, int]]
    assert f["size"].default == (8, 8) and f["max_iter"].metadata["methods"] == ("fast", "exact")
    assert "default per method: fast 50, exact 500" in f["max_iter"].metadata["help"]
    assert method_options_of(Flat) is MO and method_options_of(Every) is None
    assert pickle.loads(pickle.dumps(Flat())) == Flat()                       # batch workers get it


def test_of_gives_the_methods_own_options():
    assert MO.of(make_config(Flat, {})) == Fast(max_iter=50, lam=0.1)
    assert MO.of(make_config(Flat, {"method": "exact"})) == Exact(calib=24, max_iter=500, lam=0.1, size=(8, 8))
    cfg = make_config(Flat, {"method": "exact", "max_iter": "20", "size": "4,2", "calib": "8"})
    assert MO.of(cfg) == Exact(calib=8, max_iter=20, lam=0.1, size=(4, 2))
    assert MO.of(cfg, "fast") == Fast(max_iter=20, lam=0.1)                 # another method's view of it
    assert MO.of(make_config(Flat, {"method": "auto", "lam": "0.5"})) == Fast(max_iter=50, lam=0.5)
    assert MO.of(make_config(Flat, {"method": "plain"})) == Plain()
    assert MO.of(make_config(Flat, {"max_iter": "none"})).max_iter == 50


def test_the_chosen_methods_own_bounds_are_checked_when_the_config_is_made():
    with pytest.raises(ConfigError, match=r"option 'max_iter' in --set \(method exact\): 5 is below the minimum 10"):
        make_config(Flat, {"method": "exact", "max_iter": "5"})
    assert make_config(Flat, {"method": "fast", "max_iter": "5"}).max_iter == 5
    with pytest.raises(ConfigError, match=r"option 'lam' .*method fast.*above the maximum 1.0"):
        make_config(Flat, {"lam": "2"})
    assert make_config(Flat, {"method": "exact", "lam": "2"}).lam == 2.0


def test_unused_options_ignored_or_refused():
    assert make_config(Flat, {"method": "fast", "size": "3,3"}).size == (3, 3)       # ignored
    with pytest.raises(ConfigError, match=r"option 'size' in --set is not read by method 'fast' \(it is an option "
                                          r"of exact\); options of fast: calib, lam, max_iter"):
        make_config(FlatStrict, {"method": "fast", "size": "3,3"})
    # batch passes every option back: values at the flat default are never refused
    cfg = make_config(FlatStrict, {"method": "plain"})
    assert make_config(FlatStrict, config_dict(cfg)) == cfg
    assert make_config(FlatStrict, {"method": "exact", "size": "3,3"}).size == (3, 3)


def test_unset_keeps_a_flat_default_of_none():
    mo = MethodOptions(option("fast", "m"), None, {"fast": Fast, "exact": Exact}, unset=("lam",))
    C = mo.flat_config("C", __name__)
    assert C().lam is None and mo.of(C()).lam == 0.1 and "default per method: fast 0.1" in \
        dataclasses.fields(C)[2].metadata["help"]
    with pytest.raises(ValueError, match="an option of no method"):
        MethodOptions(option("fast", "m"), None, {"fast": Fast}, unset=("nosuch",))


def test_declaration_errors():
    @dataclasses.dataclass(frozen=True)
    class Clash:
        calib: int = option(12, "redeclared")

    with pytest.raises(TypeError, match="redeclares the shared option 'calib'"):
        MethodOptions(option("a", "m"), Shared, {"a": Clash})

    @dataclasses.dataclass(frozen=True)
    class Other:
        lam: str = option("x", "a string now")

    with pytest.raises(TypeError, match="option 'lam' has different types"):
        MethodOptions(option("a", "m"), None, {"a": Fast, "b": Other})
    with pytest.raises(ValueError, match="unknown method"):
        MethodOptions(option("a", "m"), None, {"a": Fast}, aliases={"auto": "nope"})


def test_info_groups_options_by_method():
    lines = info_lines(Flat)
    text = "\n".join(lines)
    assert lines[0].startswith("  method (str, default 'fast')")
    i_shared, i_fast, i_exact = (text.index(s) for s in ("shared options (one value whichever method runs):",
                                                          "method fast (quick):", "method exact (slow):"))
    assert i_shared < i_fast < i_exact
    fast = text[i_fast:i_exact]
    assert "max_iter (int, default 50): sweeps [min 1]" in fast and "size" not in fast
    assert "size (2 comma-separated int, default (8, 8)): patch [min 1]" in text[i_exact:]
    assert "calib" not in text[i_fast:]                    # shared options are listed once
    assert "method auto: runs fast" in text and "method plain:" in text and "(no options of its own)" in text
    assert "max_iter: default per method: fast 50, exact 500" in text
    assert "accepted and ignored" in text and "is an error" in "\n".join(info_lines(FlatStrict))
    assert info_lines(Every)[0] == "  flag (bool, default False): a switch"


def test_mri_recon_info_groups_its_options_by_method():
    r = CliRunner().invoke(main, ["info", "mri-recon"])
    assert r.exit_code == 0
    out = r.output
    sec = {m: out.index(f"  method {m}:") for m in ("rdledm", "ls", "kt-slr", "llr", "llr-tv", "tv", "wavelet",
                                                     "cg-sense", "zero-filled", "rim")}
    order = sorted(sec, key=sec.get)
    blocks = {m: out[sec[m]:(sec[order[order.index(m) + 1]] if order.index(m) + 1 < len(order) else None)]
              for m in order}
    assert "max_iter (int, default 150)" in blocks["tv"] and "max_iter (int, default 80)" in blocks["kt-slr"]
    assert "lam_l" in blocks["ls"] and "lam_l" not in blocks["tv"] and "lam_w" not in blocks["rdledm"]
    assert "relative CG residual" in blocks["cg-sense"] and "rim_model" in blocks["rim"]
    assert "coil_method" not in out[sec[order[0]]:out.index("simulation options")]   # shared: listed once, above
    assert "method auto: runs llr-tv or tv" in out
    assert "lam_llr" in blocks["llr-tv"] and "lam_tv" in blocks["llr-tv"] and "lam_llr" not in blocks["tv"]


def test_mri_recon_options_of_every_method_keep_todays_defaults():
    """The per-method defaults are those of the flat Config and params.DEFAULTS before the split (measured there)."""
    from sensekit.apps.mri_recon.app import Config
    from sensekit.apps.mri_recon.options import OPTIONS
    cfg = Config()
    assert OPTIONS.of(cfg, "rdledm").__dict__ == dict(max_iter=150, tol=1e-4, check_every=5, lam_tv=0.003,
                                                      lam_tt=0.0025, lam_nuc=0.0005, lam_nuc2=0.0001, beta=20.0)
    assert OPTIONS.of(cfg, "kt-slr").__dict__ == dict(max_iter=80, tol=1e-4, check_every=5, lam_tv=0.003,
                                                      lam_tt=0.0025, lam_nuc=0.002, p=1.0)
    assert OPTIONS.of(cfg, "ls").__dict__ == dict(max_iter=100, tol=1e-4, check_every=5, lam_l=0.03, lam_s=0.003,
                                                  momentum=False)
    assert OPTIONS.of(cfg, "auto") == OPTIONS.of(cfg, "llr-tv")      # the dynamic default (issue 10)
    # block None: chosen by the number of frames (params.llr_tv_block: 8 up to 32 frames, then 16)
    assert OPTIONS.of(cfg, "llr-tv").__dict__ == dict(max_iter=100, tol=1e-4, check_every=5, lam_llr=0.0005, block=None,
                                                      lam_tv=0.0015, lam_tt=0.00125)
    # the flat Config keeps the defaults it had before the split (what the provenance's options JSON records)
    assert config_dict(cfg) == dict(
        method="auto", coil_method="espirit", calib=24, espirit_kernel=6, espirit_thresh=0.02, espirit_crop=0.9,
        nufft_width=6, nufft_oversamp=2.0, dcf_iter=10,          # added with non-Cartesian input (extensions)
        max_iter=None, tol=1e-4, check_every=5, lam_tv=None, lam_tt=None, lam_nuc=None, lam_nuc2=None, beta=None,
        # block None: the methods differ (llr 8; llr-tv by the number of frames)
        lam_l=0.03, lam_s=0.003, momentum=False, p=1.0, lam_llr=None, block=None, lam_w=None, wavelet="db4", spin=2,
        lam=0.01, rim_model="")
    assert json.loads(json.dumps(config_dict(cfg), default=str))["method"] == "auto"
