"""Function paths as Convex writes them: ``<dir>/<module>:<export>``, and what a caller may pass for one.

Apart from the app loader, which imports the modules that name functions (crons, the scheduler under ``ctx``).
"""

from __future__ import annotations

import re

from runtime import knobs
from runtime.values.errors import FunctionNotFoundError
from runtime.values.validators import identifier_error

# Paths that need no closer look (every call resolves one): the slow checks say what is wrong.
_VALID_PATH = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9_]{0,63}(/[A-Za-z0-9][A-Za-z0-9_]{0,63})*:([A-Za-z][A-Za-z0-9_]{0,63})?"
)


def canonical_path(path: str) -> str:
    """``messages.js:list`` → ``messages:list``; ``messages`` → ``messages:default``.

    A path that cannot name a function gets the backend's message, naming the module without the
    ``.js`` it adds internally.
    """
    if not isinstance(path, str) or not path:
        raise FunctionNotFoundError(f"Invalid function path {path!r}")
    module, colon, name = path.rpartition(":")
    if not colon:
        module, name = path, ""
    module = module.removesuffix(".js")
    if not _VALID_PATH.fullmatch(f"{module}:{name}"):
        problem = _path_problem(module, name)
        if problem is not None:
            raise FunctionNotFoundError(f"{path} is not a valid path to a Convex function. {problem}")
    return f"{module}:{name or 'default'}"


def _path_problem(module: str, name: str) -> str | None:
    """What makes ``module:name`` unusable as a function path, in the backend's words, or None."""
    if module.startswith("/"):
        return f"Module paths must be relative ({module} is absolute)."
    for component in module.split("/"):
        if len(component) > knobs.MAX_IDENTIFIER_LENGTH:
            return (
                f"Path component is too long ({len(component)} > maximum {knobs.MAX_IDENTIFIER_LENGTH}): "
                f"{component[: knobs.MAX_IDENTIFIER_LENGTH]}..."
            )
        if not all((char.isascii() and char.isalnum()) or char in "_." for char in component):
            return f"Path component {component} can only contain alphanumeric characters, underscores, or periods."
        if not any(char.isascii() and char.isalnum() for char in component):
            return f"Path component {component} must have at least one alphanumeric character."
    return identifier_error(name) if name else None
