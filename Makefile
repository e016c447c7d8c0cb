# Two entry points (README): `make demo` runs the pipeline on the embedded demo dataset,
# `make test` runs lint and the test suite. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: demo test lint unit bench clean

$(BIN)/snakemake: requirements.txt pyproject.toml setup.py src/mmnet/datasets/_skeleton_text.c \
		src/mmnet/skeleton/_normalize.c
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# --rerun-incomplete: after a crash, `$(BIN)/snakemake --unlock --configfile config/demo.yaml`
# and `make demo` again finish the run (docs/running.md, "After a crash").
demo: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml --rerun-incomplete

lint: $(BIN)/snakemake
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint --configfile config/demo.yaml

test: lint
	$(BIN)/pytest

bench: $(BIN)/snakemake
	$(BIN)/python bench/parse_skeletons.py --json results/bench/parse_skeletons.json
	$(BIN)/python bench/pku_instances.py --json results/bench/pku_instances.json
	$(BIN)/python bench/frames.py --json results/bench/frames.json
	$(BIN)/python bench/roi.py --json results/bench/roi.json
	$(BIN)/python bench/train_step.py --frames 100 --json results/bench/train_step.json
	$(BIN)/python bench/demo_training.py --json results/bench/demo_training.json

clean:
	rm -rf results .snakemake
