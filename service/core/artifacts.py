"""Binary artifacts (trajectory npz, safetensors weights) stored as database blobs."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.orm import Session

from service.core.models import Artifact, new_id

COPY_CHUNK = 4 * 1024 * 1024


def put(session: Session, *, project_id: str, data: bytes, media_type: str) -> Artifact:
    """Store bytes and return the artifact row."""
    artifact = Artifact(
        id=new_id("art"),
        project_id=project_id,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    session.add(artifact)
    session.flush()
    return artifact


def put_file(session: Session, *, project_id: str, source: BinaryIO, media_type: str) -> str:
    """Store a file's contents and return the artifact id, without holding it all in memory
    where the database allows (SQLite incremental blob I/O, for files over one copy chunk);
    elsewhere, and for small files (one insert instead of four statements), the bytes are
    bound."""
    size = source.seek(0, 2)
    if session.get_bind().dialect.name != "sqlite" or size <= COPY_CHUNK:
        source.seek(0)
        return put(session, project_id=project_id, data=source.read(), media_type=media_type).id
    artifact_id = new_id("art")
    session.add(
        Artifact(
            id=artifact_id,
            project_id=project_id,
            media_type=media_type,
            size=size,
            sha256="",
            data=b"",
        )
    )
    session.flush()
    session.execute(
        update(Artifact).where(Artifact.id == artifact_id).values(data=func.zeroblob(size))
    )
    rowid: int = session.execute(
        select(literal_column("rowid")).where(Artifact.id == artifact_id)
    ).scalar_one()
    digest = hashlib.sha256()
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    source.seek(0)
    with raw.blobopen("artifacts", "data", rowid) as blob:
        while chunk := source.read(COPY_CHUNK):
            blob.write(chunk)
            digest.update(chunk)
    session.execute(
        update(Artifact).where(Artifact.id == artifact_id).values(sha256=digest.hexdigest())
    )
    return artifact_id


def get_bytes(session: Session, artifact_id: str) -> bytes:
    """The stored bytes, checked against their hash."""
    row = session.execute(
        select(Artifact.data, Artifact.sha256).where(Artifact.id == artifact_id)
    ).one()
    if hashlib.sha256(row.data).hexdigest() != row.sha256:
        raise RuntimeError(f"artifact {artifact_id} is corrupt (hash mismatch)")
    return bytes(row.data)


def remove(session: Session, artifact_id: str) -> None:
    """Delete an artifact."""
    session.execute(delete(Artifact).where(Artifact.id == artifact_id))
