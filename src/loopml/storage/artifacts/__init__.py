"""Artifact storage: a small byte-store interface and the content-addressed store on top."""

from loopml.storage.artifacts.base import ByteStore
from loopml.storage.artifacts.cas import BlobInfo, ContentAddressedStore, hash_bytes, hash_file
from loopml.storage.artifacts.fsspec_store import (
    FsspecByteStore,
    LocalByteStore,
    open_byte_store,
    write_text_atomic,
)

__all__ = [
    "BlobInfo",
    "ByteStore",
    "ContentAddressedStore",
    "FsspecByteStore",
    "LocalByteStore",
    "hash_bytes",
    "hash_file",
    "open_byte_store",
    "write_text_atomic",
]
