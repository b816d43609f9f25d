"""A small on-disk cache of HTTP responses, so a repeated request inside the same data interval
is answered locally instead of being sent again.

Entries are keyed by the request (method, URL, parameters) with secrets removed, and expire at a
time the caller chooses: the end of the current data interval for "latest" and forecast queries,
far in the future for ranges that lie wholly in the settled past.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CachedResponse", "ResponseCache"]


@dataclass(frozen=True, slots=True)
class CachedResponse:
    status_code: int
    content: bytes
    content_type: str
    expires_s: float


class ResponseCache:
    """Responses stored as one JSON file per request under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(method: str, url: str, params: dict[str, str]) -> str:
        canon = json.dumps([method.upper(), url, sorted(params.items())], separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str, *, now_s: float) -> CachedResponse | None:
        path = self._path(key)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if float(raw.get("expires_s", 0)) <= now_s:
            return None
        return CachedResponse(
            int(raw["status_code"]),
            base64.b64decode(raw["content_b64"]),
            str(raw.get("content_type", "")),
            float(raw["expires_s"]),
        )

    def put(self, key: str, response: CachedResponse) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "status_code": response.status_code,
            "content_b64": base64.b64encode(response.content).decode(),
            "content_type": response.content_type,
            "expires_s": response.expires_s,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
        os.replace(tmp, path)
