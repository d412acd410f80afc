"""The code's shape: no import cycles dodged inside functions, no upward imports, one JSONL
reader, one file hash, one version string. Checked on the source, so a regression fails here."""

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "newsstance"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, whether the import sits inside a function) for every import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, in_function))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


def test_polnear_and_tables_import_each_other_at_module_level_only():
    polnear = _imports(PACKAGE / "data" / "polnear.py")
    tables = _imports(PACKAGE / "data" / "tables.py")
    assert not any(m == "newsstance.data.tables" for m, _ in polnear)  # polnear needs nothing from tables
    assert ("newsstance.data.polnear", False) in tables
    assert not any(m.startswith("newsstance.data.") and inside for m, inside in polnear + tables)
    # and the modules load in either order in a fresh interpreter
    for first, second in (("polnear", "tables"), ("tables", "polnear")):
        code = f"import newsstance.data.{first}, newsstance.data.{second}"
        assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.mark.parametrize("path", sorted((PACKAGE / "evaluation").glob("*.py")), ids=lambda p: p.name)
def test_evaluation_never_imports_training(path):
    assert not [m for m, _ in _imports(path) if m.startswith("newsstance.training")]


def test_one_jsonl_reader_and_one_file_hash():
    from newsstance.data import tables
    from newsstance.files import iter_jsonl, sha256_file
    from newsstance.training import provenance

    assert tables.iter_jsonl is iter_jsonl and provenance.sha256_file is sha256_file
    for folder in ("data", "evaluation"):
        for path in (PACKAGE / folder).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "json.loads(line" not in text and "json.loads(l)" not in text, path
            assert "hashlib" not in text, path
    assert "hashlib" not in (PACKAGE / "training" / "provenance.py").read_text(encoding="utf-8")


def test_iter_jsonl_names_bad_lines_or_collects_them(tmp_path):
    from newsstance.errors import DataError
    from newsstance.files import iter_jsonl

    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n{"b": \n' + "[" * 100_000 + "\n" + '{"c": 3}\n')
    with pytest.raises(DataError, match=rf"{path}:3: expected a JSON object, got list"):
        list(iter_jsonl(path))
    problems: list[str] = []
    assert list(iter_jsonl(path, problems)) == [(1, {"a": 1}), (6, {"c": 3})]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "not valid JSON" in problems[1] and "nested too deeply" in problems[2]


def test_version_comes_from_the_installed_distribution():
    import newsstance

    assert newsstance.__version__ == importlib.metadata.version("newsstance")
    source = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    assert f'"{newsstance.__version__}"' not in source  # defined once, in pyproject.toml


def test_evaluation_uses_the_shared_defaults():
    import inspect

    from newsstance import defaults
    from newsstance.evaluation import baselines, bootstrap, report

    assert inspect.signature(report.evaluate_frames).parameters["seed"].default == defaults.SEED
    assert inspect.signature(report.evaluate_frames).parameters["batch_size"].default == defaults.BATCH_SIZE
    assert inspect.signature(report.predict_frame).parameters["batch_size"].default == defaults.BATCH_SIZE
    assert inspect.signature(bootstrap.bootstrap_ci).parameters["seed"].default == defaults.SEED
    assert inspect.signature(baselines.tfidf_logreg_baseline).parameters["seed"].default == defaults.SEED
    for path in (PACKAGE / "evaluation").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        literals = [d.value for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                    for d in f.args.defaults + f.args.kw_defaults if isinstance(d, ast.Constant)]
        assert 13 not in literals and 64 not in literals, path
