"""Collect every benchmark module, run it, write ``results.json`` and a markdown table.

A benchmark is a module ``benchmarks/<name>.py`` exposing ``run(quick: bool = False) -> list[dict]``,
one dict per measurement with keys ``benchmark``, ``case``, ``method``, ``peer`` (bool: a peer library),
``time_s`` and quality keys (``psnr``, ``rel_err``, …); a peer that is not installed gives a row with
``skipped`` = reason.  An optional ``device`` key ("cpu", "cuda") marks device comparisons.

The markdown table shows, per benchmark, every row and for sensekit rows the time ratio against the
fastest peer of the same case and device (``> 1`` means sensekit is faster), plus a GPU-vs-CPU table
wherever the same (benchmark, case, method) was timed on both.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import math
import os
import pathlib
import platform
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
REQUIRED = ("benchmark", "case", "method", "peer")
_FIXED = ("benchmark", "case", "method", "peer", "device", "time_s", "skipped")


def discover(folder: pathlib.Path = HERE) -> dict:
    """``{name: module}`` for every ``<name>.py`` in ``folder`` (not starting with ``_``) that has ``run``."""
    found = {}
    for path in sorted(folder.glob("*.py")):
        name = path.stem
        if name.startswith("_"):
            continue
        if folder.resolve() == HERE:
            mod = importlib.import_module(f"benchmarks.{name}")
        else:
            spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        if callable(getattr(mod, "run", None)):
            found[name] = mod
    return found


def machine() -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:   # a busy machine slows every row alike: say how busy it was
        info["load_avg_1min"] = round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        pass
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover
        pass
    return info


def versions() -> dict:
    out = {}
    for name in ("sensekit", "torch", "numpy", "scipy", "h5py"):
        try:
            out[name] = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError:
            out[name] = None
    return out


def _check_rows(name: str, rows) -> list[dict]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"{name}.run() must return a list of dicts, got {type(rows).__name__}")
    out = []
    for r in rows:
        r = dict(r)
        r.setdefault("benchmark", name)
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise ValueError(f"{name}: a row lacks {', '.join(missing)}: {r}")
        if "skipped" not in r and not isinstance(r.get("time_s"), (int, float)):
            raise ValueError(f"{name}: a row without 'skipped' needs a numeric time_s: {r}")
        r["peer"] = bool(r["peer"])
        out.append(r)
    return out


def run_all(modules: dict, *, quick: bool = False, log=print) -> tuple[list, list]:
    """Run each module; returns (rows, errors).  A module that raises is recorded and the rest go on."""
    rows, errors = [], []
    for name, mod in modules.items():
        t0 = time.perf_counter()
        try:
            got = _check_rows(name, mod.run(quick=quick))
            rows.extend(got)
            log(f"{name}: {len(got)} rows in {time.perf_counter() - t0:.1f} s")
        except Exception as e:
            errors.append({"benchmark": name, "error": f"{type(e).__name__}: {e}",
                           "traceback": traceback.format_exc(limit=5)})
            log(f"{name}: FAILED ({type(e).__name__}: {e})")
    return rows, errors


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
    return "" if v is None else str(v)


def ratios(rows: list[dict]) -> dict:
    """For each sensekit row, (fastest peer's time / its time, that peer's method) in the same case and device."""
    out = {}
    for i, r in enumerate(rows):
        if r["peer"] or "skipped" in r:
            continue
        peers = [p for p in rows if p["peer"] and "skipped" not in p and p["benchmark"] == r["benchmark"]
                 and p["case"] == r["case"] and p.get("device") == r.get("device")]
        if peers and r["time_s"] > 0:
            best = min(peers, key=lambda p: p["time_s"])
            out[i] = (best["time_s"] / r["time_s"], best["method"])
    return out


def device_speedups(rows: list[dict]) -> list[tuple]:
    """(benchmark, case, method, cpu time, cuda time, speed-up) wherever both devices were timed."""
    timed = {}
    for r in rows:
        if "skipped" in r or r.get("device") is None:
            continue
        timed.setdefault((r["benchmark"], r["case"], r["method"]), {})[str(r["device"]).split(":")[0]] = r["time_s"]
    return [(*k, d["cpu"], d["cuda"], d["cpu"] / d["cuda"]) for k, d in timed.items()
            if "cpu" in d and "cuda" in d and d["cuda"] > 0]


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = ["# Benchmark results", "",
             f"Generated by `python -m benchmarks{' --quick' if result['quick'] else ''}` on {result['date']}.", "",
             "Machine: " + ", ".join(f"{k} {_fmt(v)}" for k, v in result["machine"].items()) + ".", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v) + ".", "",
             "Ratio = time of the fastest peer in the same case (and device) / time of the sensekit row "
             "(> 1: sensekit is faster).", ""]
    rat = ratios(rows)
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        sub = [(i, r) for i, r in enumerate(rows) if r["benchmark"] == bench]
        extra = [k for k in dict.fromkeys(k for _, r in sub for k in r) if k not in _FIXED]
        has_dev = any("device" in r for _, r in sub)
        head = ["case", "method", "peer"] + (["device"] if has_dev else []) + ["time (s)"] + extra + ["ratio", "note"]
        lines += [f"## {bench}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, r in sub:
            cells = [r["case"], r["method"], _fmt(r["peer"])] + ([_fmt(r.get("device"))] if has_dev else [])
            cells.append("" if "skipped" in r else _fmt(float(r["time_s"])))
            cells += [_fmt(r.get(k)) for k in extra]
            cells.append(f"{rat[i][0]:.2f}× vs {rat[i][1]}" if i in rat else "")
            cells.append(f"skipped: {r['skipped']}" if "skipped" in r else "")
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    sp = device_speedups(rows)
    if sp:
        lines += ["## GPU vs CPU", "", "| benchmark | case | method | CPU (s) | CUDA (s) | speed-up |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {b} | {c} | {m} | {_fmt(tc)} | {_fmt(tg)} | {s:.1f}× |" for b, c, m, tc, tg, s in sp]
        lines.append("")
    for e in result["errors"]:
        lines.append(f"**{e['benchmark']} failed**: {e['error']}")
    return "\n".join(lines).rstrip() + "\n"


def _atomic_write(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this benchmark (repeatable)")
    ap.add_argument("--out", default=str(HERE), help="folder for results.json and results.md (default: benchmarks/)")
    ap.add_argument("--dir", default=str(HERE), help=argparse.SUPPRESS)   # another folder of modules (tests)
    args = ap.parse_args(argv)
    modules = discover(pathlib.Path(args.dir))
    unknown = [n for n in args.only if n not in modules]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(modules)}")
    if args.only:
        modules = {n: m for n, m in modules.items() if n in args.only}
    rows, errors = run_all(modules, quick=args.quick, log=lambda s: print(s, file=sys.stderr, flush=True))
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "quick": args.quick, "benchmarks": list(modules), "machine": machine(), "versions": versions(),
              "rows": rows, "errors": errors}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "results.json", json.dumps(result, indent=1, default=str) + "\n")
    _atomic_write(out / "results.md", markdown(result))
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}", file=sys.stderr)
    return 1 if errors else 0
