"""gunicorn settings for Turnaround (`gunicorn -c deploy/gunicorn.conf.py config.wsgi`).

Every value can be overridden from the environment (the systemd unit reads
/etc/turnaround/turnaround.env). Sync workers: the pages are short database reads; a slow one
holds one worker, never the others.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Reports at a million cards answer within a second or two; a request still running after
# this is stuck, and its worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (with jitter, not all at once) so a slow leak stays harmless.
max_requests = 2000
max_requests_jitter = 200
# The reverse proxy on this host sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Access log to stdout (journald) with the request id the app puts on the response.
accesslog = "-"
errorlog = "-"
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)
# Load the app before forking: a broken settings file fails the start, not every worker.
preload_app = True
