"""Files under STORAGE_DIR: streamed writes with a size cap and sha256, paths that never leave the root."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"file is larger than the upload limit of {limit} bytes")
        self.limit = limit


class EmptyUpload(Exception):
    pass


@dataclass(frozen=True)
class StoredFile:
    relative_path: str
    size: int
    sha256: str
    head: bytes  # the first bytes, for content sniffing


def display_name(name: str | None) -> str | None:
    """The client's file name reduced to a harmless label (last path part, no control characters), kept
    for display only: files are always stored under generated names."""
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()[:200]
    return base if base not in ("", ".", "..") else None


def as_uploaded(message: str, stored: Path, name: str | None) -> str:
    """`message` with a stored file's generated name put as it was uploaded (`name`, else "the uploaded
    file"): errors of code that read the stored file name it, and that name means nothing to their reader."""
    return message.replace(stored.name, name or "the uploaded file")


class Storage:
    """All paths handed out are inside `root`; relative paths are what the database keeps."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, relative: str) -> Path:
        full = (self.root / relative).resolve()
        if not full.is_relative_to(self.root):
            raise ValueError(f"path {relative!r} escapes the storage directory")
        return full

    def relative(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.root))

    def job_dir(self, job_id: uuid.UUID) -> Path:
        """A job's artifact folder, created on demand."""
        folder = self.path(f"jobs/{job_id}")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def save_stream(self, chunks: AsyncIterator[bytes], extension: str, limit: int) -> StoredFile:
        """Write an upload under a generated name, hashing on the way; nothing is left behind on error."""
        relative = f"uploads/{uuid.uuid4().hex}{extension}"
        final = self.path(relative)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".part")
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            # Local disk writes of one chunk at a time between awaits: short, and the limit is checked per chunk.
            with open(partial, "wb") as out:  # noqa: ASYNC230
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(limit)
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise EmptyUpload("the uploaded file is empty")
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredFile(relative_path=relative, size=size, sha256=digest.hexdigest(), head=head)

    def delete(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)
