"""The ``hiccup`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._icu import parse, render
from ._spec import CodeSpec, Contract
from .contract import ContractError, lint_file, write_outputs

if TYPE_CHECKING:
    from .ops._http import Change

__all__ = ["main"]

DEFAULT_CONTRACT = Path("contracts/errors.json")
PYTHON_OUT = Path("python/hiccup/_codes.py")
TYPESCRIPT_OUT = Path("js-sdk/src/contract.generated.ts")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiccup", description="Tools for apps that use hiccup."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    contract = commands.add_parser("contract", help="check and compile the contract")
    actions = contract.add_subparsers(dest="action", required=True)

    lint = actions.add_parser("lint", help="check a contract against every rule")
    lint.add_argument("path", nargs="?", type=Path, default=DEFAULT_CONTRACT)
    lint.add_argument(
        "--released",
        type=Path,
        metavar="DIR",
        help="folder of released contracts (default: 'released' beside the file)",
    )
    lint.add_argument(
        "--show",
        action="store_true",
        help="also print every code's copy, rendered with the examples",
    )

    gen = actions.add_parser(
        "gen", help="write the Python and TypeScript tables and copy modules"
    )
    gen.add_argument("path", nargs="?", type=Path, default=DEFAULT_CONTRACT)
    gen.add_argument(
        "--root",
        type=Path,
        help="repository root the outputs are written under "
        "(default: the folder above the contract's)",
    )
    gen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a generated file is out of date",
    )

    ops = commands.add_parser("ops", help="write the alert rules, tests and runbooks")
    ops_actions = ops.add_subparsers(dest="action", required=True)
    ops_gen = ops_actions.add_parser("gen", help="write ops/ from the definitions")
    ops_gen.add_argument(
        "--root", type=Path, default=Path(), help="repository root (default: here)"
    )
    ops_gen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a generated file is out of date",
    )

    apply = ops_actions.add_parser(
        "sentry-apply", help="create or update the Sentry alert rules of a project"
    )
    apply.add_argument("--url", default="https://sentry.io", help="Sentry's address")
    apply.add_argument("--org", required=True, help="the organisation's slug")
    apply.add_argument("--project", required=True, help="the project's slug")
    apply.add_argument(
        "--rules", type=Path, default=Path("ops/sentry/rules.json"), help="the rules"
    )
    apply.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an integration ID the rules name, such as SLACK_WORKSPACE=123;"
        " read from the environment when not given",
    )
    apply.add_argument(
        "--dry-run", action="store_true", help="read only; print what would change"
    )

    grafana = ops_actions.add_parser(
        "grafana-apply",
        help="set the permissions and public sharing of hiccup's Grafana folder",
    )
    grafana.add_argument("--url", required=True, help="Grafana's address")
    grafana.add_argument(
        "--access",
        type=Path,
        default=Path("ops/grafana/access.json"),
        help="the access document",
    )
    grafana.add_argument(
        "--dry-run", action="store_true", help="read only; print what would change"
    )

    return parser


def _print_changes(changes: list[Change], dry_run: bool, out: TextIO) -> None:
    verb = "would" if dry_run else "did"
    for change in changes:
        print(f"{verb} {change.action}: {change.what}", file=out)


def _grafana_apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._exceptions import HiccupError  # noqa: PLC0415
    from .ops._grafana_access import (  # noqa: PLC0415
        AccessDocumentError,
        apply_access,
        http_sender,
        read_document,
    )

    token = os.environ.get("GRAFANA_TOKEN")
    if not token:
        print(
            "set GRAFANA_TOKEN to a Grafana service account token that is admin"
            " of the folder; the Admin role is simplest, as it can also create"
            " the folder and look up teams",
            file=err,
        )
        return 2
    try:
        access = read_document(args.access.read_text(encoding="utf-8"))
        send = http_sender(args.url, token)
        changes = apply_access(access, send, dry_run=args.dry_run)
    except AccessDocumentError as exc:
        print(f"{args.access}: {exc}", file=err)
        return 1
    except (HiccupError, OSError, ValueError) as exc:
        print(exc, file=err)
        return 1
    _print_changes(changes, args.dry_run, out)
    return 0


def _sentry_apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .ops._sentry import apply_rules, http_sender  # noqa: PLC0415

    token = os.environ.get("SENTRY_AUTH_TOKEN")
    if not token:
        print("set SENTRY_AUTH_TOKEN to a token with the alerts:write scope", file=err)
        return 2
    names = ("PAGERDUTY_ACCOUNT", "PAGERDUTY_SERVICE", "SLACK_WORKSPACE")
    ids = {name: os.environ[name] for name in names if name in os.environ}
    for given in args.id:
        name, _, value = given.partition("=")
        ids[name] = value
    rules = json.loads(args.rules.read_text(encoding="utf-8"))
    send = http_sender(args.url, args.org, args.project, token)
    try:
        changes = apply_rules(rules, ids, send, dry_run=args.dry_run)
    except (ValueError, RuntimeError, OSError) as exc:
        print(exc, file=err)
        return 1
    _print_changes(changes, args.dry_run, out)
    return 0


def _ops_gen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .ops import generate  # noqa: PLC0415 - only this command needs it

    files = generate(args.root, check=args.check)
    changed = [f for f in files if f.changed]
    for f in changed:
        if args.check:
            print(f"{f.path}: out of date; run `hiccup ops gen`", file=err)
        else:
            print(f"wrote {f.path}", file=out)
    if not changed:
        print("generated files are up to date", file=err)

    return 1 if args.check and changed else 0


def _retries(spec: CodeSpec) -> str:
    retry = spec.retry
    who = [w for w, on in (("automatic", retry.auto), ("user", retry.user)) if on]
    wait = f" after {spec.retry.after_ms} ms" if spec.retry.after_ms else ""

    return f"retry: {' and '.join(who)}{wait}" if who else "no retry"


def _show(contract: Contract, out: TextIO) -> None:
    for name, spec in contract.codes.items():
        flags = " ".join(
            f
            for f, on in (
                ("client", spec.client),
                ("field", spec.field),
                ("deprecated", spec.deprecated),
            )
            if on
        )
        head = f"{name}  {spec.status} {spec.category}, {spec.severity}"
        tail = f"  [{flags}]" if flags else ""
        print(f"{head}, {_retries(spec)}{tail}", file=out)
        examples = {p: v.example for p, v in spec.params.items()}
        for locale, copy in spec.copy.items():
            for field, text in copy.texts():
                rendered = render(parse(text), examples, locale)
                print(f"  {locale:<5} {field:<14} {rendered}", file=out)
        print(file=out)


def _lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = lint_file(args.path, args.released)
    for finding in result.findings:
        print(finding, file=out)
    if not result.ok:
        count = len(result.findings)
        print(f"{count} problem{'s' if count > 1 else ''} found", file=err)
        return 1
    assert result.contract is not None
    if args.show:
        _show(result.contract, out)
    contract = result.contract
    print(
        f"{args.path}: ok ({len(contract.codes)} codes, {len(contract.generic)} "
        f"categories, locales {', '.join(contract.required_locales)})",
        file=err,
    )

    return 0


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def _gen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = lint_file(args.path)
    if not result.ok or result.contract is None:
        print(
            f"{args.path}: not generating from a contract with problems; "
            "run `hiccup contract lint` to see them",
            file=err,
        )
        return 1
    root = args.root or args.path.resolve().parent.parent
    source = _relative(args.path.resolve(), root.resolve())
    files = write_outputs(
        result.contract,
        source.as_posix(),
        root / PYTHON_OUT,
        root / TYPESCRIPT_OUT,
        check=args.check,
    )
    changed = [f for f in files if f.changed]
    for f in changed:
        if args.check and f.stale:
            print(
                f"{f.path}: no longer generated; run `hiccup contract gen` to "
                "delete it",
                file=err,
            )
        elif args.check:
            print(f"{f.path}: out of date; run `hiccup contract gen`", file=err)
        else:
            print(f"{'deleted' if f.stale else 'wrote'} {f.path}", file=out)
    if not changed:
        print("generated files are up to date", file=err)

    return 1 if args.check and changed else 0


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the command line and return its exit status."""
    args = _parser().parse_args(argv)
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args.command == "ops" and args.action == "sentry-apply":
            return _sentry_apply(args, out, err)
        if args.command == "ops" and args.action == "grafana-apply":
            return _grafana_apply(args, out, err)
        if args.command == "ops":
            return _ops_gen(args, out, err)
        if args.action == "lint":
            return _lint(args, out, err)
        return _gen(args, out, err)
    except ContractError as exc:
        print(exc, file=err)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
