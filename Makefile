# absites — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
WORKERS ?= 2
IDS    ?= 1ahw 3gjf
BASE   ?= a367388

.PHONY: install test test-fast test-all demo data prepare prepare-sample prepare-surface train train-default predict evaluate bench bench-tables bench-gep bench-docking bench-pecan bench-robustness bench-unbound bench-data-effect bench-prepare bench-numbering bench-surface bench-train bench-speedup bench-profile bench-gpu bench-throughput bench-predict bench-ceiling bench-pool-cv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## make test: the test suite CI runs; the long, network and GPU tests only with make test-all
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make test-fast: the inner loop, without the tests marked slow (DDP, Dask, kill-and-rerun, long training)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not long and not network and not gpu"

## make test-all: also the long tests (default-resolution surfaces of every sample complex) and those that need
## the network (PDB downloads) or a CUDA device
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

## make demo: predict a sample complex (Fab + tissue factor, 1ahw) with the shipped models
DEMO_IN ?= $(firstword $(wildcard ../shared/data/sample/structures/1ahw_BA_C.pdb.gz) $(wildcard $(ABSITES_DATA_ROOT)/sample/structures/1ahw_BA_C.pdb.gz))
demo: $(STAMP)
	@test -n "$(DEMO_IN)" || { echo "no sample structure: put ../shared/data beside the checkout, set ABSITES_DATA_ROOT, or run make data IDS=1ahw and DEMO_IN=data/pdb/1ahw.cif.gz"; exit 2; }
	$(BIN)/absites predict $(DEMO_IN) --out predictions/demo
	@echo "outputs in predictions/demo/ (open the .html in a browser; load the _prob.pdb in PyMOL: spectrum b)"

## make data IDS="1ahw 3gjf": download PDB entries by id into data/pdb (needs network)
data: $(STAMP)
	$(BIN)/absites fetch $(IDS)

## make prepare: residue graphs for every complex of the index (manifest lists skips)
prepare: $(STAMP)
	$(BIN)/absites prepare --workers $(WORKERS)

prepare-sample: $(STAMP)
	$(BIN)/absites prepare --data sample --workers $(WORKERS)

## make prepare-surface DATA=sample: residue graphs plus O-GEP surfaces (meshes, eigenpairs, HKS/WKS)
DATA ?= default
prepare-surface: $(STAMP)
	$(BIN)/absites prepare --data $(DATA) --surface --workers $(WORKERS)

## make train MODEL=epmp [TRAINING=default]: train on the GEP train split, early stopping on val
MODEL ?= epmp
TRAINING ?= default
RUN ?= runs/$(MODEL)-seed42
train: $(STAMP)
	$(BIN)/absites train --model $(MODEL) --training $(TRAINING) --out $(RUN) --workers $(WORKERS)

## make train-default [ONLY=member,...]: train the models of configs/default_models.yaml and ship them in the
## package (ONLY: retrain just those members, keep the others as shipped, ONLY=none: no member; ensembles
## and cards are redone)
ONLY ?=
train-default: $(STAMP)
	$(BIN)/python -m absites.train.default --workers $(WORKERS) $(if $(ONLY),--only $(ONLY))

## make predict IN=complex.pdb OUT=predictions: the shipped models on any structure
IN ?= $(firstword $(wildcard ../shared/data/sample/structures/1ahw_BA_C.pdb.gz))
OUT ?= predictions
predict: $(STAMP)
	$(BIN)/absites predict $(IN) --out $(OUT)

## make evaluate RUN=runs/epmp-seed42 SPLIT=test
SPLIT ?= test
evaluate: $(STAMP)
	$(BIN)/absites evaluate --checkpoint $(RUN) --split $(SPLIT)

## make bench: the benchmark tables (results/<benchmark>/), then the speed benchmark scripts
bench: bench-tables bench-robustness bench-unbound bench-data-effect bench-prepare bench-numbering bench-surface bench-train bench-throughput bench-predict

## make bench-tables: every model x 5 seeds on the GEP, docking and PECAN benchmarks (resumable; JOBS=2)
JOBS ?= 2
bench-tables: bench-gep bench-docking bench-pecan

bench-gep bench-docking bench-pecan: bench-%: $(STAMP)
	$(BIN)/absites bench $* --jobs $(JOBS)

## make bench-robustness: every trained GEP run on test structures with 0.5 / 1.0 A coordinate noise (resumable)
bench-robustness: $(STAMP)
	$(BIN)/absites robustness gep --sigmas 0.5,1.0

## make bench-unbound: trained runs and shipped models on bound vs unbound docking inputs (resumable)
bench-unbound: $(STAMP)
	$(BIN)/absites bench docking-unbound --jobs $(JOBS)

## make bench-data-effect: each test split's rows on their own train set vs the pooled indexes (reads records)
bench-data-effect: $(STAMP)
	$(BIN)/absites bench data-effect

bench-prepare: $(STAMP)
	$(BIN)/python bench/bench_prepare.py

bench-numbering: $(STAMP)
	$(BIN)/python bench/bench_numbering.py

## make bench-surface: surface seconds per complex, and the PyMOL route when the [pymol] extra is installed
bench-surface: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,pymol]"
	$(BIN)/python bench/bench_surface.py

## make bench-train: seconds per epoch and val metrics per model on the GEP train subset (CPU, ~10 min)
bench-train: $(STAMP)
	$(BIN)/python bench/bench_train.py

## make bench-speedup: s/epoch of this tree against an earlier commit (BASE=a367388), interleaved in one session
bench-speedup: $(STAMP)
	$(BIN)/python bench/bench_speedup.py --base $(BASE)

## make bench-profile: where one training epoch spends its time (torch.profiler), per network, 2 threads
bench-profile: $(STAMP)
	$(BIN)/python bench/profile_train.py --surface-config fast

## make bench-gpu: every network 3 epochs on CUDA with configs/training/gpu.yaml (eager; add --compile both for compiled rows) -> bench/gpu_timing.md
bench-gpu: $(STAMP)
	$(BIN)/python bench/bench_gpu.py --out bench/gpu_timing.md

clean:
	rm -rf cache .pytest_cache

## make bench-throughput: prepare complexes per minute, 1 vs 2 workers, full index
bench-throughput: $(STAMP)
	$(BIN)/python bench/bench_throughput.py

## make bench-ceiling: epitope MCC of val-chosen and test-chosen (ceiling) cuts of gep-plus runs' scores
bench-ceiling: $(STAMP)
	$(BIN)/python bench/threshold_ceiling.py

## make bench-pool-cv: the gbm members cross-validated on the 771-complex training pool, folds by antigen family
bench-pool-cv: $(STAMP)
	$(BIN)/python bench/pool_cv.py

## make bench-predict: end-to-end seconds of absites predict (cold start, CPU, surfaces included)
bench-predict: $(STAMP)
	$(BIN)/python bench/bench_predict.py
