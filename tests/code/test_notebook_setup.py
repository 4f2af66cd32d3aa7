"""The notebooks' shared setup: their defaults come from the settings, relative to the project, written once."""

from __future__ import annotations

from pathlib import Path

from workflow.notebook import notebook_context, project_root


def test_defaults_are_the_projects_and_pages_go_to_out_notebooks(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    for name in ("CHURN_WORKDIR", "CHURN_DATA", "CHURN_DEMO_ACCOUNTS", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    context = notebook_context(tmp_path / "notebooks")
    assert project_root(tmp_path / "notebooks") == tmp_path.resolve()
    assert context.workdir == tmp_path.resolve()
    assert context.data_dir == tmp_path.resolve() / "data" / "demo"
    assert context.out_dir == tmp_path.resolve() / "out" / "notebooks"
    assert context.tracking_uri is None and context.demo_accounts == 3000


def test_a_workdir_from_the_settings_is_the_notebooks_own_folder(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("CHURN_WORKDIR", "out/notebooks")
    monkeypatch.setenv("CHURN_DATA", str(tmp_path / "export"))
    monkeypatch.setenv("CHURN_DEMO_ACCOUNTS", "600")
    context = notebook_context(tmp_path)
    assert context.workdir == context.out_dir == (tmp_path / "out" / "notebooks").resolve()
    assert context.data_dir == Path(tmp_path / "export").resolve() and context.demo_accounts == 600
