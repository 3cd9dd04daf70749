"""Apps: the base class, the option machinery, the registry and the runner.

Attributes are imported lazily so that the registry (and ``sensekit apps``)
does not pull in torch.
"""
import importlib

_ATTRS = {
    "App": "base", "RunOutput": "base", "option": "base", "make_config": "base", "config_dict": "base",
    "describe_fields": "base", "APPS": "registry", "get_app": "registry", "app_names": "registry",
    "app_summaries": "registry", "register": "registry", "StreamInfo": "base", "MethodOptions": "options",
}

__all__ = sorted(_ATTRS)


def __getattr__(name):
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
