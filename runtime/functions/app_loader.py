"""Loading an app directory: ``schema.py`` plus every function module under ``functions/``.

Each ``functions/<dir>/<module>.py`` is imported as part of a fresh package (so relative imports
between an app's modules work, and two apps never collide in ``sys.modules``), and every
``FunctionDefinition`` it exports is named ``<dir>/<module>:<export>`` exactly as Convex names it.
``functions/http.py``, when present, must export an ``HttpRouter`` as ``http`` (its default export,
in Convex's words); anything else fails the load with Convex's message rather than serving 404s.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from runtime.functions.crons import Crons
from runtime.functions.definitions import FunctionDefinition, Kind
from runtime.functions.http_actions import HttpRouter
from runtime.functions.paths import canonical_path
from runtime.tokens.config import AuthConfig
from runtime.values.errors import FunctionNotFoundError
from runtime.values.schema import SchemaDefinition

_load_counter = itertools.count()
_KIND_NAMES = {"query": "Query", "mutation": "Mutation", "action": "Action"}


@dataclass
class App:
    """A loaded app: its schema (if any), its functions by path, and its HTTP router (if any)."""

    root: Path
    schema: SchemaDefinition | None
    functions: dict[str, FunctionDefinition] = field(default_factory=dict)
    http_router: HttpRouter | None = None
    modules: dict[str, ModuleType] = field(default_factory=dict)
    auth_config: AuthConfig | None = None  # from auth_config.py: the token issuers the app trusts
    crons: Crons | None = None  # from functions/crons.py, if the app declares any

    def lookup(self, path: str, *, kind: Kind | None = None, allow_internal: bool = False) -> FunctionDefinition:
        """The function at ``path`` (``.js`` suffixes and bare modules accepted), or Convex's error."""
        canonical = canonical_path(path)
        function = self.functions.get(canonical)
        if function is None or (function.is_internal and not allow_internal):
            raise FunctionNotFoundError(f"Could not find public function for '{canonical}'.")
        if kind is not None and function.kind != kind:
            module, name = canonical.split(":")
            raise FunctionNotFoundError(
                f"Trying to execute {module}.js:{name} as {_KIND_NAMES[kind]}, but it is defined as "
                f"{_KIND_NAMES[function.kind]}."
            )
        return function


def export_name(attribute: str, function: FunctionDefinition) -> str:
    """The name a function is exported under: explicit, or the attribute minus a trailing ``_``."""
    if function.export_name:
        return function.export_name
    return attribute[:-1] if attribute.endswith("_") and len(attribute) > 1 else attribute


def _import_file(name: str, path: Path, *, package_path: Path | None = None) -> ModuleType:
    if package_path is not None:
        spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=[str(package_path)])
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_schema(root: Path, package: str) -> SchemaDefinition | None:
    schema_file = root / "schema.py"
    if not schema_file.exists():
        return None
    module = _import_file(f"{package}_schema", schema_file)
    found = getattr(module, "schema", None)
    if isinstance(found, SchemaDefinition):
        return found
    candidates = [value for value in vars(module).values() if isinstance(value, SchemaDefinition)]
    if len(candidates) != 1:
        raise ValueError(f"{schema_file}: define exactly one schema, as `schema = define_schema({{...}})`")
    return candidates[0]


def _load_auth_config(root: Path, package: str) -> AuthConfig | None:
    # A file of its own, like Convex's auth.config.ts: configuration read before any function module.
    config_file = root / "auth_config.py"
    if not config_file.exists():
        return None
    found = getattr(_import_file(f"{package}_auth_config", config_file), "auth_config", None)
    if not isinstance(found, AuthConfig):
        raise TypeError(f"{config_file}: define `auth_config = AuthConfig(providers=[...])`")
    return found


def _function_modules(functions_dir: Path) -> list[tuple[str, Path]]:
    found = []
    for file in sorted(functions_dir.rglob("*.py")):
        relative = file.relative_to(functions_dir)
        if any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        found.append((relative.with_suffix("").as_posix(), file))
    return found


def load_app(root: Path | str) -> App:
    """Import ``root``'s schema and functions into a fresh namespace and register every function."""
    root = Path(root).resolve()
    functions_dir = root / "functions"
    if not functions_dir.is_dir():
        raise FileNotFoundError(f"{root} is not an app: it has no functions/ directory")
    package = f"opencom_app_{next(_load_counter)}"
    schema = _load_schema(root, package)
    init_file = functions_dir / "__init__.py"
    if init_file.exists():
        _import_file(package, init_file, package_path=functions_dir)
    else:
        spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
        spec.submodule_search_locations = [str(functions_dir)]
        sys.modules[package] = importlib.util.module_from_spec(spec)
    app = App(root=root, schema=schema, auth_config=_load_auth_config(root, package))
    for module_path, _ in _function_modules(functions_dir):
        module = importlib.import_module(f"{package}.{module_path.replace('/', '.')}")
        app.modules[module_path] = module
        for attribute, value in vars(module).items():
            if isinstance(value, FunctionDefinition):
                path = f"{module_path}:{export_name(attribute, value)}"
                if value.path is None:
                    value.path = path
                app.functions[path] = value
    if "http" in app.modules:
        app.http_router = _http_router(app.modules["http"])
    _load_crons(app)
    return app


def _http_router(module: ModuleType) -> HttpRouter:
    """The router ``functions/http.py`` exports, or Convex's error when it exports none."""
    if not hasattr(module, "http"):
        raise TypeError("`functions/http.py` must have a default export of a Router: define `http = HttpRouter()`.")
    if not isinstance(module.http, HttpRouter):
        raise TypeError("The default export of `functions/http.py` is not a Router.")
    return module.http


def _load_crons(app: App) -> None:
    """Take ``crons`` from ``functions/crons.py`` and check that every job names a mutation or action."""
    module = app.modules.get("crons")
    found = getattr(module, "crons", None) if module is not None else None
    if found is None:
        return
    if not isinstance(found, Crons):
        raise TypeError(f"{app.root / 'functions' / 'crons.py'}: define `crons = cron_jobs()`")
    for job in found.jobs.values():
        job.target(app.functions)
    app.crons = found
