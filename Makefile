# GridGov. `make run` starts it with demo data; `make test` runs the whole suite.
PY := .venv/bin/python
# The second suite runs against these servers (override on the command line).
SERVICES_DATABASE_URL ?= postgis://postgres@127.0.0.1:5432/gridgov
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/15
# The benchmarks build their own data in their own database, away from demo and test data,
# reached through the server's Unix socket, as a server on the same two cores would be.
BENCH_DATABASE_URL ?= postgis://postgres@%2Fvar%2Frun%2Fpostgresql/gridgov_bench

.PHONY: run setup setup-test test test-embedded test-services run-test-embedded run-test-services bench lint messages clean

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_demo --cases 3000
	$(PY) manage.py serve

setup:
	bin/system-packages run
	bin/venv requirements.txt
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var -v0

setup-test:
	bin/system-packages test
	bin/venv requirements-dev.txt
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var -v0

# The whole suite twice, side by side: embedded (SpatiaLite, filesystem broker) and
# PostGIS + Redis. Much of a run waits on workers and the browser, so two runs in parallel
# take little longer than one; each prints its output when it ends.
test: setup-test
	@bin/check-services "$(SERVICES_DATABASE_URL)" "$(SERVICES_REDIS_URL)"
	$(MAKE) -j2 --output-sync=target run-test-embedded run-test-services

test-embedded: setup-test run-test-embedded

test-services: setup-test
	@bin/check-services "$(SERVICES_DATABASE_URL)" "$(SERVICES_REDIS_URL)"
	$(MAKE) run-test-services

run-test-embedded:
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

# Its own var/ folder: worker logs and files apart from the embedded run's.
run-test-services:
	GRIDGOV_VAR_DIR=$(CURDIR)/var/services DATABASE_URL=$(SERVICES_DATABASE_URL) \
	REDIS_URL=$(SERVICES_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

bench: setup-test
	bin/system-packages bench
	bin/start-services $(notdir $(BENCH_DATABASE_URL))
	@bin/check-services "$(BENCH_DATABASE_URL)" "$(SERVICES_REDIS_URL)"
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) $(PY) -m bench

lint: setup-test
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

# Refresh the translation catalogues after changing UI text.
messages: setup
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	$(PY) manage.py makemessages -d djangojs -l zh_Hans --ignore=.venv --ignore=var --ignore=static/vendor

clean:
	rm -rf var/test-* test-artifacts
