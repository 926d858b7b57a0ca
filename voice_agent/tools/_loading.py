"""Find the tools in a user's file: a Python file or module, or an OpenAPI spec."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from voice_agent.errors import ConfigError
from voice_agent.tools._schema import is_langchain_tool
from voice_agent.tools._tool import Tool

__all__ = ["load_tool_objects"]

_SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:8]
    name = f"voice_agent_user_tools_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        where = traceback.extract_tb(e.__traceback__)[-1]
        raise ConfigError(
            f"the tools file {path} failed to import: {type(e).__name__}: {e} "
            f"(at {where.filename}:{where.lineno}); fix it and try again"
        ) from e
    return module


def load_tool_objects(target: str | Path) -> list[Any]:
    """The tool objects defined in ``target``, ready for ``ToolRegistry.register``.

    Args:
        target: a ``.py`` file or an importable module name (every ``@tool`` object and every
            LangChain tool at module level is taken, in definition order), or an OpenAPI
            ``.yaml``/``.json`` spec (returned as a path; register it with ``register_openapi``).

    Raises:
        ConfigError: the file does not exist, fails to import, or defines no tools.
    """
    path = Path(target)
    if path.suffix in _SPEC_SUFFIXES:
        if not path.is_file():
            raise ConfigError(f"no such OpenAPI spec: {path}")
        return [path]
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise ConfigError(f"no such tools file: {path}")
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(str(target))
        except Exception as e:
            raise ConfigError(
                f"{target!r} is neither a file nor an importable module: {type(e).__name__}: {e}"
            ) from e
    found = [
        obj for obj in vars(module).values() if isinstance(obj, Tool) or is_langchain_tool(obj)
    ]
    if not found:
        raise ConfigError(
            f"{target} defines no tools: decorate functions with @voice_agent.tool "
            "(or define LangChain tools) at module level"
        )
    return found
