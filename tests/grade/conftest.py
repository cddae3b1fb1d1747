"""A handout built once for the grader's tests: its .handout/ is what grading uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from handout import build


@pytest.fixture(scope="session")
def handout_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))
