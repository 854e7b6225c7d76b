# One command runs it, one command tests it: both build .venv from nothing but Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHELL := /bin/bash

SSHD := /usr/sbin/sshd
PUPPET_PARTS := /usr/bin/puppet /usr/share/puppetserver/puppetserver.jar \
	/usr/share/puppetdb/puppetdb.jar /usr/lib/ruby/vendor_ruby/puppet/indirector/facts/puppetdb.rb

.PHONY: run test lint broker redis sshd puppet postgres chromium clean bench bench-quick wrk
BENCH_STAMP := $(VENV)/.bench-installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

run: $(STAMP)
	$(BIN)/podium serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The integration and end-to-end tests talk to a real RabbitMQ on 127.0.0.1:5672. Start it if it
# is not running, installing Debian's package first if it is missing.
broker:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then \
	  command -v rabbitmq-server >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server; }; \
	  echo "starting RabbitMQ"; rabbitmq-server -detached; \
	  for i in $$(seq 90); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done; \
	fi
	@(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { echo "RabbitMQ is not listening on 5672"; exit 1; }

# The ssh transport's tests run a real sshd (Debian's openssh-server), and its run-as tests need
# sudo on the target; install both if missing.
sshd:
	@test -x $(SSHD) -a -x /usr/bin/sudo || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		openssh-server sudo >/dev/null; }

# The Puppet tests run puppetserver and PuppetDB from Debian's packages (tests/puppet.py sets them
# up in a temporary directory for each session), PuppetDB on the local PostgreSQL. Install what
# is missing; dbconfig-common is told to leave PostgreSQL alone (the tests make their own
# database), and the services the packages start (agent, server, PuppetDB) are stopped and
# disabled: the tests run their own.
puppet: postgres
	@for part in $(PUPPET_PARTS); do test -e $$part || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "puppetdb puppetdb/dbconfig-install boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends puppet-agent puppetserver puppetdb puppet-terminus-puppetdb \
	    >/dev/null && \
	  { ! command -v systemctl >/dev/null || \
	    systemctl disable --now puppet puppetserver puppetdb >/dev/null 2>&1 || true; }; \
	fi

# PostgreSQL on 127.0.0.1:5432 for PuppetDB: installed if missing and started if not running.
postgres:
	@command -v pg_lsclusters >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
	  echo "starting PostgreSQL"; pg_ctlcluster $$(pg_lsclusters -h | awk 'NR == 1 {print $$1, $$2}') start; \
	fi

# The web view's tests (and the README's screenshots) drive Debian's chromium with Playwright,
# through its executable_path: Playwright never downloads a browser. Install it if missing.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) lint broker sshd puppet chromium
	$(BIN)/pytest -q

# Benchmarks report, they never fail CI, and are not part of `make test`. They need the broker,
# wrk (Debian's package) as the HTTP load generator, and py-spy, uvloop, and Celery, Dramatiq and
# redis for figure 11's peers (the `bench` extra).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Figure 11's peers (Celery, Dramatiq) keep their results in a local Redis on 127.0.0.1:6379
# (database 15): Debian's package, started if it is not listening, keeping nothing on disk.
redis:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
	  command -v redis-server >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }; \
	  echo "starting Redis"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; \
	  for i in $$(seq 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 1; done; \
	fi
	@(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null || { echo "Redis is not listening on 6379"; exit 1; }

bench: $(BENCH_STAMP) broker redis wrk
	$(BIN)/python -m benchmarks

bench-quick: $(BENCH_STAMP) broker redis wrk
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
