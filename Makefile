# Turnaround — the two commands a newcomer needs: `make run` and `make test`.
# DATABASE_URL unset: SQLite file db.sqlite3; set: that database (e.g. PostgreSQL).

VENV   := .venv
PY     := $(VENV)/bin/python
ADDR   ?= 127.0.0.1:8000
# Links in emails and Slack messages point where this server runs, unless SITE_URL says where.
SITE_URL ?= http://$(ADDR)
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format setup lock bench-calendar clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.lock
	touch $(STAMP)

setup: $(STAMP)
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py setup_roles
	DEBUG=true $(PY) manage.py sync_schedules
	DEBUG=true $(PY) manage.py seed_demo --if-empty

# The web server and the django-q2 cluster together; Ctrl-C stops both. Ctrl-C reaches the
# cluster from the terminal (one signal: a second while it stops deadlocks its handler); the
# server, started in the background, ignores it, so the shell stops the server itself. If
# one of them ends on its own, the other is stopped.
run: setup
	@echo "Turnaround on http://$(ADDR)/  (logins: manager / dispatcher / performer / observer / admin, password: demo)"
	@export DEBUG=true DEMO_LOGINS=true SITE_URL='$(SITE_URL)'; bash -c 'interrupted=; \
	  $(PY) manage.py qcluster & cluster=$$!; \
	  $(PY) manage.py runserver $(ADDR) & server=$$!; \
	  trap "interrupted=1; kill -TERM $$server 2>/dev/null" INT; \
	  wait -n; status=$$?; \
	  if [ -n "$$interrupted" ]; then status=0; else kill -TERM $$cluster $$server 2>/dev/null; fi; \
	  wait; exit $$status'

# Style, the direction of imports between the apps (pyproject: tool.importlinter) and types of
# the pure modules and the writers (pyproject: tool.mypy).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	DEBUG=true $(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Whole suite, in parallel; browser tests run when Chromium is present (skipped otherwise).
test: lint
	$(VENV)/bin/pytest -n auto -p no:cacheprovider

# Re-resolve the lock from pyproject.toml ranges (then commit requirements.lock).
lock:
	rm -rf /tmp/turnaround-lock && python3 -m venv /tmp/turnaround-lock
	/tmp/turnaround-lock/bin/pip install --quiet --upgrade pip
	/tmp/turnaround-lock/bin/pip install --quiet '.[dev,prod,redis,sentry]'
	/tmp/turnaround-lock/bin/pip freeze --exclude turnaround > requirements.lock

# Benchmarks need their own environment (businesstimedelta is not a project dependency).
bench-calendar:
	test -x /tmp/bench-venv/bin/python || python3 -m venv /tmp/bench-venv
	/tmp/bench-venv/bin/pip install --quiet businesstimedelta pytz
	PYTHONPATH=. /tmp/bench-venv/bin/python bench/calendar_bench.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
