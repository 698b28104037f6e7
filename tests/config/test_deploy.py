"""Deployment: the gunicorn config loads, production settings pass `check --deploy`, and the
README documents every environment variable the settings read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECRET_KEY": "a-production-key-" + "x" * 50,
    "ALLOWED_HOSTS": "turnaround.example.com",
}


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Not what the test process runs with (browser tests set DJANGO_ALLOW_ASYNC_UNSAFE).
    ignored = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environ = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(
        args, cwd=BASE, env=environ | PRODUCTION | env, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_production_settings():
    done = _run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_gunicorn_config_loads():
    gunicorn = Path(sys.executable).with_name("gunicorn")
    done = _run(str(gunicorn), "--check-config", "-c", "deploy/gunicorn.conf.py", "config.wsgi")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_units_run_the_app_from_the_env_file():
    for unit in ("turnaround-web.service", "turnaround-cluster.service", "turnaround-mail.service"):
        text = (BASE / "deploy" / unit).read_text()
        assert "EnvironmentFile=/etc/turnaround/turnaround.env" in text
        assert "User=turnaround" in text
    assert "qcluster" in (BASE / "deploy/turnaround-cluster.service").read_text()
    assert "gunicorn.conf.py" in (BASE / "deploy/turnaround-web.service").read_text()
    assert "mail_intake --listen" in (BASE / "deploy/turnaround-mail.service").read_text()


def test_the_readme_documents_every_variable_the_settings_read():
    sources = (BASE / "config/settings.py").read_text() + (
        BASE / "deploy/gunicorn.conf.py"
    ).read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', sources))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', sources))
    readme = (BASE / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert names and missing == []
