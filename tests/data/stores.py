"""Helpers that shape a local store the way older loopml versions (or damage) left it."""

from __future__ import annotations

import os

from loopml.storage.artifacts import ContentAddressedStore, LocalByteStore


def unpack_store(cas: ContentAddressedStore) -> int:
    """Turn every packed blob into a loose one and remove the packs and chunk lists, as a
    store written before packs existed holds them; returns how many blobs moved."""
    store = cas.bytes
    assert isinstance(store, LocalByteStore)
    cas.refresh_packs()
    moved = 0
    chunks = set()
    for digest in sorted(cas.chunked_digests()):
        recipe = cas.recipe(digest)
        assert recipe is not None
        chunks.update(c for c, _ in recipe.chunks)
        data = cas.read_bytes(digest)
        store.put_bytes(cas.key_for(digest), data)
        store.delete(cas.recipe_key(digest))
        moved += 1
    packed = {d for d in cas.list_digests() if cas.packed(d, refresh=False) is not None}
    packed -= chunks  # an older store has large files whole, not their chunks
    for digest in sorted(packed):
        entry = cas.packed(digest, refresh=False)
        assert entry is not None
        store.put_bytes(cas.key_for(digest), cas.read_packed(digest, entry))
        os.chmod(store.path_for(cas.key_for(digest)), 0o444)
        moved += 1
    for key in list(store.list("packs")):
        store.delete(key)
    cas.__init__(store)  # type: ignore[misc]  # forget the pack index it had read
    return moved


def pack_files(cas: ContentAddressedStore) -> list[str]:
    """The pack files (not indexes) under a local store, by key."""
    return sorted(k for k in cas.bytes.list("packs") if k.endswith(".pack"))
