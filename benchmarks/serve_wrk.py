"""Run ``wrk`` against an OIP infer endpoint and read its ``--latency`` report.

What is read from wrk 4.1's text report (the parts it always prints with ``--latency``)::

    report   := ... "Latency Distribution" pct{4} count-line [socket-line] [non2xx-line] rate-line
    pct      := PERCENT "%" TIME                  e.g. "50%   16.97ms", "99%    1.02s"
    count    := INT " requests in " TIME ", " SIZE " read"
    socket   := "Socket errors: connect " INT ", read " INT ", write " INT ", timeout " INT
    non2xx   := "Non-2xx or 3xx responses: " INT   (wrk counts statuses above 399 here)
    rate     := "Requests/sec:" FLOAT
    TIME     := FLOAT ("us" | "ms" | "s" | "m" | "h")

A socket or non-2xx line appears only when its counts are not zero. A report without the
latency distribution, the request count or the rate is refused (:class:`WrkReportError`): wrk
stopped early or printed something else, and a table built from it would lie.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkReportError", "WrkResult", "parse_wrk", "run_wrk"]

LUA_SCRIPT = Path(__file__).resolve().parent / "serve_infer.lua"
"""Makes wrk POST the body in ``SERVE_BENCH_BODY`` as JSON."""

_TIME_SCALE_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_NUMBER = r"(\d+(?:\.\d+)?)"
_TIME = _NUMBER + r"(us|ms|s|m|h)\b"
_PCT = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+" + _TIME, re.MULTILINE)
_COUNT = re.compile(r"^\s*(\d+) requests in " + _TIME, re.MULTILINE)
_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)
_NON2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+" + _NUMBER + r"\s*$", re.MULTILINE)


class WrkReportError(ValueError):
    """wrk's output lacks a part the table needs; the message names it and shows the output."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: completed requests, rate, latency percentiles and every kind of failure."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0  # connect + read + write + timeout

    @property
    def failed(self) -> int:
        """Requests that did not get a 2xx/3xx answer: non-2xx statuses plus socket errors."""
        return self.non_2xx + self.socket_errors


def _time_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_SCALE_MS[unit]


def parse_wrk(text: str) -> WrkResult:
    """Read a ``wrk --latency`` report (grammar in the module docstring).

    Raises:
        WrkReportError: the latency distribution, the request count or the rate is missing.
    """
    percentiles = {int(m[1]): _time_ms(m[2], m[3]) for m in _PCT.finditer(text)}
    count = _COUNT.search(text)
    rate = _RATE.search(text)
    missing = [
        what
        for what, found in (
            ("the 50% latency", 50 in percentiles),
            ("the 99% latency", 99 in percentiles),
            ("'N requests in T'", count is not None),
            ("'Requests/sec:'", rate is not None),
        )
        if not found
    ]
    if missing or count is None or rate is None:
        shown = text.strip()[-1500:] or "(no output)"
        raise WrkReportError(
            f"wrk's report has no {', no '.join(missing)}; was --latency passed, and did wrk"
            f" run to the end? Its output:\n{shown}"
        )
    socket = _SOCKET.search(text)
    non2xx = _NON2XX.search(text)
    return WrkResult(
        requests=int(count[1]),
        seconds=_time_ms(count[2], count[3]) / 1e3,
        requests_per_second=float(rate[1]),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        non_2xx=int(non2xx[1]) if non2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def run_wrk(
    url: str,
    body: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    wrk: str = "wrk",
) -> WrkResult:
    """``wrk -t{threads} -c{connections} -d{seconds}s --latency`` POSTing ``body`` to ``url``.

    Raises:
        WrkReportError: wrk failed or its report could not be read.
    """
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={"SERVE_BENCH_BODY": body, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        timeout=seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise WrkReportError(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr.strip()[-1500:]}"
        )
    return parse_wrk(done.stdout)
