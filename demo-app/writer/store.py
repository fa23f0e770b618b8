"""Drafts, kept in SQLite by default and in PostgreSQL when
``HICCUP_DATABASE_URL`` names one (``postgresql+asyncpg://...``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["Store"]

_metadata = MetaData()
_drafts = Table(
    "drafts",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(80), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("tone", String(16), nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("model", String(32), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _row(row: Mapping[str, object]) -> dict[str, object]:
    """Return a draft as the API shows it: without its body."""
    shown = {name: row[name] for name in ("id", "title", "prompt", "tone", "model")}
    created = row["created_at"]
    assert isinstance(created, datetime)

    return {**shown, "created_at": created.isoformat()}


class Store:
    """The drafts table, through one async engine."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url)

    async def create(self) -> None:
        """Create the table if it is not there yet."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(
        self, *, title: str, prompt: str, tone: str, body: str = "", model: str = ""
    ) -> dict[str, object]:
        """Store a draft; return it with its ID."""
        values = {
            "title": title,
            "prompt": prompt,
            "tone": tone,
            "body": body,
            "model": model,
            "created_at": datetime.now(UTC),
        }
        async with self.engine.begin() as connection:
            result = await connection.execute(_drafts.insert().values(**values))
            (draft_id,) = result.inserted_primary_key or (None,)
        return _row({"id": draft_id, **values})

    async def latest(self, limit: int = 20) -> list[dict[str, object]]:
        """Return the newest drafts first."""
        query = select(_drafts).order_by(_drafts.c.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_row(row._mapping) for row in rows]

    async def totals(self) -> dict[str, int]:
        """Return how many drafts there are and how many words they hold."""
        async with self.engine.connect() as connection:
            drafts = await connection.scalar(select(func.count()).select_from(_drafts))
            bodies = (await connection.execute(select(_drafts.c.body))).scalars()
            words = sum(len(body.split()) for body in bodies)
        return {"drafts": int(drafts or 0), "words": words}
