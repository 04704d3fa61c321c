"""Storage: the metadata store and the content-addressed artifact store, opened together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.config import DEFAULT_TRACKING_URI

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.entities import ArtifactRecord
    from loopml.storage.artifacts.cas import ContentAddressedStore
    from loopml.storage.metadata.base import MetadataStore

__all__ = ["Stores", "artifact_root_for", "open_stores"]


@dataclass
class Stores:
    """The stores one client works with."""

    metadata: MetadataStore
    blobs: ContentAddressedStore
    tracking_uri: str
    artifact_uri: str

    def record_held(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        """Record files of a run whose blobs someone else uploaded: checked to be stored and
        recorded under the store's collection lock, so a garbage collection cannot take a
        blob in between (an upload that found its blob stored wrote nothing).

        Raises:
            InvalidInputError: a blob is not stored (upload it, then record again).
        """
        from loopml.errors import InvalidInputError

        with self.blobs.guard():
            missing = self.blobs.missing(r.digest for r in records)
            if missing:
                raise InvalidInputError(
                    f"{len(missing)} blob(s) are not stored (e.g. {min(missing)}); upload them "
                    "(PUT /api/v1/blobs/<digest>) and record the files again"
                )
            self.metadata.record_artifacts(run_id, records)

    def close(self) -> None:
        """Release database and HTTP connections."""
        self.metadata.close()
        self.blobs.bytes.close()


def artifact_root_for(settings: Settings) -> str:
    """Where artifacts live for these settings (see ``Settings.artifact_uri``)."""
    from loopml.storage.metadata import is_folder_uri

    if settings.artifact_uri:
        return settings.artifact_uri
    tracking = settings.tracking_uri
    if is_folder_uri(tracking):
        folder = tracking[len("file://") :] if tracking.startswith("file://") else tracking
        return str(Path(folder) / "artifacts")
    return str(Path(DEFAULT_TRACKING_URI) / "artifacts")


def open_stores(settings: Settings) -> Stores:
    """Open the metadata and artifact stores the settings name."""
    from loopml.storage.artifacts import ByteStore, ContentAddressedStore, open_byte_store
    from loopml.storage.metadata import is_server_uri, open_metadata_store

    metadata = open_metadata_store(settings.tracking_uri, settings)
    byte_store: ByteStore
    if is_server_uri(settings.tracking_uri) and not settings.artifact_uri:
        # Artifacts travel through the server, which owns the artifact store.
        from loopml.storage.artifacts.http_store import HttpByteStore

        byte_store = HttpByteStore(
            settings.tracking_uri, settings.http_timeout, settings.tracking_token
        )
    else:
        byte_store = open_byte_store(artifact_root_for(settings), settings)
    return Stores(
        metadata, ContentAddressedStore(byte_store), settings.tracking_uri, byte_store.url
    )
