"""Test settings: the real settings, with jobs run in-process and fast password hashing.

django-q2 reads Q_CLUSTER once at import, so `sync` must be set here, not with
override_settings. Tests that need a real cluster start `manage.py qcluster` themselves.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only")
os.environ.setdefault("Q_SYNC", "true")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
