"""The C42 benchmark: `make bench` (or `.venv/bin/python -m bench.run --help`).

Seeds a fresh database through the migrations and Core bulk inserts (`bench.seed`), serves it
the way production does (`c42 serve --workers 2`, `bench.server`), drives it with wrk
(`bench.wrk`) through a list of named scenarios (`bench.scenarios`) and reports req/s,
p50/p99 latency, the ratio against the unauthenticated health check and the workers' peak
memory (`bench.report`). `bench.profile` shows where the time of one request goes;
`bench.dpop_cost` what a DPoP proof costs a request, in one process (issue 16).
"""
