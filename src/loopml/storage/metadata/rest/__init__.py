"""The metadata store over HTTP, answered by a loopml server."""

from loopml.storage.metadata.rest.store import RestMetadataStore, open_rest_store

__all__ = ["RestMetadataStore", "open_rest_store"]
