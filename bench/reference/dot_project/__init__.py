"""The reference Django project: django-oauth-toolkit's endpoints under /o/, nothing of ours.

Runs only in var/reference/venv (bench/reference/dot.py installs it), never in C42's own
virtualenv; bench/reference/dot.py starts it with that venv's gunicorn and seeds it with
`python -m dot_project.seed`, both from bench/reference/.
"""
