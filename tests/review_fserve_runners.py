"""Runners for the serve start-up tests of the issue 21 review (test_review_fserve_cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelshelf import Runner
from modelshelf.errors import TrustRequiredError


class RefusesLate(Runner):
    """Checks pass; its own ``load_model`` then refuses with a fix that names ``trust``."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "weights.bin").write_bytes(b"0")
        return {"file": "weights.bin"}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        raise TrustRequiredError("weights.bin needs more than tensors").with_fix(
            "; pass {trust} to allow it"
        )

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data
