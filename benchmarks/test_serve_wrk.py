"""Reading wrk's --latency report (benchmarks/serve_wrk.py).

Run: ``.venv/bin/python -m pytest benchmarks/test_serve_wrk.py -q -p no:cacheprovider``.
The reports below are wrk 4.1.0 output seen here (the socket-error line is wrk's format string).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.serve_wrk import WrkReportError, WrkResult, parse_wrk

CLEAN = """\
Running 1s test @ http://127.0.0.1:18931/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.05ms    4.32ms  24.18ms   81.06%
    Req/Sec   610.00    462.29     1.67k    80.00%
  Latency Distribution
     50%    2.79ms
     75%    7.99ms
     90%   11.66ms
     99%   16.52ms
  611 requests in 1.00s, 248.22KB read
Requests/sec:    608.69
Transfer/sec:    247.28KB
"""

NON2XX = """\
Running 1s test @ http://127.0.0.1:18931/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.87ms    5.18ms  31.46ms   83.65%
    Req/Sec   787.30    373.17     1.26k    50.00%
  Latency Distribution
     50%    3.82ms
     75%    7.83ms
     90%   13.98ms
     99%   21.24ms
  785 requests in 1.00s, 425.46KB read
  Non-2xx or 3xx responses: 785
Requests/sec:    783.16
Transfer/sec:    424.47KB
"""

SOCKET = """\
Running 10s test @ http://127.0.0.1:8000/v2/models/iris/infer
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.40us  100.00us   1.02s    99.00%
    Req/Sec     1.02k   100.00     1.20k    70.00%
  Latency Distribution
     50%  812.40us
     75%    1.00ms
     90%    1.20ms
     99%    1.02s
  10203 requests in 10.00s, 2.00MB read
  Socket errors: connect 0, read 12, write 1, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   1020.12
Transfer/sec:    204.00KB
"""


def test_clean_report() -> None:
    assert parse_wrk(CLEAN) == WrkResult(
        requests=611, seconds=1.0, requests_per_second=608.69, p50_ms=2.79, p99_ms=16.52
    )
    assert parse_wrk(CLEAN).failed == 0


def test_non_2xx_responses_are_failed_requests() -> None:
    result = parse_wrk(NON2XX)
    assert (result.non_2xx, result.socket_errors, result.failed) == (785, 0, 785)


def test_socket_errors_add_up_and_units_convert() -> None:
    result = parse_wrk(SOCKET)
    assert result.socket_errors == 12 + 1 + 3
    assert result.failed == 16 + 4
    assert result.p50_ms == pytest.approx(0.8124)
    assert result.p99_ms == pytest.approx(1020.0)
    assert (result.requests, result.seconds) == (10203, 10.0)


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("", "50% latency"),
        ("unable to connect to 127.0.0.1:1 Connection refused\n", "'Requests/sec:'"),
        (CLEAN.replace("     99%   16.52ms\n", ""), "the 99% latency"),
        (CLEAN.replace("Requests/sec:    608.69\n", ""), "'Requests/sec:'"),
        (CLEAN.replace("  611 requests in 1.00s, 248.22KB read\n", ""), "'N requests in T'"),
    ],
)
def test_incomplete_reports_are_refused(text: str, missing: str) -> None:
    with pytest.raises(WrkReportError, match="no .*" + re.escape(missing)):
        parse_wrk(text)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    requests=st.integers(0, 10**9),
    rate=st.floats(0, 1e7, allow_nan=False).map(lambda f: round(f, 2)),
    p50=st.tuples(
        st.floats(0, 999, allow_nan=False).map(lambda f: round(f, 2)), st.sampled_from(list(_UNITS))
    ),
    p99=st.tuples(
        st.floats(0, 999, allow_nan=False).map(lambda f: round(f, 2)), st.sampled_from(list(_UNITS))
    ),
    sockets=st.one_of(st.none(), st.tuples(*[st.integers(0, 10**6)] * 4)),
    non2xx=st.one_of(st.none(), st.integers(1, 10**9)),
)
def test_any_report_wrk_can_print_reads_back(
    requests: int,
    rate: float,
    p50: tuple[float, str],
    p99: tuple[float, str],
    sockets: tuple[int, int, int, int] | None,
    non2xx: int | None,
) -> None:
    lines = [
        "Running 10s test @ http://127.0.0.1:1/v2/models/iris/infer",
        "  1 threads and 16 connections",
        "  Latency Distribution",
        f"     50%  {p50[0]:.2f}{p50[1]}",
        "     75%    1.00ms",
        "     90%    1.20ms",
        f"     99%  {p99[0]:.2f}{p99[1]}",
        f"  {requests} requests in 10.00s, 2.00MB read",
    ]
    if sockets:
        lines.append("  Socket errors: connect {}, read {}, write {}, timeout {}".format(*sockets))
    if non2xx:
        lines.append(f"  Non-2xx or 3xx responses: {non2xx}")
    lines += [f"Requests/sec: {rate:10.2f}", "Transfer/sec:    204.00KB"]
    result = parse_wrk("\n".join(lines) + "\n")
    assert result.requests == requests
    assert result.requests_per_second == pytest.approx(rate)
    assert result.p50_ms == pytest.approx(p50[0] * _UNITS[p50[1]])
    assert result.p99_ms == pytest.approx(p99[0] * _UNITS[p99[1]])
    assert result.failed == sum(sockets or ()) + (non2xx or 0)
