"""The interpreter pin: production refuses a Python whose zipfile misreads ZIP64 archives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.core.checks import Error, Warning

from msdportaal.deliveries.checks import check_python_zipfile, zipfile_is_fixed


def test_known_bad_and_fixed_releases():
    assert not zipfile_is_fixed((3, 13, 0))
    assert not zipfile_is_fixed((3, 13, 8))
    assert zipfile_is_fixed((3, 13, 9))
    assert not zipfile_is_fixed((3, 12, 11))
    assert zipfile_is_fixed((3, 12, 12))
    assert not zipfile_is_fixed((3, 14, 0))
    assert zipfile_is_fixed((3, 15, 0))
    assert not zipfile_is_fixed((3, 8, 20))


def test_an_error_in_production_and_a_warning_elsewhere(settings):
    settings.IS_PRODUCTION_LIKE = True
    (problem,) = check_python_zipfile(None, version=(3, 13, 0))
    assert isinstance(problem, Error)
    assert problem.id == "msdportaal.E010"
    assert "CVE-2025-8291" in problem.msg
    assert check_python_zipfile(None, version=(3, 13, 9)) == []
    settings.IS_PRODUCTION_LIKE = False
    (problem,) = check_python_zipfile(None, version=(3, 13, 0))
    assert isinstance(problem, Warning)
    assert problem.id == "msdportaal.W010"


def test_manage_py_check_reports_this_interpreter():
    """Through Django's own check framework, on the Python that runs the tests."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[4],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "msdportaal.conf.test_settings"},
        timeout=120,
    )
    output = result.stdout + result.stderr
    if zipfile_is_fixed(tuple(sys.version_info[:3])):
        assert "msdportaal.W010" not in output
        assert result.returncode == 0
    else:
        assert "msdportaal.W010" in output
        assert result.returncode == 0  # a warning: development and tests keep running
