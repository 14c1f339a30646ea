# Two commands from a fresh clone (Python 3.11, make, apt): `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: setup run test test-fast bench samples clean browser toolchain wheels

setup: $(STAMP) browser toolchain wheels

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Headless Chromium for the browser tests: Debian's package (Playwright cannot download browsers here).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing Debian's chromium for the browser tests"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else echo "warning: /usr/bin/chromium missing and no apt-get; browser tests will fail"; fi

# gcc builds the stand-in libnvinfer stubs for the TensorRT API conformance check.
toolchain:
	@command -v gcc >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gcc >/dev/null; }

# The real TensorRT Python bindings (10.0, 10.16, 11.4) for the API conformance check, cached in .cache/wheels.
wheels: $(STAMP)
	$(PY) tests/trt_api/stubbed_env.py --download

# JupyterLab on the explorer notebook, its first cell already run: the app shows with a sample model loaded.
run: setup
	$(PY) -m explorer lab notebooks/explorer.ipynb --port $(PORT)

test: setup
	$(PY) -m pytest -q -ra

test-fast: $(STAMP)
	$(PY) -m pytest -q -ra -m "not browser and not slow"

bench: $(STAMP)
	$(PY) bench/analyze.py
	$(PY) bench/parser.py --nodes 100000 --bad-every 500
	PYTHONPATH=. $(PY) bench/fidelity.py
	$(PY) bench/fusions.py
	$(PY) bench/rtx_fusions.py
	$(PY) bench/logs.py
	$(PY) bench/build.py
	$(PY) bench/rtx_build.py
	$(PY) bench/browser.py --netron
	$(PY) bench/report.py
	$(PY) bench/app.py

samples: $(STAMP)
	$(PY) sample_models/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts build *.egg-info
