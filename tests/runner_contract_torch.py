"""torch modules for the default save by engine (``tests.runner_contract_torch``): one that
``torch.jit.script`` cannot compile (saved as a state_dict with its class path) and one that
also needs constructor arguments (refused: it could not be built again to load the weights)."""

from __future__ import annotations

from typing import Any

import torch


class Unscriptable(torch.nn.Module):
    """``forward`` takes ``**options``, which TorchScript cannot compile."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, **options: Any) -> torch.Tensor:
        return torch.relu(self.linear(x)) * options.get("scale", 1.0)


class NeedsArguments(Unscriptable):
    """As :class:`Unscriptable`, but its constructor takes a required argument."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
