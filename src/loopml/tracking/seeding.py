"""Seed every random number generator a training script is likely to use.

``loopml.seed(n)`` calls :func:`seed_everything` and records the seed on the run. NumPy and
PyTorch are seeded only when installed, and imported only then, so seeding never pulls in a
library the script does not have.
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import os
import random
import sys
from typing import SupportsIndex

from loopml.errors import InvalidInputError

__all__ = ["MAX_SEED", "seed_everything"]

MAX_SEED = 2**32 - 1
"""The largest seed accepted: NumPy's global generator takes seeds below 2**32."""


def seed_everything(seed: int) -> dict[str, bool]:
    """Seed Python's ``random``, NumPy and PyTorch with one seed.

    What is seeded: the global ``random`` generator; NumPy's global generator
    (``numpy.random.seed``; generators made with ``numpy.random.default_rng()`` take their
    own seed); PyTorch's CPU generator and, when CUDA is available, every GPU's generator.
    ``PYTHONHASHSEED`` is set for child processes (this process's string hashing was fixed
    when it started and cannot change).

    Args:
        seed: an integer from 0 to 2**32 - 1.

    Returns:
        Which libraries were seeded: ``{"random": True, "numpy": …, "torch": …}``; a library
        that is not installed (or fails to import) is False.

    Raises:
        InvalidInputError: the seed is not an integer, or is outside 0 … 2**32 - 1.
    """
    value = _checked(seed)
    random.seed(value)
    # The one write to os.environ in loopml: worker processes started after this point
    # (multiprocessing, DataLoader workers, subprocesses) inherit it and hash strings alike.
    os.environ["PYTHONHASHSEED"] = str(value)
    return {"random": True, "numpy": _seed_numpy(value), "torch": _seed_torch(value)}


def _checked(seed: object) -> int:
    if isinstance(seed, bool):
        raise InvalidInputError(f"seed must be an integer, got the bool {seed!r}")
    # SupportsIndex admits NumPy integers as well as int, but not floats or strings.
    if not isinstance(seed, SupportsIndex):
        raise InvalidInputError(
            f"seed must be an integer, got {type(seed).__name__} {seed!r}; pass e.g. seed(42)"
        )
    value = operator.index(seed)
    if not 0 <= value <= MAX_SEED:
        raise InvalidInputError(f"seed must be between 0 and {MAX_SEED}, got {value}")
    return value


def _installed(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _seed_numpy(seed: int) -> bool:
    if not _installed("numpy"):
        return False
    try:
        numpy = importlib.import_module("numpy")
    except ImportError:
        return False
    numpy.random.seed(seed)
    return True


def _seed_torch(seed: int) -> bool:
    if not _installed("torch"):
        return False
    try:
        torch = importlib.import_module("torch")
    except (ImportError, OSError):  # OSError: a CUDA build whose shared libraries are missing
        return False
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return True
