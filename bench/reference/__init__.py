"""Reference benchmarks: other OAuth 2.0 providers measured on this machine the way the C42
benchmark measures ours, for comparison only (not part of `make test`, `make bench` or CI).

`bench.reference.dot`: django-oauth-toolkit's refresh-token grant (issue 4's yardstick).
"""
