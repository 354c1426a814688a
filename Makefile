# Two commands do all the set-up on a fresh clone:
#   make book   create .venv, install the pinned environment, execute every chapter at full size, build _build/html
#   make test   create .venv, install the pinned environment, run ruff, then the test suite (includes a smoke build of
#               the book and, with Chromium installed, the reader's check of its HTML)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book smoke-book test lint bench check-html clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m descrambler book --profile full

smoke-book: $(STAMP)
	$(PY) -m descrambler book --profile smoke

# The second pytest run repeats the fast tests on another code path of the same machine (torch's AVX2 kernels
# and MKL's AVX2 reproducibility mode instead of AVX-512), so a test that pins a last bit fails here before it
# fails on a reader's CPU. OpenBLAS's core type is left as the machine sets it.
ALT_CODE_PATH := MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2

test: $(STAMP)
	$(PY) -m ruff check src tests scripts book/_ext
	$(PY) -m pytest
	$(ALT_CODE_PATH) $(PY) -m pytest -q -m "not book" --deselect tests/test_wheel.py

lint: $(STAMP)
	$(PY) -m ruff check src tests scripts book/_ext

# A reader's check of the built book (make book first): links, images, figures, and with Chromium
# (Debian: apt install chromium) every page loaded headless, a screenshot each in _build/screenshots.
# make test runs the same check on the smoke book it builds.
check-html: $(STAMP)
	$(PY) -m descrambler check-html

bench: $(STAMP)
	$(PY) -m descrambler bench library --record benchmarks/results.jsonl
	$(PY) -m descrambler bench training --repeats 3 --out _build/bench-model.safetensors --record benchmarks/results.jsonl
	$(PY) -m descrambler bench descramble --record benchmarks/results.jsonl
	$(PY) -m descrambler bench replica --record benchmarks/results.jsonl
	for net in three_layer production denoiser; do $(PY) -m descrambler bench training --net $$net --record benchmarks/results.jsonl || exit 1; done
	$(PY) -m descrambler bench ensemble --record benchmarks/results.jsonl

clean:
	rm -rf _build
