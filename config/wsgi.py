import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps and their modules) lives as long as the process.
# Frozen, it is left out of the garbage collector's full passes, which otherwise walk all of
# it and land on the requests that trigger them, raising the dashboards' p95 (see
# docs/performance.md, "Dashboards"). Before gunicorn forks, it also keeps those pages shared.
gc.freeze()
