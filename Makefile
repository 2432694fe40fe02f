# pardus — the two entry points of a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PARDUS := $(VENV)/bin/pardus
DEMO_DIR ?= demo-output
DEMO_REPLICATES ?= 40
DEMO_NONSPATIAL_REPLICATES ?= 200

.PHONY: demo test venv install install-dev browser bench posterior clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# after installing, compile the numba kernels into their cache once, so that no run (and no
# worker process) has to compile them again
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	$(PY) -m pardus.kernels
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The end-to-end report test drives a real headless Chromium through chromedriver
# (Debian packages). Installed here when missing and we may use apt-get.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver (Debian) for the browser test"; \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "WARNING: installing chromium failed: the browser test will be skipped"; \
	else echo "chromium/chromedriver missing and cannot be installed: the browser test will be skipped"; fi

# The main job: amur-2015 on the embedded default landscape against firebreaks around the park
# core and highway crossings, each replicate with a parameter set of the calibration on the map
# (--posterior amur-history); where a crossing on the coastal highway would carry the most
# movement between the park core and the coastal forest (circuit theory on the same map);
# then the non-spatial form's intervention scenarios.
demo: install
	$(PARDUS) compare \
	  examples/spatial-baseline.toml \
	  examples/spatial-firebreaks.toml \
	  examples/spatial-crossing.toml \
	  --posterior amur-history \
	  --replicates $(DEMO_REPLICATES) --seed 2015 --output $(DEMO_DIR)/results.nc
	$(PARDUS) summary $(DEMO_DIR)/results.nc --csv $(DEMO_DIR)/summary.csv
	$(PARDUS) connectivity examples/spatial-baseline.toml \
	  --core zone:core --core examples/coastal-strip.geojson --candidates highway \
	  --output $(DEMO_DIR)/connectivity/highway
	$(PARDUS) report $(DEMO_DIR)/results.nc --output $(DEMO_DIR)/report --connectivity $(DEMO_DIR)/connectivity/highway
	$(PARDUS) compare \
	  examples/amur-2015-baseline.toml \
	  examples/amur-2015-anti-poaching.toml \
	  examples/amur-2015-vaccination.toml \
	  examples/amur-2015-lazovsky-release.toml \
	  --posterior amur-history-nonspatial \
	  --replicates $(DEMO_NONSPATIAL_REPLICATES) --seed 2015 --output $(DEMO_DIR)/nonspatial/results.nc
	$(PARDUS) summary $(DEMO_DIR)/nonspatial/results.nc --csv $(DEMO_DIR)/nonspatial/summary.csv
	$(PARDUS) report $(DEMO_DIR)/nonspatial/results.nc --output $(DEMO_DIR)/nonspatial/report
	@echo "report (the map): $(DEMO_DIR)/report/report.html"
	@echo "report (non-spatial interventions): $(DEMO_DIR)/nonspatial/report/report.html"

test: install-dev browser
	$(PY) -m pytest -q -rs -p no:cacheprovider tests

bench: install
	$(PY) benchmarks/bench_nonspatial.py

# The shipped calibrations: amur-history (on the map) and amur-history-nonspatial fitted to the
# shipped census record (records/amur.csv). amur-2015 and amur-2015-nonspatial take their
# calibrated values from these posteriors (tests/unit/test_calibration.py checks that they
# agree) and `make demo` projects with them (--posterior). On the map a simulation costs about a
# hundred times more: its calibration stops after the generation that passes 12,000 simulations
# (about 40 minutes on two cores); the non-spatial one keeps the kernel of its first calibration
# (--prior-share 0) and takes about 7 minutes.
posterior: install
	$(PARDUS) calibrate amur-history --record amur --seed 1970 --max-simulations 12000 \
	  --output src/pardus/records/amur-history.posterior.nc --figures docs/figures
	$(PARDUS) calibrate amur-history-nonspatial --record amur --seed 1970 --prior-share 0 \
	  --output src/pardus/records/amur-history-nonspatial.posterior.nc --figures docs/figures

# Regenerate the example outputs in README.md and docs/ from the current engine: every block
# between <!-- generated: COMMAND --> and <!-- end generated --> (docs/regenerate.py --help).
.PHONY: docs
docs: install
	$(PY) docs/regenerate.py
	$(VENV)/bin/pardus landscape show default -o docs/figures/default-landscape.png > /dev/null
	$(VENV)/bin/pardus landscape fire -n 8 --years 30 -s 1 -o docs/figures/fire-burn-probability.png > /dev/null
	rm -rf build/docs-map && mkdir -p build/docs-map
	$(VENV)/bin/pardus compare examples/spatial-baseline.toml examples/spatial-firebreaks.toml examples/spatial-crossing.toml -n 8 -s 2015 -o build/docs-map/results.nc > /dev/null
	$(VENV)/bin/pardus report build/docs-map/results.nc -o build/docs-map/report > /dev/null
	cp build/docs-map/report/figures/maps.png docs/figures/spatial-maps.png
	$(VENV)/bin/pardus connectivity examples/spatial-baseline.toml --core zone:core --core examples/coastal-strip.geojson \
	  --candidates highway -o build/docs-map/connectivity/highway > /dev/null
	cp build/docs-map/connectivity/highway.png docs/figures/connectivity-highway.png

clean:
	rm -rf $(VENV) $(DEMO_DIR) build src/*.egg-info
