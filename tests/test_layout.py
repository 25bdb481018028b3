"""The library's layout holds: imports run one way through the stages, and the library stays headless.

ARCHITECTURE.md names the stages; this test is what keeps them honest.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MGC = ROOT / "mgc"
#: The stages in data-flow order: a module may import its own stage and those before it, never one after.
STAGES = ("audio", "dataset", "features", "models", "runs", "training", "analysis", "plots", "cli")


def _stage(module: str) -> int:
    """0 for ``mgc`` and the modules under every stage (config, errors, backend, fileio), else 1 + the stage's index."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in ("config", "errors", "backend", "fileio", "__init__"):
        return 0
    if parts[1] == "__main__":
        return len(STAGES)
    return 1 + STAGES.index(parts[1])


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((node.lineno, target))
    return out


def test_no_module_imports_a_later_stage_or_streamlit():
    wrong = []
    for path in sorted(MGC.rglob("*.py")):
        source = _module_of(path)
        for line, target in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if target.split(".")[0] in ("streamlit", "dashboard"):
                wrong.append(where + " (the library never imports the dashboard's side)")
            elif target.split(".")[0] == "mgc" and _stage(target) > _stage(source):
                wrong.append(where + " (a later stage)")
    assert wrong == []


def test_every_library_module_imports_without_tensorflow_or_streamlit():
    modules = sorted(_module_of(p) for p in MGC.rglob("*.py") if p.name != "__main__.py")
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(k for k in ('tensorflow', 'keras', 'streamlit') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_pages_folder_beside_the_entry_point():
    """Streamlit discovers a ``pages/`` folder beside ``app.py`` by itself, besides ``st.navigation``'s pages:
    a first visit to a page's URL on a fresh server then showed a menu of raw file names (app, classify, ...)."""
    assert not (ROOT / "pages").exists()
    routed = {p.name for p in (ROOT / "views").glob("*.py")}
    assert routed == {"home.py", "explore.py", "train.py", "results.py", "classify.py"}
    app = (ROOT / "app.py").read_text()
    assert all(f'"views/{name}"' in app for name in routed)
