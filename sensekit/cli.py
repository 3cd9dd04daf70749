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
    sensekit simulate APP -o OUT.h5   a synthetic input with references
    sensekit convert APP SRC -o OUT.h5  another format's file as an input
    sensekit train APP -o MODEL_DIR   train an app's learned method
    """


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
        from .app.base import describe_fields
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
            for f in describe_fields(cls):
                extra = []
                if f["choices"]:
                    extra.append("one of " + ", ".join(map(str, f["choices"])))
                if f["min"] is not None:
                    extra.append(f"min {f['min']}")
                if f["max"] is not None:
                    extra.append(f"max {f['max']}")
                ex = f" [{'; '.join(extra)}]" if extra else ""
                click.echo(f"  {f['name']} ({f['type']}, default {f['default']!r}): {f['help']}{ex}")
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
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def run_cmd(app_name, input_path, output_path, device, method, sets, config_file, plot_path, seed, quiet):
    """Run APP on an input file, or on its built-in synthetic default."""
    with _guard():
        from .app.registry import get_app
        from .app.runner import run_app, write_result, write_figure, check_paths
        from .app.progress import ProgressBar

        app = get_app(app_name)
        cfg = _build_config(app, config_file, sets, method)
        check_paths(input_path, output_path, plot_path)

        def progress(i, n):
            if quiet:
                return []
            total = getattr(cfg, "max_iter", 100)
            label = f"{app.name}" + (f" {i + 1}/{n}" if n > 1 else "")
            return [ProgressBar(total, label)]

        res = run_app(app, input_path=input_path, config=cfg, device=device, seed=seed,
                      callbacks_factory=progress)
        if plot_path:
            write_figure(app, res, plot_path, cfg)
        if output_path:
            write_result(app, res, output_path)
        if not quiet:
            p = res.provenance
            click.echo(f"{app.name}: method={p['method']} device={p['device']} samples={res.n_samples} "
                       f"iterations={p['iterations']} time={p['wall_time_s']:.2f}s input={p['input']}")
            if res.metrics:
                click.echo("metrics: " + " ".join(f"{k}={v:.4g}" for k, v in res.metrics.items()))
            if output_path:
                click.echo(f"wrote {output_path}")
            if plot_path:
                click.echo(f"wrote {plot_path}")


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
                axes = app.input_spec(name).layouts[0]
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
def convert_cmd(app_name, src, output_path, sets, seed):
    """Convert SRC (MATLAB .mat v5/v7.3, BART .cfl/.hdr, fastMRI HDF5, ISMRMRD) into APP's HDF5 input.

    The format is detected from the file's content. Image-only sources become
    clearly labelled simulated acquisitions; `sensekit info APP` lists the options.
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
        cfg = make_config(app.ConvertConfig, _parse_sets(sets), source="in --set")
        check_paths(src, output_path, None)
        fmt = detect_format(src)
        datasets, attrs = app.convert(src, fmt, cfg, make_generator(seed))
        notes = attrs.pop("descriptions", {})
        prov = {"app": app.name, "converter": "sensekit convert", "options": json.dumps(config_dict(cfg), default=str),
                "seed": seed, "sensekit_version": __version__, **attrs}
        write_h5(output_path, datasets, attrs={k: v for k, v in attrs.items() if k in ("acquisition", "simulated")},
                 groups={"provenance": prov}, dataset_attrs={k: {"description": v} for k, v in notes.items()})
        click.echo(f"wrote {output_path} ({attrs.get('acquisition', fmt)}): "
                   + ", ".join(f"{k} {tuple(v.shape)}" for k, (v, _) in datasets.items()))


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
            click.echo(f"{app.name}: trained {card.get('method', 'model')} ({card.get('parameters', '?')} parameters) "
                       f"iterations={card.get('iterations')} time={card.get('train_seconds')}s "
                       f"loss={card.get('final_loss', float('nan')):.4g} val_psnr={card.get('val_psnr', float('nan')):.2f}")
            click.echo(f"wrote {os.path.join(out, 'model.pt')} and model.json")


if __name__ == "__main__":  # pragma: no cover
    main()
