"""The ``sensekit`` command line (CONTRACTS.md).

Exit codes: 0 success, 2 usage error (click), 3 bad input data or option
(one line on stderr, no traceback, no output file), 1 anything else.
Set ``SENSEKIT_DEBUG=1`` to see tracebacks of unexpected errors.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys

import click

from ._version import __version__


class _Exit3(Exception):
    pass


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


@contextlib.contextmanager
def _guard():
    from .io.errors import ConfigError, InputError
    try:
        yield
    except (ConfigError, InputError) as e:
        click.echo(f"error: {_one_line(e)}", err=True)
        sys.exit(3)
    except click.exceptions.Exit:
        raise
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # unexpected: one line unless debugging
        if os.environ.get("SENSEKIT_DEBUG"):
            raise
        click.echo(f"error: {type(e).__name__}: {_one_line(e)}", err=True)
        sys.exit(1)


def _parse_sets(pairs) -> dict:
    from .io.errors import ConfigError
    out = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"--set {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--set {p!r}: empty key")
        out[k.strip()] = v.strip()
    return out


def _read_config_file(path: str) -> dict:
    from .io.errors import ConfigError
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path}: file not found")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".json":
            with open(path) as fh:
                data = json.load(fh)
        elif ext == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                try:
                    import tomli as tomllib
                except ModuleNotFoundError:
                    raise ConfigError("--config: reading TOML on Python 3.10 needs the 'tomli' package") from None
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        else:
            raise ConfigError(f"--config {path}: expected a .json or .toml file")
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"--config {path}: cannot parse ({_one_line(e)[:120]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a table of options at the top level")
    return data


def _build_config(app, config_file, sets, method):
    from .app.base import make_config
    values = {}
    if config_file:
        values.update(_read_config_file(config_file))
    cfg = make_config(app.Config, values, source=f"in {config_file}") if values else None
    values.update(_parse_sets(sets))
    if method is not None:
        values["method"] = method
    cfg = make_config(app.Config, values, source="in --set/--method")
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sensekit")
def main():
    """sensekit: computational sensing and imaging apps on one torch core.

    \b
    sensekit apps                     list the apps
    sensekit info APP                 options, inputs and outputs of an app
    sensekit run APP [--input IN.h5] [-o OUT.h5] ...
    sensekit batch APP IN_DIR_OR_GLOB -o OUT_DIR [--workers N] [--resume]
    sensekit simulate APP -o OUT.h5   a synthetic input with references
    sensekit convert APP SRC -o OUT.h5  another format's file as an input
    sensekit gallery [-o DIR] [--quick]   every gallery figure, plus index.html
    sensekit export OUT.h5 -o FILE    a result as .mat, .cfl (BART), .npy, .png or .gif
    sensekit train APP -o MODEL_DIR   train an app's learned method
    """
    with _guard():
        from .host import keep_freed_memory
        from .io.errors import ConfigError
        try:    # a compute process: freed arrays stay in the heap for the next iteration (sensekit.host)
            keep_freed_memory()
        except ValueError as e:
            raise ConfigError(str(e)) from None


@main.command("apps")
def apps_cmd():
    """List every app, one line each."""
    from .app.registry import app_summaries
    rows = app_summaries()
    w = max(len(n) for n, _ in rows)
    for name, summary in rows:
        click.echo(f"{name:<{w}}  {summary}")


@main.command("info")
@click.argument("app_name", metavar="APP")
def info_cmd(app_name):
    """Show an app's methods, options, simulation options and datasets."""
    with _guard():
        from .app.options import info_lines
        from .app.registry import get_app
        app = get_app(app_name)
        click.echo(f"{app.name}: {app.summary}\n")
        if app.methods:
            click.echo("methods (--method):")
            for m, d in app.methods.items():
                click.echo(f"  {m:<14} {d}")
            click.echo("")

        def show(cls, title):
            click.echo(title)
            for line in info_lines(cls, app.methods if cls is app.Config else None):
                click.echo(line)
            click.echo("")

        show(app.Config, "options (run: --set KEY=VALUE):")
        if app.SimConfig is not None:
            show(app.SimConfig, "simulation options (simulate: --set KEY=VALUE):")
        if app.ConvertConfig is not None:
            show(app.ConvertConfig, "conversion options (convert: --set KEY=VALUE):")
        if app.TrainConfig is not None:
            show(app.TrainConfig, "training options (train: --set KEY=VALUE):")
        click.echo("input datasets:")
        for spec in app.inputs:
            click.echo(f"  {spec.describe()}")
        click.echo("\noutput datasets:")
        for spec in app.outputs:
            click.echo(f"  {spec.describe()}")


@main.command("run")
@click.argument("app_name", metavar="APP")
@click.option("--input", "input_path", type=click.Path(dir_okay=True), default=None,
              help="Input HDF5 file (default: the app's built-in simulation).")
@click.option("-o", "--output", "output_path", type=click.Path(), default=None, help="Output HDF5 file.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--method", default=None, help="Method (see `sensekit info APP`).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set an option (repeatable).")
@click.option("--config", "config_file", type=click.Path(), default=None, help="Options from a .json or .toml file.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, help="Write a figure (PNG/PDF/SVG).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of all random draws.")
@click.option("--threads", default=None, type=click.IntRange(1, 1024), metavar="N",
              help="torch CPU threads (default: OMP_NUM_THREADS if set, else torch's default: one per core).")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def run_cmd(app_name, input_path, output_path, device, method, sets, config_file, plot_path, seed, threads, quiet):
    """Run APP on an input file, or on its built-in synthetic default."""
    with _guard():
        from .app.registry import get_app
        from .app.runner import run_app, write_result, write_figure, check_paths, stream_run as run_stream
        from .app.progress import ProgressBar

        app = get_app(app_name)
        cfg = _build_config(app, config_file, sets, method)
        check_paths(input_path, output_path, plot_path)
        if plot_path:   # a bad figure name fails before the work, not after it
            from .app.runner import figure_format
            figure_format(plot_path)
        unsaved = input_path is not None and output_path is None

        def warn_unsaved():   # once the input is read and checked, before any work (never on a bad input)
            if unsaved:
                click.echo("warning: result not saved: add -o OUT.h5", err=True)
        _set_threads(threads)

        status = ProgressBar(1, app.name, enabled=False if quiet else None)   # setup phases before the bar

        def progress(i, n):
            status.clear()
            if i == 0:
                warn_unsaved()
            if quiet:
                return []
            # an app whose max_iter defaults per method (None) tells the real bound itself
            total = app.expected_iterations(cfg) if hasattr(app, "expected_iterations") else \
                (getattr(cfg, "max_iter", None) or 100)
            label = f"{app.name}" + (f" {i + 1}/{n}" if n > 1 else "")
            return [ProgressBar(total, label, t0=status.t0)]

        if app.stream_axis is not None and input_path is not None:
            # a streamed app reads and writes its file block by block (memory does not grow with its length)
            bar = ProgressBar(1, f"{app.name} blocks", enabled=False if quiet else None)

            def on_block(i, n, stop, length):
                bar.total = max(1, length)
                bar.label = f"{app.name}" + (f" {i + 1}/{n}" if n > 1 else "") + f" {app.stream_axis}"
                bar({"iter": stop})

            from .app.runner import device_of
            device_of(device)
            if not os.path.exists(input_path):
                from .io.errors import InputError
                raise InputError(f"{input_path}: file not found")
            warn_unsaved()
            try:
                res = run_stream(app, input_path=input_path, config=cfg, output_path=output_path,
                                 plot_path=plot_path, device=device, seed=seed, on_block=on_block)
            finally:
                bar.close()
        else:
            status.phase("loading input" if input_path else "simulating input")
            try:
                res = run_app(app, input_path=input_path, config=cfg, device=device, seed=seed,
                              callbacks_factory=progress)
            finally:
                status.clear()
            if plot_path:
                write_figure(app, res, plot_path, cfg)
            if output_path:
                write_result(app, res, output_path)
        if not quiet:
            p = res.provenance
            click.echo(f"{app.name}: method={p['method']} device={p['device']} samples={res.n_samples} "
                       f"iterations={p['iterations']} time={p['wall_time_s']:.2f}s threads={_threads_now()} "
                       f"input={p['input']}")
            if res.metrics:
                click.echo("metrics: " + " ".join(f"{k}={v:.4g}" for k, v in res.metrics.items()))
            if output_path:
                click.echo(f"wrote {output_path}")
            if plot_path:
                click.echo(f"wrote {plot_path}")


@main.command("batch")
@click.argument("app_name", metavar="APP")
@click.argument("inputs", metavar="IN_DIR_OR_GLOB")
@click.option("-o", "--output", "out_dir", type=click.Path(), required=True,
              help="Output folder (created if missing); outputs mirror the inputs' relative paths.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 512),
              help="Local worker processes (each gets cpu_count/N torch threads).")
@click.option("--resume", is_flag=True, help="Skip finished outputs and finished samples of interrupted files.")
@click.option("--overwrite", is_flag=True,
              help="Recompute and replace outputs already in OUT_DIR (without it, or --resume, a rerun refuses).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the per-file tasks on a Dask cluster (e.g. tcp://host:8786; needs the 'distributed' extra).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--method", default=None, help="Method (see `sensekit info APP`).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set an option (repeatable).")
@click.option("--config", "config_file", type=click.Path(), default=None, help="Options from a .json or .toml file.")
@click.option("--plot", "plot_fmt", default=None, type=click.Choice(["png", "pdf", "svg", "jpg"]),
              help="Also write each file's figure beside its output in this format.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of all random draws (sample i uses seed+i).")
@click.option("--threads", default=None, type=click.IntRange(1, 1024), metavar="N",
              help="torch CPU threads per worker process (default: OMP_NUM_THREADS if set, else cpu_count // workers).")
@click.option("--quiet", is_flag=True, help="No progress bar or summary table (failures are still listed).")
def batch_cmd(app_name, inputs, out_dir, workers, resume, overwrite, scheduler, device, method, sets, config_file,
              plot_fmt, seed, threads, quiet):
    """Run APP on every input file in a folder or glob, one output each; resumable.

    \b
    A corrupt or invalid file is reported and skipped. Interrupt (Ctrl-C, SIGTERM) and rerun with
    --resume: finished files and finished samples are kept, and the results are byte-identical to an
    uninterrupted run. A rerun over finished outputs without --resume refuses (exit 2) unless --overwrite.
    OUT_DIR/summary.json and summary.csv list every file (status, reason, metrics, seconds).
    Exit code: 0 all done or skipped, 2 usage, 3 when every failure is bad input, 1 other failures,
    128+signal when interrupted.
    """
    with _guard():
        from .app.registry import get_app
        from .app.batch import plan, summary_table, exit_code
        from .app.pool import run_tasks
        from .app.progress import BatchProgress
        from .app.runner import device_of

        app = get_app(app_name)
        cfg = _build_config(app, config_file, sets, method)
        if scheduler is None:
            device_of(device)   # a bad or absent device is exit 3 before any work (cluster workers decide their own)
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            from .io.errors import ConfigError
            raise ConfigError(f"-o {out_dir}: exists and is not a folder")
        if resume and overwrite:
            _usage_exit("--resume and --overwrite exclude each other (keep finished outputs, or replace them)")
        tasks = plan(app, inputs, out_dir, cfg, seed=seed, device=device, resume=resume, plot=plot_fmt)
        created = not os.path.isdir(out_dir)
        finished = [t for t in tasks if os.path.exists(t.output)]
        if finished and not (resume or overwrite):
            _usage_exit(f"-o {out_dir}: {len(finished)} of {len(tasks)} outputs already exist "
                        f"(e.g. {os.path.relpath(finished[0].output, out_dir)}); add --resume to keep them "
                        f"or --overwrite to replace them")
        os.makedirs(out_dir, exist_ok=True)
        _set_threads(threads, export=True)
        bar = BatchProgress(len(tasks), label=app.name, enabled=False if quiet else None)
        bar.names = {t.index: t.name for t in tasks}   # the file in hand is named on the line
        from .app.batch import Interrupted
        try:
            with _batch_lock(out_dir, created):
                reports, signum = run_tasks(tasks, workers=workers, scheduler=scheduler, on_event=bar)
        except Interrupted as e:   # a signal in the last instant, after every file was accounted for
            bar.close()
            click.echo("interrupted", err=True)
            sys.exit(128 + e.signum)
        bar.close()
        from .app.batch import write_summary
        write_summary(reports, out_dir, app=app.name)
        if quiet:
            for r in reports:
                if r.status in ("failed", "interrupted"):
                    click.echo(f"{r.status}: {r.name}: {r.reason}", err=True)
        else:
            click.echo(summary_table(reports))
        code = exit_code(reports, signum)
        if code:
            sys.exit(code)


def _batch_lock(out_dir, created=False):
    """One batch at a time per output folder, released only by its owner (see sensekit.app.batch.output_lock)."""
    from .app.batch import output_lock
    return output_lock(out_dir, created)


def _set_threads(threads: int | None, *, export: bool = False) -> None:
    """``--threads N``: torch's CPU threads in this process (and, with ``export``, in the batch's worker processes).

    Without it torch keeps its own choice, which follows ``OMP_NUM_THREADS`` when that is set; on a busy
    shared machine ``--threads 1`` (or ``OMP_NUM_THREADS=1``) avoids oversubscription.
    """
    if threads is None:
        return
    import torch
    torch.set_num_threads(int(threads))
    if export:   # spawned workers start torch with this count (sensekit.app.pool honours OMP_NUM_THREADS)
        os.environ["OMP_NUM_THREADS"] = str(int(threads))


def _threads_now() -> int:
    import torch
    return int(torch.get_num_threads())


def _usage_exit(msg: str):
    """A usage error as one line on stderr, exit 2 (click's code for usage errors)."""
    click.echo(f"error: {_one_line(msg)}", err=True)
    sys.exit(2)


@main.command("gallery")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default="gallery-out",
              show_default=True, help="Folder for the PNGs and index.html (created if missing).")
@click.option("--quick", is_flag=True, help="Small sizes and few iterations (sets SENSEKIT_GALLERY_QUICK=1).")
@click.option("--only", "only", multiple=True, metavar="PATTERN",
              help="Only scripts whose path (e.g. mri_recon/plot_masks.py) matches this glob (repeatable).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="Scripts run at once.")
@click.option("--timeout", default=900, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds allowed per script.")
@click.option("--quiet", is_flag=True, help="Only failures.")
def gallery_cmd(out_dir, quick, only, jobs, timeout, quiet):
    """Run every gallery script (each in its own process, Agg backend) and write the figures plus index.html."""
    with _guard():
        from .app.gallery import find_scripts, run_gallery

        scripts = find_scripts(only)
        if not scripts:
            from .io.errors import ConfigError
            raise ConfigError("no gallery scripts match " + (", ".join(only) if only else "(none installed)"))

        def report(res):
            if res.status == "failed" or not quiet:
                extra = f" ({res.message})" if res.message else ""
                click.echo(f"{res.status:<7} {res.seconds:6.1f}s  {res.rel}{extra}", err=res.status == "failed")

        results = run_gallery(scripts, out_dir, quick=quick, jobs=jobs, timeout=timeout, on_result=report)
        n_fail = sum(r.status == "failed" for r in results)
        if not quiet:
            n_ok = sum(r.status == "ok" for r in results)
            n_skip = sum(r.status == "skipped" for r in results)
            click.echo(f"{n_ok} ok, {n_skip} skipped, {n_fail} failed; "
                       f"wrote {os.path.join(out_dir, 'index.html')}")
        if n_fail:
            sys.exit(1)


@main.command("simulate")
@click.argument("app_name", metavar="APP")
@click.option("-o", "--output", "output_path", type=click.Path(), required=True, help="Output HDF5 file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a simulation option.")
@click.option("--seed", default=0, show_default=True, type=int)
def simulate_cmd(app_name, output_path, sets, seed):
    """Write a synthetic input for APP, with its reference datasets."""
    with _guard():
        from .app.base import make_config, config_dict
        from .app.registry import get_app
        from .app.runner import check_paths
        import numpy as np
        from .core.random import make_generator
        from .io.hdf5 import write_h5

        app = get_app(app_name)
        if app.SimConfig is None:
            from .io.errors import ConfigError
            raise ConfigError(f"{app.name} has no simulator")
        sim = make_config(app.SimConfig, _parse_sets(sets), source="in --set")
        check_paths(None, output_path, None)
        arrays, attrs = app.simulate(sim, make_generator(seed))
        datasets = {}
        for name, arr in arrays.items():
            try:
                axes = app.input_spec(name).layout_for(np.ndim(arr), np.shape(arr))
            except KeyError:
                axes = None
            datasets[name] = (arr, axes)
        prov = {"app": app.name, "simulation": json.dumps(config_dict(sim), default=str), "seed": seed,
                "sensekit_version": __version__}
        write_h5(output_path, datasets, groups={"provenance": prov}, dataset_attrs=attrs)
        click.echo(f"wrote {output_path}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items()))


@main.command("convert")
@click.argument("app_name", metavar="APP")
@click.argument("src", metavar="SRC", type=click.Path())
@click.option("-o", "--output", "output_path", type=click.Path(), required=True, help="Output HDF5 file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a conversion option (see `info APP`).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of simulated coils, masks and noise.")
@click.option("--matlab-order", "matlab_order", default="auto", show_default=True,
              type=click.Choice(["auto", "HW", "WH"]),
              help="MATLAB sources: HW = rows before columns (MATLAB's own size = [rows, columns, ...], the image "
                   "as imagesc shows it), WH = columns first (as row-major code leaves arrays); auto = the app's "
                   "default (mri-recon WH, unmix and rpca-video HW). Same as --set matlab_order=...")
def convert_cmd(app_name, src, output_path, sets, seed, matlab_order):
    """Convert SRC (MATLAB .mat v5/v7.3, BART .cfl/.hdr, fastMRI HDF5, ISMRMRD) into APP's HDF5 input.

    The format is detected from the file's content. Image-only sources become
    clearly labelled simulated acquisitions; `sensekit info APP` lists the options.
    A source that is plainly another app's kind of data (a hyperspectral cube for
    mri-recon) is refused with exit 3, naming the app it looks like.
    """
    with _guard():
        from .app.base import make_config, config_dict
        from .app.registry import get_app
        from .app.runner import check_paths
        from .core.random import make_generator
        from .io.errors import ConfigError
        from .io.formats import detect_format
        from .io.hdf5 import write_h5

        app = get_app(app_name)
        if app.ConvertConfig is None:
            raise ConfigError(f"{app.name} has no converter")
        values = _parse_sets(sets)
        if matlab_order != "auto":
            import dataclasses
            if "matlab_order" not in {f.name for f in dataclasses.fields(app.ConvertConfig)}:
                raise ConfigError(f"--matlab-order: {app.name}'s converter reads no MATLAB images")
            if values.get("matlab_order", matlab_order) != matlab_order:
                raise ConfigError(f"--matlab-order {matlab_order} and --set matlab_order={values['matlab_order']} "
                                  f"disagree")
            values["matlab_order"] = matlab_order
        cfg = make_config(app.ConvertConfig, values, source="in --set")
        check_paths(src, output_path, None)
        # an app that converts folders or other non-HDF5 sources names their kind itself (rpca-video)
        fmt = app.convert_format(src) if hasattr(app, "convert_format") else detect_format(src)
        from .app.kinds import check_kind
        check_kind(app, src, fmt)   # plainly another app's data: one line naming it, before any reading
        datasets, attrs = app.convert(src, fmt, cfg, make_generator(seed))
        notes = attrs.pop("descriptions", {})
        extra = attrs.pop("dataset_attrs", {})    # {dataset: {attr: value}} an app's converter may set
        dattrs = {k: {"description": v} for k, v in notes.items()}
        for k, v in extra.items():
            dattrs.setdefault(k, {}).update(v)
        prov = {"app": app.name, "converter": "sensekit convert", "options": json.dumps(config_dict(cfg), default=str),
                "seed": seed, "sensekit_version": __version__, **attrs}
        write_h5(output_path, datasets, attrs={k: v for k, v in attrs.items() if k in ("acquisition", "simulated")},
                 groups={"provenance": prov}, dataset_attrs=dattrs)
        click.echo(f"wrote {output_path} ({attrs.get('acquisition', fmt)}): "
                   + ", ".join(f"{k} {tuple(v.shape)}" for k, (v, _) in datasets.items()))


@main.command("export")
@click.argument("result", metavar="OUT.h5", type=click.Path())
@click.option("-o", "--output", "output_path", type=click.Path(), required=True,
              help="FILE.mat (every dataset), FILE.cfl (BART pair), FILE.npy, FILE.nii[.gz] (NIfTI, the 'nifti' "
                   "extra), FILE.png (one per frame) or FILE.gif.")
@click.option("--dataset", default=None, metavar="NAME",
              help="Dataset to export (default: the app's main output; for .mat: every dataset).")
def export_cmd(result, output_path, dataset):
    """Write a result file's dataset in another format (chosen by the extension of FILE).

    \b
    .mat  MATLAB v5, variables named and shaped as the datasets, plus 'axes' and 'metrics' structs
    .cfl  BART .cfl/.hdr; named axes go to BART's dimensions (X 0, Y 1, Z 2, C 3, T 10, N 13)
    .npy  NumPy, dtype and shape unchanged
    .nii  NIfTI-1 (.nii or .nii.gz; needs the 'nifti' extra, nibabel): float32 magnitude,
          axes X,Y,Z,T; voxel size from a voxel_size_mm attribute, else 1 mm; row 0 at the top
    .png  magnitude, 8-bit, white = 99.5th percentile; a series gives FILE-0000.png, FILE-0001.png, ...
    .gif  the same frames as an animation
    """
    with _guard():
        from .app.export import export
        written = export(result, output_path, dataset=dataset)
        shown = written if len(written) <= 3 else [written[0], "...", written[-1]]
        click.echo(f"wrote {', '.join(shown)}" + (f" ({len(written)} files)" if len(written) > 3 else ""))


@main.command("train")
@click.argument("app_name", metavar="APP")
@click.option("-o", "--output", "output_dir", type=click.Path(), default=None,
              help="Folder for the trained model (model.pt + model.json) and its resumable checkpoint "
                   "(default: ./APP-model).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Set a training option (repeatable; see `sensekit info APP`).")
@click.option("--config", "config_file", type=click.Path(), default=None, help="Options from a .json or .toml file.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the initial weights and of every simulated training problem.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in the output folder.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def train_cmd(app_name, output_dir, sets, config_file, seed, device, resume, quiet):
    """Train APP's learned method on simulated data (and optional image files).

    Use the result with `sensekit run APP --set rim_model=MODEL_DIR` (mri-recon).
    """
    with _guard():
        from .app.base import make_config
        from .app.progress import ProgressBar
        from .app.registry import get_app
        from .core.device import resolve_device
        from .io.errors import ConfigError

        app = get_app(app_name)
        if app.TrainConfig is None:
            raise ConfigError(f"{app.name} has nothing to train")
        values = _read_config_file(config_file) if config_file else {}
        values.update(_parse_sets(sets))
        cfg = make_config(app.TrainConfig, values, source="in --set/--config")
        try:
            dev = resolve_device(device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        out = output_dir or f"{app.name}-model"
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise ConfigError(f"-o {out}: folder {parent} does not exist")
        if os.path.exists(out) and not os.path.isdir(out):
            raise ConfigError(f"-o {out}: exists and is not a folder")
        if not resume and os.path.exists(os.path.join(out, "model.pt")):
            raise ConfigError(f"-o {out}: already holds a trained model; choose another folder (or --resume)")
        created = not os.path.isdir(out)
        os.makedirs(out, exist_ok=True)
        bar = ProgressBar(getattr(cfg, "iterations", 1), f"{app.name} train", enabled=None if not quiet else False)
        command = "sensekit train " + " ".join([app.name, *(f"--set {s}" for s in sets), f"--seed {seed}"])
        try:
            card = app.train(cfg, out, seed=seed, device=dev, callbacks=[bar], resume=resume, command=command)
        except BaseException:
            if created and not os.listdir(out):
                os.rmdir(out)
            raise
        finally:
            bar.close()
        if not quiet:
            metric = card.get("val_metric", "val_psnr")      # the app's own validation metric
            click.echo(f"{app.name}: trained {card.get('method', 'model')} ({card.get('parameters', '?')} parameters) "
                       f"iterations={card.get('iterations')} time={card.get('train_seconds')}s "
                       f"loss={card.get('final_loss', float('nan')):.4g} "
                       f"{metric}={card.get(metric, float('nan')):{'.2f' if 'psnr' in metric else '.4g'}}")
            click.echo(f"wrote {os.path.join(out, 'model.pt')} and model.json")


if __name__ == "__main__":  # pragma: no cover
    main()
