# Set-up, the bot on its embedded default, and the test suite. Each target installs what it needs.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test quick lint typecheck pytest bench campaign clean cluster-soak

$(STAMP): pyproject.toml setup/debian-packages.txt
	bash setup/install-system-packages.sh
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

## run: the bot on SQLite with the built-in emulators; publishes the sample food-safety release
run: $(STAMP)
	$(BIN)/publisher run --sandbox --demo

## test: lint, type check, then every test (SQLite and PostgreSQL)
test: lint typecheck pytest

## quick: the fast subset while working (no subprocesses, no PostgreSQL); `make test` before a commit
quick: $(STAMP)
	$(BIN)/pytest -q -m "not slow and not postgres"

lint: $(STAMP)
	$(BIN)/ruff check publisher channels tests bench samples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/dispatch_throughput.py

## campaign: the full fault campaign: 40 SIGKILLs under 20 % network faults on SQLite, 20 on
## PostgreSQL (127.0.0.1:5432, its own database); prints a summary table each; SEED=N replays
campaign: $(STAMP)
	seed=$(SEED); seed=$${seed:-$$($(BIN)/python -c 'import random; print(random.SystemRandom().randrange(1, 10**6))')}; rc=0; \
	$(BIN)/python -m tests.support.campaign --seed $$seed --kills 40 --fault-rate 0.2 --database sqlite || rc=1; \
	$(BIN)/python -m tests.support.campaign --seed $$seed --kills 20 --fault-rate 0.2 --database postgresql || rc=1; \
	exit $$rc

cluster-soak: $(STAMP)
	PUBLISHER_CLUSTER_REPEATS=20 $(BIN)/pytest -q tests/test_cluster.py -k killed

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
