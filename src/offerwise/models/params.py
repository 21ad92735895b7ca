"""Constructor parameters of the models as scikit-learn reads them, without importing it.

:class:`Params` gives a class whose ``__init__`` takes keyword arguments and stores each as an
attribute of the same name: ``get_params`` / ``set_params`` (the protocol ``sklearn.base.clone``
and grid searches use) and a ``Name(arg=value)`` repr of the arguments that differ from their
defaults. scikit-learn's ``BaseEstimator`` would import scikit-learn in every command
(:mod:`offerwise._lightgbm`).
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Params"]


class Params:
    """Mixin: ``get_params(deep=True) -> {name: value}`` over ``__init__``'s named arguments,
    ``set_params(**kw) -> self``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(
            n
            for n, p in sig.parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments as set on this object (``deep``: also ``name__param`` of
        arguments that have ``get_params`` themselves)."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Params:
        """Set constructor arguments (``name__param`` reaches a nested one); ValueError names an
        unknown one."""
        valid = set(self._param_names())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid ones: {sorted(valid)}"
                )
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        args = []
        for name in self._param_names():
            value = getattr(self, name, None)
            default = sig.parameters[name].default
            if default is inspect.Parameter.empty or not _same(value, default):
                args.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other objects without a plain truth value
        return a is b
