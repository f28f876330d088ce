"""The results store of a sweep: one SQLite file, one row per design point and per (point, stage).

Only the sweep's driver process writes, each change in one transaction, so a sweep killed at any
moment (SIGKILL included) leaves a consistent store: a point is `done` or `failed` with all its
stage rows, or it is `pending`/`running` and is run again on resume. A point's identity is its
overrides (JSON, sorted keys): the same point is never stored twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
  id INTEGER PRIMARY KEY,
  params TEXT NOT NULL UNIQUE,
  key TEXT NOT NULL,
  train_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  metrics TEXT,
  error TEXT,
  seconds REAL,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
  point_id INTEGER NOT NULL REFERENCES points(id),
  stage TEXT NOT NULL,
  seconds REAL,
  record TEXT NOT NULL,
  PRIMARY KEY (point_id, stage)
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


def params_id(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # explicit transactions below
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def _tx(self, sql_params: list[tuple[str, tuple]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, p in sql_params:
                self.db.execute(sql, p)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def set_meta(self, **kv: str) -> None:
        self._tx([("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v)) for k, v in kv.items()])

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT k, v FROM meta"))

    def add(self, params: dict, key: str, train_key: str) -> int:
        """Insert a pending point unless it exists; return its id."""
        pid = params_id(params)
        self._tx([("INSERT OR IGNORE INTO points (params, key, train_key, status, updated) VALUES (?, ?, ?, 'pending', ?)",
                   (pid, key, train_key, time.time()))])  # fmt: skip
        return self.db.execute("SELECT id FROM points WHERE params = ?", (pid,)).fetchone()[0]

    def start(self, point_id: int) -> None:
        self._tx(
            [("UPDATE points SET status='running', attempts=attempts+1, updated=? WHERE id=?", (time.time(), point_id))]
        )

    def finish(self, point_id: int, result: dict) -> None:
        """Record a point's outcome and all its stage rows in one transaction."""
        ops = [("DELETE FROM stages WHERE point_id=?", (point_id,))]
        for stage, rec in result.get("stages", {}).items():
            ops.append(
                (
                    "INSERT INTO stages VALUES (?, ?, ?, ?)",
                    (point_id, stage, rec.get("seconds"), json.dumps(rec, default=str)),
                )
            )
        ops.append((
            "UPDATE points SET status=?, metrics=?, error=?, seconds=?, updated=? WHERE id=?",
            ("done" if result["ok"] else "failed", json.dumps(result.get("metrics")), result.get("error"),
             result.get("seconds"), time.time(), point_id),
        ))  # fmt: skip
        self._tx(ops)

    def rows(self, status: str | None = None) -> list[dict]:
        q = "SELECT id, params, key, train_key, status, metrics, error, seconds, attempts FROM points"
        cur = self.db.execute(q + (" WHERE status=?" if status else "") + " ORDER BY id", (status,) if status else ())
        cols = [c[0] for c in cur.description]
        out = []
        for r in cur:
            d = dict(zip(cols, r))
            d["params"] = json.loads(d["params"])
            d["metrics"] = json.loads(d["metrics"]) if d["metrics"] else None
            out.append(d)
        return out

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM points GROUP BY status"))

    def close(self) -> None:
        self.db.close()
