"""The layers, checked on every import statement of the shipped packages.

* the core (``pipeline_secrets`` outside ``tools``) imports neither integration nor
  the tooling;
* ``airflow_plugin`` and ``glue_lib`` never import each other, nor the tooling
  (tooling sits on top and may import any layer);
* nobody imports a private name (``_x``) of another top-level package.

A static check (the AST of every module), so it also covers imports inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = "pipeline_secrets.tools"
UI = "airflow_plugin.ui"  # the Airflow UI plugin: tooling that runs in the api-server

# layer -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "pipeline_secrets": ("airflow_plugin", "glue_lib", "airflow", "pyspark", TOOLS),
    "airflow_plugin": ("glue_lib", TOOLS, UI),
    "glue_lib": ("airflow_plugin", "airflow", TOOLS),
    # Tooling sits on top: it may use any layer (migrate reads Airflow formats).
    TOOLS: (),
    UI: ("glue_lib",),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    if module == TOOLS or module.startswith(TOOLS + "."):
        return TOOLS
    if module == UI or module.startswith(UI + "."):
        return UI
    return module.split(".")[0]


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = (package or _module_name(path)).split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            yield node.lineno, module, [a.name for a in node.names]


def _modules() -> list[Path]:
    files: list[Path] = []
    for package in ("pipeline_secrets", "airflow_plugin", "glue_lib"):
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return files


def _violations() -> list[str]:
    found = []
    for path in _modules():
        layer = _layer(_module_name(path))
        for line, module, names in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            for banned in FORBIDDEN[layer]:
                if module == banned or module.startswith(banned + "."):
                    found.append(f"{where}: {layer} imports {module}")
            top = module.split(".")[0]
            if (
                top in {"pipeline_secrets", "airflow_plugin", "glue_lib"}
                and top != layer.split(".")[0]
            ):
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                private_module = [p for p in module.split(".") if p.startswith("_")]
                if private or private_module:
                    found.append(f"{where}: private name across packages: {module} {private}")
    return found


def test_layers_hold() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("layer", "module"),
    [
        ("pipeline_secrets", "airflow_plugin.secrets_manager"),
        ("glue_lib", "pipeline_secrets.tools.cli"),
        ("airflow_plugin", "glue_lib.spark_options"),
        ("airflow_plugin", "airflow_plugin.ui.app"),
        ("airflow_plugin.ui", "glue_lib.spark_options"),
    ],
)
def test_the_check_can_fail(layer: str, module: str) -> None:
    banned = FORBIDDEN[layer]
    assert any(module == b or module.startswith(b + ".") for b in banned)
