from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient
from support import load_module

from hiccup._codes import CONTRACT

APP = Path(__file__).resolve().parents[2] / "demo-app" / "app.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return load_module("hiccup_demo_app", APP)


def test_page_lists_every_code_with_rendered_copy(demo: ModuleType) -> None:
    with TestClient(demo.app) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name in CONTRACT.codes:
        assert f"<code>{name}</code>" in response.text
    assert "writer-large did not finish in time." in response.text
    assert "{model}" not in response.text
