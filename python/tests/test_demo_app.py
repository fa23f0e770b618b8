from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

from hiccup._codes import CONTRACT

APP = Path(__file__).resolve().parents[2] / "demo-app" / "app.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hiccup_demo_app", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)

    return module


def test_page_lists_every_code_with_rendered_copy(demo: ModuleType) -> None:
    with TestClient(demo.app) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name in CONTRACT.codes:
        assert f"<code>{name}</code>" in response.text
    assert "writer-large did not finish in time." in response.text
    assert "{model}" not in response.text
