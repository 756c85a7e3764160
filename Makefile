# MSD Portaal — the two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/src
export DJANGO_ALLOW_ASYNC_UNSAFE := true

# The development environment `make run` uses. Production sets its own (docs/configuration.md).
DEV_ENV := MSD_ENVIRONMENT=development DJANGO_DEBUG=true \
	DJANGO_SECRET_KEY=development-only-not-secret DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost \
	MSD_DEV_LOGIN_ENABLED=true MSD_SECURE_COOKIES=false \
	MSD_RINIS_URL=https://127.0.0.1:8443/rinis/ggk \
	MSD_RINIS_CLIENT_CERT=var/certs/portal-client.pem MSD_RINIS_CLIENT_KEY=var/certs/portal-client-key.pem \
	MSD_RINIS_CA_BUNDLE=var/certs/ca.pem MSD_RINIS_FACING_URL=https://127.0.0.1:8001 \
	MSD_TRUST_CLIENT_CERT_HEADERS=true MSD_PROXY_SECRET=development-only-proxy-secret-not-secret \
	MSD_OUTBOX_SWEEP_SECONDS=5 MSD_RINIS_RETRY_BASE_SECONDS=5

.PHONY: run test lint format venv lock migrate demo clean bench-upload bench-forward bench-deadline bench-tus bench-locust audit messages restore-drill

$(VENV)/.installed: requirements/lock.txt
	@PYTHON=$$(scripts/find-python) && { [ -x $(PY) ] || $$PYTHON -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/lock.txt
	$(PY) -m pip install --quiet --no-deps -e .  # the msd-aanlever command (docs/api.md)
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(DEV_ENV) $(PY) manage.py migrate --no-input
	$(PY) -m rinis_simulator.devcerts var/certs
	$(DEV_ENV) $(PY) manage.py load_demo_data
	@echo "MSD Portaal: http://127.0.0.1:8000  (ontwikkel-login: http://127.0.0.1:8000/ontwikkel-login/)"
	$(DEV_ENV) $(VENV)/bin/honcho --procfile Procfile start

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# Django's own checks need settings; the test settings need no environment.
LINT_DJANGO := DJANGO_SETTINGS_MODULE=msdportaal.conf.test_settings

lint: venv
	$(VENV)/bin/ruff check src bench scripts
	$(VENV)/bin/ruff format --check src bench scripts
	$(LINT_DJANGO) $(PY) manage.py makemigrations --check --dry-run
	$(LINT_DJANGO) $(PY) manage.py check_migrations

format: venv
	$(VENV)/bin/ruff check --fix src bench scripts
	$(VENV)/bin/ruff format src bench scripts

# Compiles the Dutch overrides of Django's and third-party admin strings (GNU gettext's
# msgfmt); commit the .mo with the .po.
messages:
	msgfmt --check -o src/msdportaal/locale/nl/LC_MESSAGES/django.mo src/msdportaal/locale/nl/LC_MESSAGES/django.po

# Re-pins every dependency (with hashes) from requirements/*.in.
lock: venv
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile --python-version 3.12 --generate-hashes requirements/dev.in -o requirements/lock.txt

# Benchmarks (not part of the test suite); results go in docs/performance.md.
bench-upload: venv
	$(PY) bench/upload $(BENCH_ARGS)

bench-forward: venv
	$(PY) bench/forward $(BENCH_ARGS)

bench-deadline: venv
	$(PY) bench/deadline $(BENCH_ARGS)

bench-tus: venv
	$(PY) bench/tus $(BENCH_ARGS)

bench-locust: venv
	$(PY) bench/locust $(BENCH_ARGS)

# Every pinned dependency against the known vulnerabilities (pip-audit; needs the network to
# reach PyPI's vulnerability data). Fails on a vulnerability, and fails loudly (exit 3) when
# the service cannot be reached, since then nothing was checked. AUDIT_ARGS=--unreachable-ok
# turns the latter into a warning; AUDIT_ARGS="--service osv" asks OSV instead.
audit: venv
	$(PY) scripts/audit.py $(AUDIT_ARGS)

# The restore drill on this machine (docs/operations.md, "Restore drill"): PostgreSQL and
# Redis on 127.0.0.1 (or DATABASE_URL / CELERY_BROKER_URL), an S3 server (moto) started
# for it; prints the measured times. Against a real environment: scripts/restore-drill drill.
restore-drill: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/msdportaal} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15} MSD_TEST_S3=1 \
	$(PY) -m pytest -m cluster -s -q src/msdportaal/operations/tests/test_restore_drill.py $(PYTEST_ARGS)

clean:
	rm -rf var/
