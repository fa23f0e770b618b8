"""The demo's "AI writer": a FastAPI app on hiccup that QA can break on purpose."""

from .app import create_app

__all__ = ["create_app"]
