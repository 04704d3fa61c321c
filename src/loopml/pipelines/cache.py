"""Cache keys: a step is skipped when its key matches an earlier successful execution.

key = BLAKE3 of (step name, code version, input digests by argument, parameters, declared
environment). The code version is the step's ``version=`` when given; otherwise the source
of the step function and of every function or class it uses from the same project
(followed through their own globals, not into installed libraries), so editing a helper
re-runs the steps that call it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from blake3 import blake3

__all__ = ["cache_key", "code_version", "is_project_code", "param_digest"]


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["purelib"], paths["platlib"], sys.prefix, sys.base_prefix}
    return tuple(str(Path(p).resolve()) for p in roots)


def is_project_code(obj: Any) -> bool:
    """True for functions and classes defined outside the standard library and installed
    packages (the project's own code)."""
    try:
        file = inspect.getsourcefile(obj)
    except TypeError:
        return False
    if not file:
        return False
    path = str(Path(file).resolve())
    return not path.startswith(_library_roots()) and "site-packages" not in path


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return hashlib.sha256(code.co_code).hexdigest() if code is not None else repr(obj)


def _referenced(fn: Callable[..., Any]) -> list[Any]:
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    scope = getattr(fn, "__globals__", {})
    found = []
    for name in sorted(names):
        value = scope.get(name)
        if isinstance(value, (types.FunctionType, type)) and is_project_code(value):
            found.append(value)
    return found


def code_version(fn: Callable[..., Any], explicit: str | None = None) -> str:
    """The digest of a step's code (or of its explicit ``version``)."""
    if explicit is not None:
        return blake3(f"version:{explicit}".encode()).hexdigest()
    hasher = blake3()
    seen: set[int] = set()
    todo: list[Any] = [getattr(fn, "__wrapped__", fn)]
    while todo:
        obj = todo.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        hasher.update(f"{getattr(obj, '__qualname__', obj)}\0{_source(obj)}\0".encode())
        if isinstance(obj, types.FunctionType):
            todo.extend(_referenced(obj))
    return hasher.hexdigest()


def param_digest(value: Any) -> str:
    """A stable digest of a parameter: canonical JSON when it is JSON, else its pickle."""
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        import cloudpickle

        return "pickle:" + blake3(cloudpickle.dumps(value)).hexdigest()
    return "json:" + blake3(text.encode()).hexdigest()


def _environment(packages: Sequence[str]) -> dict[str, str]:
    if not packages:
        return {}
    import importlib.metadata

    found = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def cache_key(
    step_name: str,
    code: str,
    inputs: Mapping[str, str],
    params: Mapping[str, Any],
    environment: Sequence[str] = (),
) -> str:
    """The cache key of one execution (inputs: argument -> output digest)."""
    body = {
        "step": step_name,
        "code": code,
        "inputs": dict(sorted(inputs.items())),
        "params": {k: param_digest(v) for k, v in sorted(params.items())},
        "environment": _environment(environment),
    }
    return blake3(json.dumps(body, sort_keys=True).encode()).hexdigest()
