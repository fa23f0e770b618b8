"""Every check of the repository, and the demo, as nox sessions.

A bare ``nox`` (or ``python3 dev.py``) runs every check. Sessions that need a
tool from outside Python say loudly what they skip when it is missing; under
``CI=true`` a missing tool fails the run instead.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
JS_SDK = ROOT / "js-sdk"
DEMO_WEB = ROOT / "demo-app" / "web"
OPENAPI_APP = ROOT / "python" / "tests" / "openapi_app.py"
OPENAPI_CHECK = JS_SDK / "test" / "openapi" / "client-check.ts"
OPENAPI_TYPES = "schema.generated.ts"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = ON_CI
nox.options.sessions = ["lint", "contracts", "tests", "js", "openapi", "e2e", "ops"]


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


def _require(session: nox.Session, tool: str, why: str) -> str:
    """Return the path of a tool, or skip (fail under CI) when it is missing."""
    path = shutil.which(tool)
    if path is not None:
        return path
    message = f"{tool} not found: {why}"
    if ON_CI:
        session.error(message)
    session.warn("=" * 72)
    session.warn(f"SKIPPED {session.name}: {message}")
    session.warn("=" * 72)
    session.skip(message)
    return None  # unreachable: skip() raises


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and format) over all Python, mypy --strict over the package."""
    session.install("-e", ".", *_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    # Lines there that misuse the API must fail to type-check (see the file).
    session.run("mypy", "--strict", "python/tests/typecheck")


@nox.session
def contracts(session: nox.Session) -> None:
    """Lint the contract and fail when a generated table has drifted from it.

    Extra arguments go to the linter: ``nox -s contracts -- --show`` prints
    every code's copy rendered with its examples.
    """
    session.install("-e", ".")
    session.run("hiccup", "contract", "lint", "contracts/errors.json", *session.posargs)
    session.run("hiccup", "contract", "gen", "--check", "contracts/errors.json")


@nox.session
def tests(session: nox.Session) -> None:
    """The Python test suite, with line and branch coverage of the package."""
    session.install("-e", ".", *_group("test"))
    session.run(
        "pytest",
        "--cov=hiccup",
        "--cov-report=term",
        *session.posargs,
    )


def _build_demo_page(session: nox.Session, npm: str, *checks: str) -> None:
    """Install the demo page's packages from its lockfile, check and bundle it."""
    with session.chdir(DEMO_WEB):
        session.run(npm, "ci", "--no-audit", "--no-fund", external=True)
        for script in (*checks, "build"):
            session.run(npm, "run", script, external=True)


@nox.session
def ops(session: nox.Session) -> None:
    """The generated ops files: current with their definitions, passing
    promtool's checks and unit tests, and amtool's check."""
    promtool = _require(session, "promtool", "the alert rules are checked by promtool")
    amtool = _require(session, "amtool", "Alertmanager's routes are checked by amtool")
    session.install("-e", ".[ops]")
    session.run("hiccup", "ops", "gen", "--check")
    with session.chdir(ROOT / "ops" / "prometheus"):
        session.run(promtool, "check", "rules", "rules.yml", external=True)
        session.run(promtool, "test", "rules", "rules.test.yml", external=True)
    alertmanager = ROOT / "ops" / "alertmanager" / "alertmanager.yml"
    session.run(amtool, "check-config", str(alertmanager), external=True)


@nox.session
def e2e(session: nox.Session) -> None:
    """Chromium, driven by Playwright, through every failure of the demo app.

    Screenshots go to ``build/e2e``.
    """
    chromium = _require(session, "chromium", "the browser tests drive Chromium")
    npm = _require(session, "npm", "the demo page is bundled with npm")
    _build_demo_page(session, npm)
    session.install("-e", ".", *_group("test"), *_group("demo"), *_group("e2e"))
    session.run(
        "pytest", "e2e", *session.posargs, env={"HICCUP_E2E_CHROMIUM": chromium}
    )


@nox.session(venv_backend="none")
def js(session: nox.Session) -> None:
    """The TypeScript SDK: install from the lockfile, check, test, build, size it."""
    _require(session, "node", "the SDK needs Node.js 20 or newer")
    npm = _require(session, "npm", "the SDK is installed with npm")
    with session.chdir(JS_SDK):
        session.run(npm, "ci", "--no-audit", "--no-fund", external=True)
        for script in ("typecheck", "lint", "test", "build", "size"):
            session.run(npm, "run", script, external=True)
    _build_demo_page(session, npm, "typecheck", "lint")


def _client_check_project(folder: Path) -> Path:
    """Lay out a TypeScript project in ``folder`` checking the generated types.

    It extends the SDK's strict settings, holds the client check and the types
    openapi-typescript is about to write beside it, and returns its tsconfig.
    """
    shutil.copy(OPENAPI_CHECK, folder / OPENAPI_CHECK.name)
    (folder / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    tsconfig = {
        "extends": str(JS_SDK / "tsconfig.json"),
        "compilerOptions": {"types": [], "skipLibCheck": False},
        "include": [],
        "files": [OPENAPI_CHECK.name, OPENAPI_TYPES],
    }
    path = folder / "tsconfig.json"
    path.write_text(json.dumps(tsconfig, indent=2) + "\n", encoding="utf-8")

    return path


@nox.session
def openapi(session: nox.Session) -> None:
    """Generate TypeScript from a sample app's OpenAPI document, type check a client.

    The sample app is ``python/tests/openapi_app.py``; openapi-typescript turns
    its document into types, and ``tsc`` checks ``js-sdk/test/openapi`` against
    them.
    """
    _require(session, "node", "the generated client is type checked with Node.js")
    npm = _require(session, "npm", "openapi-typescript is installed with npm")
    session.install("-e", ".")

    out = Path(session.create_tmp()).resolve() / "openapi"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    document = out / "openapi.json"
    session.run("python", str(OPENAPI_APP), str(document))
    tsconfig = _client_check_project(out)

    npx = (npm, "exec", "--no", "--")
    with session.chdir(JS_SDK):
        session.run(npm, "ci", "--no-audit", "--no-fund", external=True)
        session.run(
            *npx,
            "openapi-typescript",
            document,
            "-o",
            out / OPENAPI_TYPES,
            external=True,
        )
        session.run(*npx, "tsc", "-p", tsconfig, external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure what hiccup costs per request, beside bare FastAPI and the usual stack.

    A benchmark, not a check, so not in the default run. Arguments go to it:
    ``nox -s bench -- --quick`` or ``nox -s bench -- --mode inprocess``.
    """
    session.install("-e", ".", *_group("bench"))
    # The bench package lives at the root, beside the distribution, not in it.
    session.chdir(ROOT)
    session.run(
        "python", "-m", "bench", *session.posargs, env={"PYTHONPATH": str(ROOT)}
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Serve the demo app on http://127.0.0.1:8000, its page built first."""
    npm = _require(session, "npm", "the demo page is bundled with npm")
    _build_demo_page(session, npm)
    session.install("-e", ".", *_group("demo"))
    session.log(
        "hiccup demo: open http://127.0.0.1:8000, write a prompt and press Write;"
        " break it from http://127.0.0.1:8000/qa (Ctrl+C stops it)"
    )
    session.run(
        "uvicorn",
        "--app-dir",
        str(ROOT / "demo-app"),
        "app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        *session.posargs,
        # Console logs, and a reload or Ctrl+C that stops at once.
        env={"HICCUP_ENVIRONMENT": "development"},
    )
