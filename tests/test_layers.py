"""The package's layers (DEVELOPERS.md): analysis reads run folders and never imports the
training orchestrator or the command line, so it stays importable and testable on its own."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eraskit"
ANALYSIS = ("predictions", "captions", "run_figures", "tables", "publish", "plots", "gradcam",
            "gradcam_explorer", "sanity")


def kit_imports(module: str) -> set[str]:
    """The eraskit modules `module` imports, at its top or inside a function."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eraskit"):
            found.add(node.module.removeprefix("eraskit").lstrip(".") or node.names[0].name)
    return {name.split(".")[0] for name in found}


@pytest.mark.parametrize("module", ANALYSIS)
def test_analysis_never_imports_training_or_the_command_line(module):
    assert not kit_imports(module) & {"training_run", "lr_choice", "resume", "cli", "flags", "preflight", "bench"}, module
