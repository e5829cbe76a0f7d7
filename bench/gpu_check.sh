#!/usr/bin/env bash
# GPU check for softtree's CUDA backend, for a machine with an NVIDIA GPU, its driver, nvcc
# and deno, and no network (the npm packages must already be in node_modules or deno's
# cache: run `deno task test` once while online, or copy the checkout with node_modules/).
#
#   bench/gpu_check.sh            # about 3-5 minutes
#
# 1. builds ffi/build/libsdt_cuda.so for this GPU (nvcc -arch=native),
# 2. runs the CUDA parity suite (tests/cuda_parity_test.ts) — it must not be ignored here,
# 3. runs the training/evaluation benchmark with the CUDA backend against tfjs,
# and prints a short report. Logs are kept in $OUT (default: a temporary folder).
# Exit status: non-zero when the build or the parity suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."
DENO=${DENO:-deno}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export SOFTTREE_CUDA_ARCH=${SOFTTREE_CUDA_ARCH:--arch=native}
status=0

echo "== softtree gpu check ($(date -u +%FT%TZ)), logs in $OUT"
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
echo "gpu:   ${gpu:-nvidia-smi not found}"
echo "nvcc:  $(nvcc --version 2>/dev/null | tail -1)"

if timeout 300 "$DENO" run -A ffi/build.ts --force >"$OUT/build.log" 2>&1 &&
  grep -q "^cuda: built" "$OUT/build.log"; then
  echo "build: ok ($(grep -c built "$OUT/build.log") libraries)"
else
  echo "build: FAILED"; sed -n 1,30p "$OUT/build.log"; exit 1
fi

timeout 300 "$DENO" test -A tests/cuda_parity_test.ts >"$OUT/parity.log" 2>&1
rc=$?
summary=$(grep -E "^(ok|FAILED) \|" "$OUT/parity.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g')
if [ $rc -ne 0 ] || grep -q "ignored" <<<"$(grep -E '^cuda: (forward|gradients)' "$OUT/parity.log")"; then
  echo "parity: FAILED or ignored (rc $rc): $summary"
  grep -E "FAILED|ignored|error" "$OUT/parity.log" | sed 's/\x1b\[[0-9;]*m//g' | head -20
  status=1
else
  echo "parity: $summary"
fi

timeout 360 "$DENO" run -A bench/tree_bench.ts --backend cuda --seconds 1.5 >"$OUT/bench.log" 2>&1
rc=$?
echo "bench (rc $rc):"
sed 's/^/  /' "$OUT/bench.log" | tail -8
timeout 120 "$DENO" run -A bench/tree_bench.ts --backend native --seconds 1 >"$OUT/bench_native.log" 2>&1
echo "native on the same machine:"
grep -E "^(train|evaluate)" "$OUT/bench_native.log" | sed 's/^/  /'
echo "== done: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
