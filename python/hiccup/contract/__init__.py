"""Reading, checking and generating code from an error contract."""

from __future__ import annotations

from ._gen import (
    GeneratedFile,
    python_source,
    typescript_copy_source,
    typescript_source,
    write_outputs,
)
from ._lint import JARGON, LintResult, lint, lint_file
from ._load import ContractError, Finding, load_contract

__all__ = [
    "JARGON",
    "ContractError",
    "Finding",
    "GeneratedFile",
    "LintResult",
    "lint",
    "lint_file",
    "load_contract",
    "python_source",
    "typescript_copy_source",
    "typescript_source",
    "write_outputs",
]
