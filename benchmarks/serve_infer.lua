-- Makes wrk POST one Open Inference Protocol request body, taken from SERVE_BENCH_BODY
-- (benchmarks/serve_wrk.py sets it), as JSON to the URL it is given.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("SERVE_BENCH_BODY") or error("SERVE_BENCH_BODY is not set")
