#!/usr/bin/env bash
# The GPU run, on a lent CUDA machine, from the repository root (see benchmarks/RESULTS.md).
#   bash benchmarks/gpu_run.sh tests   # the whole test suite with CUDA (CUDA tests run instead of skipping)
#   bash benchmarks/gpu_run.sh bench   # every benchmark, CPU and CUDA rows, into $OUT (or benchmarks/gpu-run)
# Packages the machine lacks travel as wheels in .whl/ (no network there); sensekit installs from the
# checkout without building anything. Each mode fits in one 10-minute call.
set -uo pipefail
mode="${1:-tests}"
out="${OUT:-benchmarks/gpu-run}"
mkdir -p "$out"
py=python3
if compgen -G ".whl/*.whl" >/dev/null; then
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
$py -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null || exit 1
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
export SENSEKIT_DATA="${SENSEKIT_DATA:-$PWD/.data}"   # carry real data as .data/ to run the realdata tests
{ nvidia-smi; $py -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"; } \
  > "$out/machine.txt" 2>&1
case "$mode" in
  tests) $py -m pytest -q -ra -p no:cacheprovider 2>&1 | tee "$out/pytest.txt" ;;
  bench) $py -m benchmarks --out "$out" 2>&1 | tee "$out/benchmarks.log" ;;
  *) echo "usage: $0 tests|bench" >&2; exit 2 ;;
esac
