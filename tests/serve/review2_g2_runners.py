"""A runner for tests/serve/test_review2_g2_serve_json.py, importable by the served process."""

from __future__ import annotations

import logging
from typing import Any

from modelshelf import Runner

# A library's warning quoting outside text: an escape sequence and a URL with a password.
FOREIGN = "careful \x1b[31mred\x1b[0m at https://bob:hunter2@example.com/x"


class LoggingRunner(Runner):
    """Doubles numbers, after a warning from a logger that is not modelshelf's nor uvicorn's."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        logging.getLogger("some.library").warning(FOREIGN)
        return [2 * x for x in data]
