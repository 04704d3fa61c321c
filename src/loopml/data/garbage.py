"""Deleting dataset versions frees nothing by itself: their blobs stay in the store (other
versions, runs or a colleague's pointers may share them). :func:`collect_garbage` removes
the blobs nothing names any more:

    from loopml.data.garbage import collect_garbage
    result = collect_garbage(stores, keep=digests_of_my_pointers, min_age=3600)
    result.bytes_freed

What is kept: every blob a dataset version (its manifest and files) or a run artifact names
(:meth:`~loopml.storage.metadata.datasets_base.DatasetStore.referenced_digests`), what the
caller adds in ``keep`` (the project's pointer files: versions pulled from a remote that
this metadata store never recorded), and anything written less than ``min_age`` seconds ago
(an ``add`` running at the same time stores its blobs before it records its version). On a
local store, adds, dataset logging and artifact logging hold the store's collection lock
shared from their first blob to their record, and a collection holds it exclusive (see
:meth:`~loopml.storage.artifacts.ContentAddressedStore.guard`): a blob an ``add`` found
stored, and so did not write again, is not collected before the version naming it is
recorded. The store-level rules, crash safety included, are in
:mod:`loopml.storage.artifacts.gc`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from loopml.storage import Stores
from loopml.storage.artifacts.cas import check_digest
from loopml.storage.artifacts.gc import CollectResult, collect

__all__ = ["CollectResult", "collect_garbage"]

DEFAULT_MIN_AGE = 3600.0


def collect_garbage(
    stores: Stores,
    keep: Iterable[str] = (),
    *,
    min_age: float = DEFAULT_MIN_AGE,
    dry_run: bool = False,
    rewrite_below: float = 0.5,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> CollectResult:
    """Remove the blobs of ``stores`` that no version, run artifact or ``keep`` names.

    A pack whose kept blobs fill less than ``rewrite_below`` of it is rewritten with them
    alone (1.0: every pack holding a removable blob; 0: none, only whole dead packs go).

    Raises:
        InvalidInputError: a malformed digest in ``keep``, or a bad ``min_age`` or
            ``rewrite_below`` (checked by :func:`~loopml.storage.artifacts.gc.collect`).
        StoreError: the store cannot be written (nothing that is kept is lost).
    """
    extra = {check_digest(d) for d in keep}
    # Exclusive: every add or artifact log that stored a blob has recorded what names it
    # before the references are read, and none starts until the collection is done.
    with stores.blobs.guard(exclusive=True):
        live = stores.metadata.referenced_digests() | extra
        return collect(
            stores.blobs,
            live,
            min_age=min_age,
            dry_run=dry_run,
            rewrite_below=rewrite_below,
            progress=progress,
            total=total,
        )
