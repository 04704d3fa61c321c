"""seed_everything: one seed makes random, NumPy (and PyTorch) repeat themselves."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from loopml.errors import InvalidInputError
from loopml.tracking.seeding import MAX_SEED, seed_everything


@pytest.fixture(autouse=True)
def _restore_generators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Leave the global generators and PYTHONHASHSEED as other tests found them."""
    # setenv first so monkeypatch restores (or removes) the variable seed_everything writes;
    # then delenv so a child's hashing depends on seed_everything alone.
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.delenv("PYTHONHASHSEED")
    random_state = random.getstate()
    numpy_state = np.random.get_state()
    yield
    random.setstate(random_state)
    np.random.set_state(numpy_state)


def draw() -> tuple[list[float], list[float]]:
    return [random.random() for _ in range(5)], np.random.rand(5).tolist()


def test_same_seed_gives_the_same_numbers() -> None:
    seed_everything(1234)
    first = draw()
    seed_everything(1234)
    second = draw()
    seed_everything(4321)
    other = draw()

    assert first == second
    assert other[0] != first[0]
    assert other[1] != first[1]


def test_reports_which_libraries_were_seeded() -> None:
    torch_installed = importlib.util.find_spec("torch") is not None

    assert seed_everything(7) == {"random": True, "numpy": True, "torch": torch_installed}


def test_child_processes_hash_strings_alike() -> None:
    seed_everything(99)
    command = [sys.executable, "-c", "print(hash('loopml'))"]

    hashes = {subprocess.run(command, capture_output=True, text=True).stdout for _ in range(2)}

    assert len(hashes) == 1


@pytest.mark.parametrize("seed", [0, MAX_SEED, np.int64(5)])
def test_accepts_seeds_in_range(seed: int) -> None:
    assert seed_everything(seed)["random"] is True


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, "42", None, True])
def test_rejects_bad_seeds(seed: object) -> None:
    with pytest.raises(InvalidInputError, match="seed must be"):
        seed_everything(seed)  # type: ignore[arg-type]
