#!/bin/bash
# Pack what bench/bench_gpu.py needs on a GPU machine with no network into one folder (default .device/),
# then run it there with `bash .device/run.sh COMMIT` from the checkout's root.
#
# Usage (in the checkout, with the venv of `make install`): bash bench/gpu_bundle.sh [FOLDER] [PY_VERSION]
#
# The folder holds: wheels of the dependencies a PyTorch image usually lacks (biopython, trimesh,
# robust-laplacian, fast-simplification, anarci; for PY_VERSION, default 3.12, manylinux x86-64), HMMER's
# hmmscan binary (ANARCI calls it; the hmmer wheel has no build for every Python), the GEP train / val
# complexes with their index rows (~20 MB; the data root is $ABSITES_DATA_ROOT or ../shared/data), and
# run.sh: install the wheels into /tmp/site, prepare train / val with 16 workers, time every network
# eagerly (bf16, configs/training/gpu.yaml), then compiled (--compile on), writing Markdown tables and logs to $OUT.
# Keep the folder out of git (.git/info/exclude) and carry it to the machine.
set -euo pipefail
DEST=${1:-.device}
PYV=${2:-3.12}
ROOT=${ABSITES_DATA_ROOT:-../shared/data}
PY=${PYTHON:-.venv/bin/python}
rm -rf "$DEST" && mkdir -p "$DEST/whl" "$DEST/hmmer" "$DEST/data"
for p in biopython trimesh robust-laplacian fast-simplification anarci; do
  v=$("$PY" -c "import importlib.metadata as m; print(m.version('$p'))")
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$DEST/whl" "$p==$v"
done
cp "$("$PY" -c 'import hmmer, os; print(os.path.join(hmmer.BIN_DIR, "hmmscan"))')" "$DEST/hmmer/"
"$PY" - "$ROOT" "$DEST/data" <<'PY'
import csv, os, shutil, sys
root, dest = sys.argv[1:]
with open(os.path.join(root, "index.csv"), newline="") as fh:
    rows = list(csv.DictReader(fh))
keep = [r for r in rows if r["split"] in ("train", "val")]
with open(os.path.join(dest, "index.csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(keep)
for r in keep:
    for f in [r["file"]] + [x for x in r.get("alt_files", "").split(";") if x]:
        if os.path.exists(os.path.join(root, f)):
            os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
            shutil.copy(os.path.join(root, f), os.path.join(dest, f))
print(f"{len(keep)} GEP train / val rows")
PY
cat > "$DEST/run.sh" <<'RUN'
#!/bin/bash
# bash .device/run.sh COMMIT (from the checkout's root). Env: OUT (tables, logs), DEVICE (cuda), EPOCHS (4),
# EAGER_S / COMPILED_S (time limits of the two passes), COMPILED_MODELS (comma list).
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$B"/whl/*.whl \
  || { echo "wheel install failed"; exit 3; }
chmod +x "$B/hmmer/hmmscan"
export PYTHONPATH=/tmp/site:$PWD/src PATH=$B/hmmer:$PATH ABSITES_DATA_ROOT=$B/data ABSITES_CACHE_DIR=/tmp/cache \
       PYTHONUNBUFFERED=1
{ echo "commit ${1:-?}"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c "import torch, torch_geometric, numpy, scipy; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/env.txt"
t0=$(date +%s)
timeout "${EAGER_S:-240}" python3 bench/bench_gpu.py --device "${DEVICE:-cuda}" --training gpu --epochs "${EPOCHS:-4}" \
  --compile off --workers 16 --out "$OUT/gpu_eager.md" > "$OUT/eager.log" 2>&1
echo "eager rc $? in $(( $(date +%s) - t0 )) s"
t1=$(date +%s)
timeout "${COMPILED_S:-240}" python3 bench/bench_gpu.py --device "${DEVICE:-cuda}" --training gpu --epochs "${EPOCHS:-4}" \
  --compile on --workers 16 --models "${COMPILED_MODELS:-epmp,egnn,gatv2,diffusionnet,pointnet,joint}" \
  --out "$OUT/gpu_compiled.md" > "$OUT/compiled.log" 2>&1
echo "compiled rc $? in $(( $(date +%s) - t1 )) s"
cat "$OUT"/gpu_*.md
RUN
chmod +x "$DEST/run.sh"
du -sh "$DEST"
