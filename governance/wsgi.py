import os

from django.core.wsgi import get_wsgi_application

from governance import heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

application = get_wsgi_application()
heap.freeze()  # in each gunicorn worker, once the apps are loaded
