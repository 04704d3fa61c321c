"""A small torch module the flavor tests rebuild from its importable class."""

from __future__ import annotations

import torch


class TinyNet(torch.nn.Module):  # type: ignore[misc]
    def __init__(self, n_in: int = 3, hidden: int = 8) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
