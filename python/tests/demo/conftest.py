from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fastapi import FastAPI
from writer_support import import_path

import_path()
_apps = itertools.count()


@pytest.fixture
def writer_app(tmp_path: Path) -> FastAPI:
    """A writer on a SQLite file of the test's own."""
    from writer import create_app  # noqa: PLC0415 - importable once the path is set

    return create_app(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'drafts.sqlite3'}",
        breaker_name=f"writer-large-{next(_apps)}",
    )
