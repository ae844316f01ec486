"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

from tests.conftest import ROOT


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """The last line of .ci/run appears verbatim as a command in the README."""
    command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```bash\n{command}\n```" in (ROOT / "README.md").read_text()


def test_readme_quickstart_study_exists() -> None:
    """The README's first command names a study file that is in the repository."""
    readme = (ROOT / "README.md").read_text()
    assert "trainlab run studies/quickstart.yaml" in readme
    assert (ROOT / "studies" / "quickstart.yaml").exists()
