# Renewal risk: `make demo` and `make test` do all set-up. `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/demo
OUT ?= out
ACCOUNTS ?= 3000
REPORT_TOP ?= 300
PORT ?= 3000

.DEFAULT_GOAL := help
.PHONY: help install demo serve browser test test-fast lint format bench clean notebooks notebooks-clean jupyter

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with pinned dependencies

AS_OF ?= 2026-11-01

demo: $(STAMP) ## Generate demo data, build snapshots, train and register, score, forecast, explain, report, monitor
	$(BIN)/churn demo-data --out $(DATA) --accounts $(ACCOUNTS)
	$(BIN)/churn build-features --data $(DATA) --out $(OUT)/snapshots.parquet
	$(BIN)/churn train --data $(DATA)
	$(BIN)/churn score --data $(DATA) --as-of $(AS_OF) --reasons 3 --out $(OUT)/scores.csv --store $(OUT)/snapshots.db
	$(BIN)/churn forecast --data $(DATA) --as-of $(AS_OF) --out $(OUT)/forecast.csv
	$(BIN)/churn explain --data $(DATA) --as-of $(AS_OF) --compare 30 --account "$$($(BIN)/python -c "import csv; print(next(csv.DictReader(open('$(OUT)/scores.csv')))['account_id'])")"
	$(BIN)/churn report --data $(DATA) --as-of $(AS_OF) --top $(REPORT_TOP) --out $(OUT)/portfolio.html
	$(BIN)/churn monitor --data $(DATA) --store $(OUT)/snapshots.db --out $(OUT)/monitor.json --html $(OUT)/monitor.html
	@echo ""
	@echo "Portfolio page: file://$(abspath $(OUT))/portfolio.html"
	@echo "Monitoring:     file://$(abspath $(OUT))/monitor.html (JSON: $(OUT)/monitor.json)"
	@echo "Start the API:  export CHURN_API_TOKEN=...; make serve   (the API wants the token as a bearer header:"
	@echo "                curl -H \"Authorization: Bearer \$$CHURN_API_TOKEN\" http://127.0.0.1:$(PORT)/portfolio/page)"

serve: $(STAMP) ## Serve the champion model and out/snapshots.db over HTTP (churn serve)
	$(BIN)/churn serve --port $(PORT) --store $(OUT)/snapshots.db --monitor-report $(OUT)/monitor.json

browser: ## Install Debian's Chromium for the browser tests, unless /usr/bin/chromium is already there
	@[ -x /usr/bin/chromium ] || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

test: $(STAMP) browser ## Run the whole test suite, browser tests included (the command CI runs)
	$(BIN)/pytest

test-fast: $(STAMP) ## Run the tests that need no server, browser or notebook
	$(BIN)/pytest -m "not slow"

NB_DATA ?= data/notebooks-demo
NB_ACCOUNTS ?= 600
NB_OUT ?= $(OUT)/notebooks

# Runs copies, not the committed files: notebooks/ stays free of outputs (a test rejects them) while
# out/notebooks/ holds the executed copies with their plots, its own mlflow.db (your champion in ./mlflow.db
# is never touched) and a first champion registered by `churn train`, so notebook 2 has one to compare with.
notebooks: $(STAMP) ## Run the three notebooks top to bottom, fresh kernels, on small demo data (into out/notebooks/)
	@[ -d $(NB_DATA) ] || $(BIN)/churn demo-data --out $(NB_DATA) --accounts $(NB_ACCOUNTS)
	@mkdir -p $(NB_OUT)
	@[ -f $(NB_OUT)/mlflow.db ] || (cd $(NB_OUT) && MLFLOW_TRACKING_URI=sqlite:///$(abspath $(NB_OUT))/mlflow.db $(abspath $(BIN))/churn train --data $(abspath $(NB_DATA)) --seed 1 >/dev/null)
	CHURN_DATA=$(abspath $(NB_DATA)) CHURN_WORKDIR=$(abspath $(NB_OUT)) MLFLOW_TRACKING_URI=sqlite:///$(abspath $(NB_OUT))/mlflow.db \
		$(BIN)/jupyter nbconvert --to notebook --execute --output-dir $(NB_OUT) \
		--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=600 notebooks/0*.ipynb
	@echo "Executed notebooks: $(abspath $(NB_OUT))/0*.ipynb"

notebooks-clean: $(STAMP) ## Strip outputs and execution counts from notebooks/*.ipynb (do this before committing)
	$(BIN)/jupyter nbconvert --clear-output --inplace --ClearMetadataPreprocessor.enabled=True \
		--ClearMetadataPreprocessor.clear_notebook_metadata=False notebooks/*.ipynb

jupyter: $(STAMP) ## Start JupyterLab with the project's venv as the kernel
	$(BIN)/python -m ipykernel install --sys-prefix --name renewal-risk --display-name "Python (renewal-risk)"
	$(BIN)/jupyter lab

lint: $(STAMP) ## Check lint and formatting
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP) ## Fix formatting and import order
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(STAMP) ## Run the benchmarks (feature building, training speed, quality vs the oracle)
	$(BIN)/python benchmarks/bench_build_features.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/eval_vs_oracle.py --data $(DATA)
	$(BIN)/python benchmarks/bench_monitor.py

clean: ## Remove generated data, outputs and the venv
	rm -rf $(VENV) data out mlflow.db mlartifacts .model-cache .pytest_cache .ruff_cache
