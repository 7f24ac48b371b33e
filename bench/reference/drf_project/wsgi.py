"""The WSGI application gunicorn serves (`drf_project.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_project.settings")

application = get_wsgi_application()
