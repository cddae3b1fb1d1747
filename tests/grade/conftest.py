"""A handout built once for the grader's tests: its .handout/ is what grading uses;
its pristine copy, and the first 3A test, for the tests of single runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grade.points import LabTest, lab_tests
from grade.pristine import Pristine
from handout import build


@pytest.fixture(scope="session")
def handout_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def pristine(handout_root: Path) -> Pristine:
    return Pristine(handout_root / ".handout")


@pytest.fixture(scope="module")
def first_test(pristine: Pristine) -> LabTest:
    return lab_tests(pristine.lab_tests, ["3A"])[0]
