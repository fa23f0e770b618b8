"""The hiccup demo app: an "AI writer" that QA can break on purpose.

``nox -s demo`` serves it on http://127.0.0.1:8000; ``uvicorn --app-dir
demo-app app:app`` does too, once ``demo-app/web`` is built. The app itself
is in ``writer/``.
"""

from __future__ import annotations

from writer import create_app

app = create_app()
