"""The reference Django REST framework project: C42's events list (GET /api/v2/events/) and a
health check, over a copy of C42's benchmark database, as a Django/DRF developer would write
them; DRF token and django-oauth-toolkit Bearer authentication.

Runs only in var/reference/venv (bench/reference/venv.py installs it), never in C42's own
virtualenv; bench/reference/drf.py starts it with that venv's gunicorn and seeds it with
`python -m drf_project.seed`, both from bench/reference/.
"""
