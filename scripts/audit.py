#!/usr/bin/env python3
"""`make audit`: every pinned dependency (requirements/lock.txt) against the known
vulnerabilities, with pip-audit.

pip-audit asks a vulnerability service about each package version (by default PyPI's
JSON API; `--service osv` for OSV). pip-audit itself reports a package it could not look
up as "skipped" and still says "No known vulnerabilities found". This wrapper does not:

  exit 0  every dependency was checked, none has a known vulnerability
  exit 1  a dependency has a known vulnerability (the fix versions are listed)
  exit 2  some dependencies could not be checked
  exit 3  the vulnerability service could not be reached at all: NOTHING was checked

`--unreachable-ok` turns exit 3 into a loud warning and exit 0 (for CI on machines that
cannot reach the service); a vulnerability always fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"])
    parser.add_argument("--unreachable-ok", action="store_true")
    args = parser.parse_args()

    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(LOCK),
        "--require-hashes",
        "--disable-pip",  # the lock file pins everything: no resolver, no venv needed
        "--vulnerability-service",
        args.service,
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        last_lines = "\n".join(result.stderr.strip().splitlines()[-3:])
        message = (
            f"make audit: pip-audit could not reach the vulnerability service ({args.service}), "
            f"so NOTHING was checked:\n{last_lines}"
        )
        if args.unreachable_ok:
            return _warn_unreachable(message)
        say(message, error=True)
        return 3

    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = len(dependencies) - len(skipped)

    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            say(
                f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} "
                f"(fixed in: {fixes})"
            )
    if vulnerable:
        say(
            f"make audit: {len(vulnerable)} vulnerable dependenc(y/ies). Upgrade them in "
            "requirements/*.in or pin the fixed version, then `make lock`."
        )
        return 1

    if dependencies and not audited:
        reason = skipped[0]["skip_reason"]
        message = (
            f"make audit: the vulnerability service ({args.service}) could not be used for any "
            f"of the {len(dependencies)} dependencies, so NOTHING was checked. First reason "
            f"given: {reason}"
        )
        if args.unreachable_ok:
            return _warn_unreachable(message)
        say(message, error=True)
        return 3

    if skipped:
        for dependency in skipped:
            say(f"NOT CHECKED {dependency['name']}: {dependency['skip_reason']}", error=True)
        say(
            f"make audit: {len(skipped)} of {len(dependencies)} dependencies not checked.",
            error=True,
        )
        return 2

    say(f"make audit: {audited} dependencies checked ({args.service}), no known vulnerabilities.")
    return 0


def say(message: str, *, error: bool = False) -> None:
    (sys.stderr if error else sys.stdout).write(message + "\n")


def _warn_unreachable(message: str) -> int:
    banner = "!" * 78
    say(
        f"{banner}\nWARNING: dependency audit NOT performed.\n{message.strip()}\n{banner}",
        error=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
