"""Access to the JSON Schemas of ``contracts/schema``.

A wheel carries them inside the package as ``hiccup/_schema``; a checkout (an
editable install included) reads them from the repository's ``contracts``
folder, so there is one copy of each schema to edit.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

__all__ = ["SCHEMA_NAMES", "load_schema", "schema_dir"]

SCHEMA_NAMES = ("errors", "envelope", "log-record", "health")


def schema_dir() -> Path:
    """Return the folder holding the schemas."""
    packaged = Path(str(files("hiccup"))) / "_schema"
    if packaged.is_dir():
        return packaged

    return Path(__file__).resolve().parents[2] / "contracts" / "schema"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return one schema, by its short name such as ``"envelope"``.

    Raises:
        ValueError: ``name`` is not one of ``SCHEMA_NAMES``.
    """
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {SCHEMA_NAMES}")
    schema: dict[str, Any] = orjson.loads(
        (schema_dir() / f"{name}.schema.json").read_bytes()
    )

    return schema
