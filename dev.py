#!/usr/bin/env python3
"""Run this repository's nox sessions, installing nox on first use.

    python3 dev.py              every check, as CI runs them
    python3 dev.py -s demo      serve the demo app on 127.0.0.1:8000
    python3 dev.py --list       what else there is

Arguments are passed to nox unchanged. nox and uv are installed into a
private virtual environment under .nox/, so nothing outside this checkout is
touched; with nox already installed, ``nox`` does the same as this script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENV = ROOT / ".nox" / "_dev"
REQUIREMENT = "nox[uv]>=2025.2.9"


def _python() -> Path:
    return ENV / ("Scripts" if os.name == "nt" else "bin") / "python"


def _ensure_nox() -> None:
    stamp = ENV / "requirement.txt"
    if _python().exists() and stamp.is_file() and stamp.read_text() == REQUIREMENT:
        return
    print(f"dev.py: installing {REQUIREMENT} into {ENV} (first run only)")
    venv.create(ENV, with_pip=True, clear=True)
    subprocess.run(
        [_python(), "-m", "pip", "install", "--quiet", REQUIREMENT], check=True
    )
    stamp.write_text(REQUIREMENT)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs before any check
        found = ".".join(map(str, sys.version_info[:3]))
        print(f"dev.py: hiccup needs Python 3.11 or newer, not {found}")
        return 2
    _ensure_nox()
    command = [_python(), "-m", "nox", "-f", ROOT / "noxfile.py", *sys.argv[1:]]

    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
