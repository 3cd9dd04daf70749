"""Options: frozen dataclasses whose fields carry help, bounds and choices; per-method option sets.

One declaration feeds the CLI's ``--set`` and ``--config``, ``sensekit info``, the
HDF5 provenance and the gallery defaults.

Declaring options
-----------------
A field made with :func:`option` carries its help text, its choices and its bounds.
The annotation says how a ``--set`` string (or a ``--config`` JSON/TOML value) is
parsed; every parse error is one line naming the option and the expected form,
raised as :class:`~sensekit.io.errors.ConfigError` (exit 3):

=========================  ==========================================  ===============================
annotation                 ``--set`` form                              value
=========================  ==========================================  ===============================
``bool``                   ``true/false``, ``yes/no``, ``on/off``, 1/0  ``bool``
``int``                    ``12``, ``-3``, ``1e3`` (never ``2.5``)     ``int`` (64 bits)
``float``                  ``0.5``, ``1e-4`` (finite)                  ``float``
``str``                    anything                                    ``str``
``Optional[X]``            ``none``, ``null`` or empty, else as X      ``None`` or X
``tuple[X, Y]``            ``1,2`` (or ``(1, 2)``, ``[1, 2]``)         a tuple of exactly that length
``tuple[X, ...]``          ``a,b,c`` (empty: none)                     a tuple of any length
``list[X]``                as ``tuple[X, ...]``                        a list
``Literal["a", "b"]``      ``a``                                       the literal (implicit choices)
an ``enum.Enum`` subclass  the member's name or value                  the member (implicit choices)
=========================  ==========================================  ===============================

``min``, ``max`` and ``choices`` apply to every element of a tuple or list.

Per-method options
------------------
An app with several methods declares one frozen dataclass per method (the options
that method reads, with its own defaults, help and bounds) and one of the options
shared by every method, then builds the flat ``Config`` that ``--set`` fills
with :class:`MethodOptions`::

    @dataclasses.dataclass(frozen=True)
    class Shared:
        calib: int = option(24, "side of the calibration region", min=4)

    @dataclasses.dataclass(frozen=True)
    class TV:
        max_iter: int = option(150, "PDHG iterations", min=1)
        lam_tv: float = option(0.003, "spatial TV weight", min=0.0)

    OPTIONS = MethodOptions(option("tv", "reconstruction method"), Shared, {"tv": (TV, "total variation"), ...})
    Config = OPTIONS.flat_config("Config", __name__)

In the flat ``Config`` the selector (``method``) and the shared options are as
declared; an option of one or more methods is ``Optional`` (``--set X=none``: the
chosen method's default; a ``str`` option stays ``str`` unless its methods'
defaults differ): its default is the methods' default when they all agree, else
``None`` ("the chosen method's default"); its bounds and choices are the loosest of the methods' (the chosen
method's own are checked by :func:`make_config` and :meth:`MethodOptions.of`);
``unset=`` names options whose flat default is None even where the methods agree.
``OPTIONS.of(cfg)`` gives the chosen method's own frozen options object.
``--set`` of an option the chosen method does not read is ignored
(``unused="ignore"``) or refused (``unused="error"``).
"""
from __future__ import annotations

import dataclasses
import decimal
import enum
import functools
import math
import re
import typing
from typing import Sequence

from ..io.errors import ConfigError

_NONE = ("none", "null", "")


def option(default, help: str, *, choices: Sequence | None = None, min: float | None = None,
           max: float | None = None):
    """A Config field with its help text and constraints (stored in the field's metadata).

    Parameters
    ----------
    default : object
        The default value (a list default is copied for every instance).
    help : str
        One line shown by ``sensekit info``.
    choices : sequence, optional
        The allowed values (of every element, for a tuple or list option).
    min, max : float, optional
        Inclusive bounds (of every element, for a tuple or list option).

    Returns
    -------
    dataclasses.Field
        The field, for a frozen dataclass.
    """
    meta = {"help": help, "choices": tuple(choices) if choices else None, "min": min, "max": max}
    if isinstance(default, list):
        return dataclasses.field(default_factory=functools.partial(list, default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _field_type(cls, f):
    """The annotation of field ``f`` of ``cls`` (its default's type when it has none)."""
    return _hints(cls).get(f.name, type(field_default(f)))


def field_default(f: dataclasses.Field):
    """The default of a dataclass field (calling its ``default_factory``; ``MISSING`` when it has none).

    Parameters
    ----------
    f : dataclasses.Field
        The field.

    Returns
    -------
    object
        Its default value.
    """
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _strict_int(value) -> int:
    """An integer from an int, an integral float or a string (``12``, ``-3``, ``1e3``); ValueError otherwise.

    ``1.5e0`` or ``2.5`` are not integers (no silent truncation); ``1e400`` is an integer out of range.
    """
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, str):
        s = value.strip().replace("_", "")
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        try:
            d = decimal.Decimal(s)
        except decimal.InvalidOperation:
            raise ValueError from None
        if not d.is_finite() or d != d.to_integral_value():
            raise ValueError
        if abs(d) >= 2 ** 64:
            return 2 ** 64 if d > 0 else -2 ** 64   # out of range, reported by the caller
        return int(d)
    raise ValueError


def _optional_inner(typ):
    """X for ``Optional[X]`` (``X | None``), else None."""
    args = typing.get_args(typ)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return None


def _is_enum(typ) -> bool:
    return isinstance(typ, type) and issubclass(typ, enum.Enum)


def type_name(typ: object) -> str:
    """How ``info`` and the error messages name an option's type (``int``, ``tuple of 2 int``, ...).

    Parameters
    ----------
    typ : type
        The annotation.

    Returns
    -------
    str
        A short name.
    """
    inner = _optional_inner(typ)
    if inner is not None:
        return type_name(inner) + " or none"
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(set(args)) == 1:
                return f"{len(args)} comma-separated {type_name(args[0])}"
            return "comma-separated " + ", ".join(type_name(a) for a in args)
        el = args[0] if args else str
        return f"comma-separated list of {type_name(el)}"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if _is_enum(typ):
        return "one of " + ", ".join(m.name for m in typ)
    return getattr(typ, "__name__", str(typ)).replace("typing.", "")


def _bad(name, source, value, typ):
    return ConfigError(f"option '{name}' {source}: cannot read {value!r} as {type_name(typ)}")


def _split(value) -> list:
    """Items of a tuple/list option: a sequence as is, a string split at commas (brackets optional)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str):
        raise ValueError
    s = value.strip()
    if len(s) >= 2 and (s[0], s[-1]) in (("(", ")"), ("[", "]")):
        s = s[1:-1].strip()
    if not s:
        return []
    return [t.strip() for t in s.split(",")]


def parse_value(typ, value, name: str, source: str = "in --set"):
    """``value`` (a ``--set`` string or a JSON/TOML value) as an option of annotation ``typ``.

    Parameters
    ----------
    typ : type
        The annotation (see the module docstring for the supported forms).
    value : object
        The raw value.
    name : str
        The option's name (for the error message).
    source : str
        Where the value came from (for the error message), e.g. ``"in --set"``.

    Returns
    -------
    object
        The typed value.

    Raises
    ------
    ConfigError
        One line naming the option and the expected form.
    """
    inner = _optional_inner(typ)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return parse_value(inner, value, name, source)
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    try:
        if origin in (tuple, list):
            items = _split(value)
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(items) != len(args):
                    raise ConfigError(f"option '{name}' {source}: {value!r} has {len(items)} value(s), expected "
                                      f"{type_name(typ)}")
                out = [parse_value(a, v, name, source) for a, v in zip(args, items)]
            else:
                el = args[0] if args else str
                out = [parse_value(el, v, name, source) for v in items]
            return tuple(out) if origin is tuple else out
        if origin is typing.Literal:
            for a in args:
                if value == a or str(value).strip() == str(a):
                    return a
            raise ConfigError(f"option '{name}' {source}: {value!r} is not one of {', '.join(map(str, args))}")
        if _is_enum(typ):
            if isinstance(value, typ):
                return value
            s = str(value).strip()
            s = s.split(".", 1)[1] if s.startswith(typ.__name__ + ".") else s
            for m in typ:
                if s.lower() == m.name.lower() or s == str(m.value):
                    return m
            raise ConfigError(f"option '{name}' {source}: {value!r} is not one of "
                              f"{', '.join(m.name for m in typ)}")
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            v = _strict_int(value)
            if not -2 ** 63 <= v < 2 ** 63:
                raise ConfigError(f"option '{name}' {source}: {value!r} is out of range (an integer of at "
                                  f"most 64 bits)")
            return v
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
            if not math.isfinite(v):
                raise ValueError
            return v
        if typ is str:
            return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise _bad(name, source, value, typ) from None
    return value


def _elements(v) -> list:
    return list(v) if isinstance(v, (tuple, list)) else [v]


def check_constraints(f, v, source: str = "in --set", name: str | None = None) -> None:
    """Check the choices and bounds of field ``f`` on the typed value ``v`` (each element of a sequence).

    Parameters
    ----------
    f : dataclasses.Field
        The field, with :func:`option` metadata.
    v : object
        The typed value (None passes).
    source : str
        Where the value came from (for the error message).
    name : str, optional
        The option's name in the message (default: the field's).

    Raises
    ------
    ConfigError
        For a choice not offered or a number out of range.
    """
    key = name or f.name
    ch = f.metadata.get("choices")
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    for e in _elements(v):
        if e is None:
            continue
        if ch and e not in ch:
            raise ConfigError(f"option '{key}' {source}: {e!r} is not one of {', '.join(map(str, ch))}")
        if lo is not None and e < lo:
            raise ConfigError(f"option '{key}' {source}: {e} is below the minimum {lo}")
        if hi is not None and e > hi:
            raise ConfigError(f"option '{key}' {source}: {e} is above the maximum {hi}")


def _convert(cls, f, value, source: str):
    return parse_value(_field_type(cls, f), value, f.name, source)


def config_fields(cls: type) -> list:
    """The option fields of an options dataclass (names starting with ``_`` are private).

    Parameters
    ----------
    cls : type
        A dataclass.

    Returns
    -------
    list of dataclasses.Field
    """
    return [f for f in dataclasses.fields(cls) if not f.name.startswith("_")]


def describe_fields(cls: type) -> list[dict]:
    """``[{name, type, default, help, choices, min, max}]`` of an options dataclass, for ``info``.

    Parameters
    ----------
    cls : type
        An options dataclass.

    Returns
    -------
    list of dict
    """
    out = []
    for f in config_fields(cls):
        typ = _field_type(cls, f)
        choices = f.metadata.get("choices")
        if choices is None:
            base = _optional_inner(typ) or typ
            if typing.get_origin(base) is typing.Literal:
                choices = typing.get_args(base)
            elif _is_enum(base):
                choices = tuple(m.name for m in base)
        out.append({"name": f.name, "type": type_name(typ), "default": field_default(f),
                    "help": f.metadata.get("help", ""), "choices": choices, "min": f.metadata.get("min"),
                    "max": f.metadata.get("max")})
    return out


def make_config(cls, values: dict, source: str = "in --set"):
    """Build an options dataclass from ``{key: value}``, converting types and checking constraints.

    Parameters
    ----------
    cls : type
        The options dataclass (an app's ``Config``, ``SimConfig``, a method's options, ...).
    values : dict
        ``{option: value}`` (``-`` in a key reads as ``_``); values are strings or typed values.
    source : str
        Where the values came from, for the messages (``"in --set"``, ``"in c.json"``).

    Returns
    -------
    object
        The frozen instance.

    Raises
    ------
    ConfigError
        For an unknown key (listing the valid ones), a value of the wrong type, a
        choice not offered, or a number out of range; with per-method options
        (:meth:`MethodOptions.flat_config`) also for a value outside the chosen
        method's own bounds, or (``unused="error"``) an option it does not read.
    """
    fields = {f.name: f for f in config_fields(cls)}
    kwargs = {}
    for k, v in values.items():
        key = k.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"unknown option '{k}' {source}; expected one of: {', '.join(fields)}")
        f = fields[key]
        v = _convert(cls, f, v, source)
        check_constraints(f, v, source, key)
        kwargs[key] = v
    cfg = cls(**kwargs)
    mo = getattr(cls, "__method_options__", None)
    if mo is not None:
        mo.check(cfg, set(kwargs), source)
    return cfg


def config_dict(cfg: object) -> dict:
    """``{option: value}`` of an options dataclass instance (what provenance and ``info`` show).

    Parameters
    ----------
    cfg : object
        An options dataclass instance.

    Returns
    -------
    dict
    """
    return {f.name: getattr(cfg, f.name) for f in config_fields(type(cfg))}


def _same_field(a, b) -> bool:
    return field_default(a) == field_default(b) and a.metadata == b.metadata


class MethodOptions:
    """The options of an app with several methods: a selector, shared options and one frozen dataclass per method.

    Parameters
    ----------
    selector : dataclasses.Field
        The field that picks the method (made with :func:`option`; its choices default to
        the methods and aliases).
    shared : type or None
        Frozen dataclass of the options every method reads (e.g. coil maps).
    methods : dict
        ``{method: options dataclass}`` or ``{method: (options dataclass, description)}``.
        A method class may subclass ``shared`` (its instance then carries the shared options too).
    aliases : dict, optional
        ``{name: method}`` for selector values that run another method's options
        (e.g. ``{"auto": "tv"}``); a value may be a tuple of methods (the union of their options is allowed).
    unused : {"ignore", "error"}
        What ``--set`` of an option that the chosen method does not read does: accepted and
        ignored, or a :class:`ConfigError`. Setting an option to its flat default is never an error.
    name : str
        The selector's option name.
    unset : sequence of str
        Options whose flat default is None ("the chosen method's default") even where their methods
        agree on the default (so the provenance records that the method's default was used).

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class A:
    ...     n: int = option(3, "iterations", min=1)
    >>> @dataclasses.dataclass(frozen=True)
    ... class B:
    ...     n: int = option(5, "sweeps", min=2)
    ...     w: float = option(0.5, "weight")
    >>> mo = MethodOptions(option("a", "method"), None, {"a": A, "b": B})
    >>> C = mo.flat_config("C", __name__)
    >>> C().n is None, C().w
    (True, 0.5)
    >>> mo.of(make_config(C, {"method": "b"}))
    B(n=5, w=0.5)
    """

    def __init__(self, selector, shared, methods: dict, *, aliases: dict | None = None, unused: str = "ignore",
                 name: str = "method", unset: Sequence[str] = ()):
        if unused not in ("ignore", "error"):
            raise ValueError("unused must be 'ignore' or 'error'")
        self.name = name
        self.shared = shared
        self.methods = {m: (v if isinstance(v, tuple) else (v, "")) for m, v in methods.items()}
        self.aliases = dict(aliases or {})
        for a, target in self.aliases.items():
            for t in (target if isinstance(target, tuple) else (target,)):
                if t not in self.methods:
                    raise ValueError(f"alias {a!r} names the unknown method {t!r}")
        for k in unset:
            if not any(k in {f.name for f in config_fields(c)} for c, _ in self.methods.values()):
                raise ValueError(f"unset names {k!r}, an option of no method")
        self.unused = unused
        self.unset = tuple(unset)
        meta = dict(selector.metadata)
        if not meta.get("choices"):
            meta["choices"] = tuple(self.aliases) + tuple(self.methods)
        self.selector = dataclasses.field(default=selector.default, metadata=meta)
        self._shared_fields = {f.name: f for f in config_fields(shared)} if shared is not None else {}
        self._method_fields = {}     # name -> [(method, field, type)]
        for m, (cls, _) in self.methods.items():
            hints = _hints(cls)
            for f in config_fields(cls):
                if f.name in self._shared_fields:
                    if not _same_field(f, self._shared_fields[f.name]):
                        raise TypeError(f"method {m!r} redeclares the shared option {f.name!r}: declare it per "
                                        f"method instead")
                    continue
                if f.name == name:
                    raise TypeError(f"method {m!r} declares the selector {name!r} as an option")
                self._method_fields.setdefault(f.name, []).append((m, f, hints[f.name]))
        for k, decl in self._method_fields.items():
            base = {_optional_inner(t) or t for _, _, t in decl}
            if len(base) > 1:
                raise TypeError(f"option {k!r} has different types in methods "
                                f"{', '.join(m for m, _, _ in decl)}: rename it in one of them")

    # ---- declarations
    def method_class(self, method: str) -> type:
        """The options dataclass of ``method`` (an alias: that of the method it runs, the first if several).

        Parameters
        ----------
        method : str
            A method name or alias.

        Returns
        -------
        type
        """
        target = self.aliases.get(method, method)
        target = target[0] if isinstance(target, tuple) else target
        return self.methods[target][0]

    def reads(self, method: str) -> set:
        """The names of the options that ``method`` reads (shared ones included; an alias: those of its targets).

        Parameters
        ----------
        method : str
            A method name or alias.

        Returns
        -------
        set of str
        """
        target = self.aliases.get(method, method)
        out = set(self._shared_fields) | {self.name}
        for t in (target if isinstance(target, tuple) else (target,)):
            out |= {f.name for f in config_fields(self.methods[t][0])}
        return out

    def users(self, option_name: str) -> list:
        """The methods that read the (non-shared) option ``option_name``.

        Parameters
        ----------
        option_name : str
            An option name.

        Returns
        -------
        list of str
        """
        return [m for m, _, _ in self._method_fields.get(option_name, [])]

    def defaults_help(self, option_name: str) -> str:
        """``'default per method: tv 150, ls 100'`` for an option read by several methods.

        Parameters
        ----------
        option_name : str
            An option name.

        Returns
        -------
        str
        """
        parts = []
        for m, f, _ in self._method_fields.get(option_name, []):
            d = field_default(f)
            parts.append(f"{m} {d:g}" if isinstance(d, float) else f"{m} {d}")
        return "default per method: " + ", ".join(parts)

    def flat_config(self, name: str, module: str, doc: str | None = None) -> type:
        """The flat frozen ``Config`` that ``--set``, ``--config``, batch and provenance use.

        Parameters
        ----------
        name : str
            The class name; assign the result to that name in ``module`` (pickling finds it there).
        module : str
            The module that holds it (``__name__``).
        doc : str, optional
            Its docstring.

        Returns
        -------
        type
            A frozen dataclass: the selector, the shared options, then every method option
            (in the order the methods declare them) as described in the module docstring.
        """
        fields = [(self.name, str, self.selector)]
        for f in self._shared_fields.values():
            fields.append((f.name, _hints(self.shared)[f.name],
                           dataclasses.field(default=f.default, default_factory=f.default_factory,
                                             metadata=f.metadata)))
        for k, decl in self._method_fields.items():
            base = _optional_inner(decl[0][2]) or decl[0][2]
            defaults = [field_default(f) for _, f, _ in decl]
            default = defaults[0] if all(d == defaults[0] for d in defaults) and k not in self.unset else None
            if isinstance(default, list):
                default = tuple(default) if typing.get_origin(base) is not list else None
            mins = [f.metadata.get("min") for _, f, _ in decl]
            maxs = [f.metadata.get("max") for _, f, _ in decl]
            chs = [f.metadata.get("choices") for _, f, _ in decl]
            helps = []
            for m, f, _ in decl:
                h = f.metadata.get("help", "")
                for i, (ms, hh) in enumerate(helps):
                    if hh == h:
                        helps[i] = (ms + [m], h)
                        break
                else:
                    helps.append(([m], h))
            text = "; ".join(f"{'/'.join(ms)}: {h}" for ms, h in helps)
            if default is None and (len(decl) > 1 or k in self.unset):
                text += "; " + self.defaults_help(k)
            meta = {"help": text,
                    "choices": None if any(c is None for c in chs) else tuple(dict.fromkeys(c for cc in chs
                                                                                            for c in cc)),
                    "min": None if any(v is None for v in mins) else min(mins),
                    "max": None if any(v is None for v in maxs) else max(maxs),
                    "methods": tuple(m for m, _, _ in decl)}
            # None reads as "the chosen method's default"; a str option whose methods agree stays a plain str
            # ("none" is a valid string)
            typ = base if (base is str and default is not None) else typing.Optional[base]
            fields.append((k, typ, dataclasses.field(default=default, metadata=meta)))
        cls = dataclasses.make_dataclass(name, fields, frozen=True, namespace={"__module__": module})
        cls.__qualname__ = name
        cls.__doc__ = doc or (f"Flat options of --set (built by MethodOptions from the per-method option classes "
                              f"{', '.join(c.__name__ for c, _ in self.methods.values())}).")
        cls.__method_options__ = self
        return cls

    # ---- values
    def of(self, cfg, method: str | None = None, source: str = "in --set"):
        """The options object of ``method`` (default: the selected one) from a flat ``cfg``.

        Parameters
        ----------
        cfg : object
            An instance of the flat Config (or any object with the option attributes).
        method : str, optional
            The method (or alias) whose options to build; default ``cfg.<selector>``.
        source : str
            For the messages.

        Returns
        -------
        object
            The method's frozen options: the value of ``cfg`` where it is not None, else the
            method's own default; checked against the method's own bounds and choices.
        """
        method = getattr(cfg, self.name) if method is None else method
        cls = self.method_class(method)
        values = {}
        for f in config_fields(cls):
            v = getattr(cfg, f.name, None)
            if v is not None:
                values[f.name] = v
        return make_config(cls, values, source=f"{source} (method {method})")

    def check(self, cfg, given: set, source: str) -> None:
        """Check a flat ``cfg`` against the chosen method: its own bounds, and unused options (``unused="error"``).

        Parameters
        ----------
        cfg : object
            The flat Config instance.
        given : set of str
            The options that were set.
        source : str
            For the messages.

        Raises
        ------
        ConfigError
        """
        method = getattr(cfg, self.name)
        targets = self.aliases.get(method, method)
        for t in (targets if isinstance(targets, tuple) else (targets,)):
            self.of(cfg, t, source)
        if self.unused == "error":
            reads = self.reads(method)
            flat = {f.name: f for f in config_fields(type(cfg))}
            for k in sorted(given - reads):
                if getattr(cfg, k) != field_default(flat[k]):
                    raise ConfigError(f"option '{k}' {source} is not read by method '{method}' (it is an option "
                                      f"of {', '.join(self.users(k))}); options of {method}: "
                                      f"{', '.join(sorted(reads - {self.name}))}")

    def describe(self) -> dict:
        """``{"shared": [fields], "methods": {method: (description, [fields])}, "aliases": {...}}`` for ``info``.

        Returns
        -------
        dict
            Each list as :func:`describe_fields` gives it (shared options left out of the methods').
        """
        shared = describe_fields(self.shared) if self.shared is not None else []
        methods = {}
        for m, (cls, desc) in self.methods.items():
            methods[m] = (desc, [d for d in describe_fields(cls) if d["name"] not in self._shared_fields])
        return {"shared": shared, "methods": methods, "aliases": dict(self.aliases)}


def method_options_of(config_cls: type):
    """The :class:`MethodOptions` behind a flat Config, or None for a plain options dataclass.

    Parameters
    ----------
    config_cls : type
        An app's Config.

    Returns
    -------
    MethodOptions or None
    """
    return getattr(config_cls, "__method_options__", None)


def format_field(d: dict) -> str:
    """One ``info`` line of an option described by :func:`describe_fields`.

    Parameters
    ----------
    d : dict
        ``{name, type, default, help, choices, min, max}``.

    Returns
    -------
    str
        ``name (type, default X): help [one of ...; min ...; max ...]``.
    """
    extra = []
    if d["choices"]:
        extra.append("one of " + ", ".join(map(str, d["choices"])))
    if d["min"] is not None:
        extra.append(f"min {d['min']}")
    if d["max"] is not None:
        extra.append(f"max {d['max']}")
    ex = f" [{'; '.join(extra)}]" if extra else ""
    return f"{d['name']} ({d['type']}, default {d['default']!r}): {d['help']}{ex}"


def info_lines(cls, descriptions: dict | None = None) -> list[str]:
    """The ``sensekit info`` lines of an options class: flat, or grouped by method for a :class:`MethodOptions` Config.

    Parameters
    ----------
    cls : type
        An options dataclass (an app's Config, SimConfig, ...).
    descriptions : dict, optional
        The app's ``{method: one-line description}`` when ``info`` prints them already (then the
        headings leave out the descriptions given to :class:`MethodOptions`).

    Returns
    -------
    list of str
        Lines, indented by two spaces.
    """
    mo = method_options_of(cls)
    if mo is None:
        return ["  " + format_field(d) for d in describe_fields(cls)]
    flat = {d["name"]: d for d in describe_fields(cls)}
    info = mo.describe()
    lines = ["  " + format_field(flat[mo.name])]
    if info["shared"]:
        lines.append("  shared options (one value whichever method runs):")
        lines += ["    " + format_field(d) for d in info["shared"]]
    for a, t in info["aliases"].items():
        t = t if isinstance(t, tuple) else (t,)
        lines.append(f"  method {a}: runs {' or '.join(t)}, with {'their' if len(t) > 1 else 'its'} options")
    for m, (desc, fields) in info["methods"].items():
        desc = desc if descriptions is None else ""     # the app lists its methods' descriptions already
        lines.append(f"  method {m}" + (f" ({desc})" if desc else "") + ":")
        lines += ["    " + format_field(d) for d in fields] or ["    (no options of its own)"]
    varying = [k for k in mo._method_fields if flat[k]["default"] is None and (len(mo.users(k)) > 1 or k in mo.unset)]
    if varying:
        lines.append("  options whose default depends on the method (unset = the chosen method's):")
        lines += [f"    {k}: {mo.defaults_help(k)}" for k in varying]
    lines.append("  an option is set with the same KEY whichever method reads it; "
                 + ("one the chosen method does not read is accepted and ignored" if mo.unused == "ignore" else
                    "one the chosen method does not read is an error"))
    return lines
