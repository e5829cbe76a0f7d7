#!/usr/bin/env bash
# GPU check of softtree's CUDA backends in one go: build, compare, time. It covers both native
# libraries, the tree's (ffi/sdt.h) and the teacher's ConvNet kernels (ffi/stk.h). It needs only
# bash, gcc, nvcc, the NVIDIA driver and the repository's tracked files: no Deno, no npm, no
# network and no folder built beforehand (a bare machine with CUDA's compiler will do).
#
#   bash bench/gpu_check.sh         # OUT=dir keeps the report and logs there
#
# 1. Builds, into a temporary folder, ffi/sdt_cpu.c and ffi/stk_cpu.c with gcc and
#    ffi/sdt_cuda.cu and ffi/stk_cuda.cu with nvcc using ffi/build.ts's flags (the CPU level
#    from /proc/cpuinfo as build.ts picks it, SOFTTREE_MARCH overriding; nvcc -arch=native
#    where a GPU is present, SOFTTREE_CUDA_ARCH overriding), and the check harnesses
#    ffi/check/gpu_parity.c (the tree) and ffi/check/stk_parity.c (the teacher's kernels).
# 2. The CPU halves. The tree: the launch arithmetic of the CUDA kernels, the CPU build against
#    a float64 reference and finite differences, and against itself with another thread count.
#    The teacher's kernels: every entry point of the CPU build against plain float64 loops
#    (and stk_sgemm against stk_sgemm_naive), with 1 thread against 2, its argument checks;
#    without a GPU, also the CUDA build's argument checks and that every entry point refuses
#    to run (ffi/check/*.c say what exactly). `deno task test` runs the same halves.
# 3. With a GPU, both products of each CUDA build, one after the other, each against its CPU
#    build, then timed. The teacher's kernels first (their runs are short): every entry point
#    on the teacher's shapes (batches 1, 17, 256) and odd ones, three chained training steps
#    of the whole net, and the net's training step and inference timed. Then the tree: depths
#    1/4/8/12, batches 1/7/64/4096, both losses, fixed and learned beta, plus a batch of
#    1,100,000 rows. For each library:
#      a. cuBLAS: the libcublas.so* found under python3's site-packages (the pip package
#         nvidia-cublas) or the CUDA install, through SOFTTREE_CUBLAS=<its path>; also times
#         the CPU build on this machine's cores;
#      b. the library's own GEMM kernel: SOFTTREE_CUBLAS=none;
#      c. a SOFTTREE_CUBLAS path that does not exist must be refused, not replaced (the
#         teacher's kernels: by every entry point).
#    Each run checks that the library's build info names the product path in use.
#    SOFTTREE_REQUIRE_CUDA=1 holds for these runs: a CUDA library that cannot run fails them.
# 4. Writes report.txt and the logs (build.log, cpu_half.log, cuda_cublas.log, cuda_own.log,
#    stk_cpu_half.log, stk_cuda.log: seven files) into $OUT when set, else into a temporary
#    folder, and prints the report. The last line is `gpu check: PASS` or
#    `gpu check: FAIL (reasons)`; the exit status 0 or 1. Without a GPU the CPU halves still
#    run, then the check fails saying that there is none.
#
# Time: every step runs under `timeout`, bounded by one deadline 290 s after the start, so the
# check ends within 5 minutes whatever happens (a step cut off is a failure that says so). How
# long it should take on an H200 machine (16 cores): on the 2-core machine where this was
# written, shared and without a GPU, the four library builds take about 25 s, the tree's CPU
# half 3-5 s, the teacher kernels' CPU half 4 s, the tree's CPU timings 45 s (data included),
# and the whole tree parity matrix with the CPU build on both sides (1 thread against 2) 94 s.
# A GPU run has the CPU build on one side only, on 8 times the cores, so each of the two tree
# runs should take well under that 94 + 45 s bound; the CUDA side is small next to it (the
# largest case, depth 12 batch 4096, is about 1 GFLOP a step). A teacher-kernel run with a
# second copy of the CPU build standing in for the CUDA build takes about 40 s here, timing
# included, most of it the CPU side and the single-threaded float64 references; those runs
# are capped at 75 s each.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
START=$SECONDS
DEADLINE=$((START + 290))
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
REPORT="$OUT/report.txt"
: >"$REPORT"
FAILS=()

say() { printf '%s\n' "$*" | tee -a "$REPORT"; }
fail() {
  FAILS+=("$1")
  say "FAIL: $1"
}
finish() {
  say ""
  say "elapsed: $((SECONDS - START)) s; report and logs in $OUT"
  if [ ${#FAILS[@]} -eq 0 ]; then
    say "gpu check: PASS"
    exit 0
  fi
  local IFS=';'
  say "gpu check: FAIL (${FAILS[*]})"
  exit 1
}
# The last line of a log, without "result: ", cut to 300 characters.
short() { tail -1 "$1" | sed 's/^result: //' | cut -c1-300; }
# run_step CAP LOG CMD...: CMD under a timeout of CAP seconds or what is left before the
# deadline, output appended to LOG; returns CMD's status (124: cut off).
run_step() {
  local cap=$1 log=$2
  shift 2
  local left=$((DEADLINE - SECONDS))
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -le 0 ]; then
    echo "not run: the 290 s deadline has passed" >>"$log"
    return 124
  fi
  timeout -k 5 "$cap" "$@" >>"$log" 2>&1
}

# ---------------------------------------------------------------- the machine
say "== softtree gpu check, $(date -u +%FT%TZ)"
GPU=""
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null |
    head -1)
fi
say "gpu:   ${GPU:-none (nvidia-smi is missing or lists no GPU)}"
say "cpu:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
say "gcc:   $(gcc --version 2>/dev/null | head -1 || echo missing)"
NVCC=${NVCC:-nvcc}
say "nvcc:  $("$NVCC" --version 2>/dev/null | tail -1 || echo missing)"

# ---------------------------------------------------------------- 1. builds
# The CPU level, as ffi/build.ts's cpuLevel() reads it.
cpu_level() {
  local flags f
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
  if [ "$(uname -m)" != x86_64 ]; then echo native; return; fi
  if ! has cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3; then echo x86-64; return; fi
  # no "abm" (LZCNT): some hypervisors hide that flag on CPUs that have it, as build.ts says
  if ! has avx avx2 bmi1 bmi2 f16c fma movbe xsave; then echo x86-64-v2; return; fi
  if ! has avx512f avx512bw avx512cd avx512dq avx512vl; then echo x86-64-v3; return; fi
  echo x86-64-v4
}
MARCH=${SOFTTREE_MARCH:-$(cpu_level)}
if [ -n "$GPU" ]; then ARCH_DEFAULT="-arch=native"; else
  ARCH_DEFAULT="-gencode=arch=compute_90,code=sm_90" # no GPU: a compile check only
fi
read -r -a ARCH <<<"${SOFTTREE_CUDA_ARCH:-$ARCH_DEFAULT}"
LOG="$OUT/build.log"
: >"$LOG"
CPU_CMD=(gcc -std=c11 -O3 -fno-math-errno -fPIC -shared -Wall -Wno-psabi -Wl,-z,nodelete
  "-march=$MARCH" "-DSOFTTREE_TARGET=\"$MARCH\"" -fopenmp sdt_cpu.c -lm -o "$BUILD/libsdt_cpu.so")
CUDA_CMD=("$NVCC" -O3 -std=c++17 -shared -Xcompiler=-fPIC "${ARCH[@]}" sdt_cuda.cu -ldl
  -o "$BUILD/libsdt_cuda.so")
HARNESS_CMD=(gcc -std=c11 -O2 -Wall ffi/check/gpu_parity.c -ldl -lm -o "$BUILD/gpu_parity")
echo "\$ (cd ffi && ${CPU_CMD[*]})" >>"$LOG"
if ! (cd ffi && run_step 120 "$LOG" "${CPU_CMD[@]}"); then
  fail "the CPU library did not build (see build.log)"
  tail -20 "$LOG"
  finish
fi
echo "\$ ${HARNESS_CMD[*]}" >>"$LOG"
if ! run_step 60 "$LOG" "${HARNESS_CMD[@]}"; then
  fail "the check harness did not build (see build.log)"
  tail -20 "$LOG"
  finish
fi
say "build: CPU library (-march=$MARCH) and harness ok"
# The teacher's kernels: the same gcc flags (build.ts's buildFlags), their own harness. A
# failure here is reported and the tree's check goes on.
STK_CPU_CMD=(gcc -std=c11 -O3 -fno-math-errno -fPIC -shared -Wall -Wno-psabi -Wl,-z,nodelete
  "-march=$MARCH" "-DSOFTTREE_TARGET=\"$MARCH\"" -fopenmp stk_cpu.c -lm -o "$BUILD/libstk_cpu.so")
STK_HARNESS_CMD=(gcc -std=c11 -O2 -Wall -Wextra ffi/check/stk_parity.c -ldl -lm
  -o "$BUILD/stk_parity")
STK_BUILT=0
echo "\$ (cd ffi && ${STK_CPU_CMD[*]})" >>"$LOG"
if ! (cd ffi && run_step 120 "$LOG" "${STK_CPU_CMD[@]}"); then
  fail "the teacher kernels' CPU library did not build (see build.log)"
  tail -20 "$LOG"
else
  echo "\$ ${STK_HARNESS_CMD[*]}" >>"$LOG"
  if ! run_step 60 "$LOG" "${STK_HARNESS_CMD[@]}"; then
    fail "the teacher kernels' check harness did not build (see build.log)"
    tail -20 "$LOG"
  else
    STK_BUILT=1
    say "build: teacher kernels' CPU library (-march=$MARCH) and harness ok"
  fi
fi
CUDA_BUILT=0
STK_CUDA_BUILT=0
if ! command -v "$NVCC" >/dev/null 2>&1; then
  fail "nvcc not found: the CUDA library cannot be built"
else
  echo "\$ (cd ffi && ${CUDA_CMD[*]})" >>"$LOG"
  if (cd ffi && run_step 180 "$LOG" "${CUDA_CMD[@]}"); then
    CUDA_BUILT=1
    say "build: CUDA library (${ARCH[*]}) ok"
  elif [ -n "$GPU" ] && [ -z "${SOFTTREE_CUDA_ARCH:-}" ]; then
    # -arch=native asks the driver at compile time; where that fails, build.ts's own default
    # targets (Turing to Hopper, and PTX) still give a library for this GPU. Said, not hidden.
    say "build: nvcc -arch=native failed (see build.log); trying ffi/build.ts's default targets"
    ARCH=(-gencode=arch=compute_75,code=sm_75 -gencode=arch=compute_80,code=sm_80
      -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90)
    CUDA_CMD=("$NVCC" -O3 -std=c++17 -shared -Xcompiler=-fPIC "${ARCH[@]}" sdt_cuda.cu -ldl
      -o "$BUILD/libsdt_cuda.so")
    echo "\$ (cd ffi && ${CUDA_CMD[*]})" >>"$LOG"
    if (cd ffi && run_step 180 "$LOG" "${CUDA_CMD[@]}"); then
      CUDA_BUILT=1
      say "build: CUDA library (${ARCH[*]}) ok"
    fi
  fi
  if [ $CUDA_BUILT -eq 0 ]; then
    fail "the CUDA library did not build with ${ARCH[*]} (see build.log)"
    tail -20 "$LOG"
  fi
  # The teacher's kernels with the targets the tree's library built with.
  STK_CUDA_CMD=("$NVCC" -O3 -std=c++17 -shared -Xcompiler=-fPIC "${ARCH[@]}" stk_cuda.cu -ldl
    -o "$BUILD/libstk_cuda.so")
  echo "\$ (cd ffi && ${STK_CUDA_CMD[*]})" >>"$LOG"
  if (cd ffi && run_step 180 "$LOG" "${STK_CUDA_CMD[@]}"); then
    STK_CUDA_BUILT=1
    say "build: teacher kernels' CUDA library (${ARCH[*]}) ok"
  else
    fail "the teacher kernels' CUDA library did not build with ${ARCH[*]} (see build.log)"
    tail -20 "$LOG"
  fi
fi
grep -i 'warning' "$OUT/build.log" | head -5 | sed 's/^/  build /' | tee -a "$REPORT"
HARNESS=("$BUILD/gpu_parity" --cpu "$BUILD/libsdt_cpu.so")
STK=("$BUILD/stk_parity" --cpu "$BUILD/libstk_cpu.so")

# ---------------------------------------------------------------- 2. the CPU half
LOG="$OUT/cpu_half.log"
: >"$LOG"
SOFTTREE_REQUIRE_CUDA=0 run_step 90 "$LOG" "${HARNESS[@]}" --quick
rc=$?
say "cpu half: $(grep -E '^parity:' "$LOG" | tail -1)"
if [ $rc -ne 0 ]; then
  fail "the CPU half failed (status $rc): $(short "$LOG")"
  grep -E '^    FAIL' "$LOG" | head -10 | tee -a "$REPORT"
fi

# The teacher's kernels. Without a GPU the CUDA build is handed over too: its argument checks
# must match the CPU build's and every entry point must refuse to run, as stk_probe does.
if [ $STK_BUILT -eq 1 ]; then
  LOG="$OUT/stk_cpu_half.log"
  : >"$LOG"
  STK_NO_GPU=()
  [ -z "$GPU" ] && [ $STK_CUDA_BUILT -eq 1 ] && STK_NO_GPU=(--cuda "$BUILD/libstk_cuda.so")
  SOFTTREE_REQUIRE_CUDA=0 run_step 120 "$LOG" "${STK[@]}" --quick "${STK_NO_GPU[@]}"
  rc=$?
  say "teacher kernels, cpu half: $(grep -E '^parity:' "$LOG" | tail -1)"
  grep -E '^(cuda:|== (the harness|argument checks|cuda cannot run))' "$LOG" | sed 's/^/  /' |
    tee -a "$REPORT"
  if [ $rc -ne 0 ]; then
    fail "the teacher kernels' CPU half failed (status $rc): $(short "$LOG")"
    grep -E '^    FAIL' "$LOG" | head -10 | tee -a "$REPORT"
  fi
fi

# ---------------------------------------------------------------- 3. the GPU half
if [ -z "$GPU" ]; then
  if [ $CUDA_BUILT -eq 1 ]; then
    say "cuda probe: $(SOFTTREE_REQUIRE_CUDA=0 "${HARNESS[@]}" --cuda "$BUILD/libsdt_cuda.so" \
      --probe 2>&1 | grep '^cuda:' | tail -1)"
  fi
  fail "no NVIDIA GPU on this machine: the CUDA libraries were not run"
  finish
fi
if [ $CUDA_BUILT -eq 0 ] && [ $STK_CUDA_BUILT -eq 0 ]; then finish; fi
export SOFTTREE_REQUIRE_CUDA=1

# cuBLAS: under python3's site-packages (pip's nvidia-cublas puts it in nvidia/.../lib), then
# the CUDA install; libcublas.so.13 first (nvcc 13's), then .so.12, then any libcublas.so*.
find_cublas() {
  local dirs=() d nv all
  if command -v python3 >/dev/null 2>&1; then
    while IFS= read -r d; do
      [ -d "$d/nvidia" ] && dirs+=("$d/nvidia")
    done < <(python3 -c \
      'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
      2>/dev/null)
  fi
  nv=$(command -v "$NVCC" 2>/dev/null) && d=$(dirname "$(dirname "$(readlink -f "$nv")")") &&
    dirs+=("$d/lib64" "$d/lib" "$d/targets")
  dirs+=(/usr/local/cuda/lib64 /usr/local/cuda/targets /usr/lib/x86_64-linux-gnu)
  local have=()
  for d in "${dirs[@]}"; do [ -d "$d" ] && have+=("$d"); done
  [ ${#have[@]} -eq 0 ] && return 1
  all=$(find "${have[@]}" -maxdepth 4 -name 'libcublas.so*' \( -type f -o -type l \) \
    2>/dev/null | sort -u)
  for pat in 'libcublas.so.13*' 'libcublas.so.12*' 'libcublas.so*'; do
    while IFS= read -r f; do
      # shellcheck disable=SC2053
      [ -n "$f" ] && [[ $(basename "$f") == $pat ]] && { echo "$f"; return 0; }
    done <<<"$all"
  done
  return 1
}

# gpu_run NAME LOG CAP ENV... -- ARGS...: one run of the harness against the CUDA library.
gpu_run() {
  local name=$1 log=$2 cap=$3
  shift 3
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  : >"$log"
  echo "\$ ${envs[*]} gpu_parity --cuda libsdt_cuda.so $*" >>"$log"
  run_step "$cap" "$log" env "${envs[@]}" "${HARNESS[@]}" --cuda "$BUILD/libsdt_cuda.so" "$@"
  local rc=$?
  say ""
  say "== $name"
  grep -E '^cuda:' "$log" | sed 's/^/  /' | tee -a "$REPORT"
  grep -E '^(parity:|== timing|   CPU:|  case|  depth [0-9]+, batch [0-9]+ +[0-9]|  one epoch)' \
    "$log" | sed 's/^/  /' | tee -a "$REPORT"
  grep -E '^    FAIL' "$log" | head -10 | tee -a "$REPORT"
  say "  $(tail -1 "$log")"
  [ $rc -eq 124 ] && fail "$name: cut off by the deadline"
  return $rc
}

# stk_run NAME CAP ENV... -- ARGS...: one run of the teacher kernels' harness against their
# CUDA library; its output goes to $BUILD/stk_run.log and is appended to stk_cuda.log.
STK_LOG="$BUILD/stk_run.log"
stk_run() {
  local name=$1 cap=$2
  shift 2
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  : >"$STK_LOG"
  echo "\$ ${envs[*]} stk_parity --cuda libstk_cuda.so $*" >>"$STK_LOG"
  run_step "$cap" "$STK_LOG" env "${envs[@]}" "${STK[@]}" --cuda "$BUILD/libstk_cuda.so" "$@"
  local rc=$?
  cat "$STK_LOG" >>"$OUT/stk_cuda.log"
  say ""
  say "== $name"
  grep -E '^cuda:' "$STK_LOG" | sed 's/^/  /' | tee -a "$REPORT"
  grep -E '^(parity:|== timing|   CPU:|  case|  (training step|inference),)' "$STK_LOG" |
    sed 's/^/  /' | tee -a "$REPORT"
  grep -E '^    FAIL' "$STK_LOG" | head -10 | tee -a "$REPORT"
  say "  $(tail -1 "$STK_LOG")"
  [ $rc -eq 124 ] && fail "$name: cut off by the deadline"
  return $rc
}

CUBLAS=$(find_cublas)
if [ -z "$CUBLAS" ]; then
  fail "no libcublas.so* under python3's site-packages or the CUDA install: the cuBLAS path was not run"
else
  say "cuBLAS found: $CUBLAS"
fi
CUBLAS_ENV=()
[ -n "$CUBLAS" ] && CUBLAS_ENV=("SOFTTREE_CUBLAS=$CUBLAS"
  "LD_LIBRARY_PATH=$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
BAD=/nonexistent/libcublas.so.13

# The teacher's kernels first: their runs are short and capped; the tree's take what is left.
if [ $STK_BUILT -eq 1 ] && [ $STK_CUDA_BUILT -eq 1 ]; then
  : >"$OUT/stk_cuda.log"
  say ""
  say "teacher kernels, cuda with SOFTTREE_CUBLAS unset: $(env -u SOFTTREE_CUBLAS "${STK[@]}" \
    --cuda "$BUILD/libstk_cuda.so" --probe 2>&1 | grep -m1 '^cuda: cuda (' | sed 's/^cuda: //')"
  STK_CPU_TIMING=(--cpu-timing) # with the first CUDA run that happens
  if [ -n "$CUBLAS" ]; then
    name="teacher kernels, CUDA with cuBLAS (SOFTTREE_CUBLAS=$CUBLAS)"
    if ! stk_run "$name" 75 "${CUBLAS_ENV[@]}" -- --timing "${STK_CPU_TIMING[@]}"; then
      fail "teacher kernels, CUDA with cuBLAS: $(short "$STK_LOG")"
    elif ! grep -q '^cuda: cuda (.*GEMM: cuBLAS' "$STK_LOG"; then
      fail "teacher kernels, CUDA with cuBLAS: the library did not report cuBLAS in use"
    fi
    STK_CPU_TIMING=()
  fi
  name="teacher kernels, CUDA with its own GEMM kernel (SOFTTREE_CUBLAS=none)"
  if ! stk_run "$name" 75 SOFTTREE_CUBLAS=none -- --timing "${STK_CPU_TIMING[@]}"; then
    fail "teacher kernels, CUDA with its own GEMM kernel: $(short "$STK_LOG")"
  elif ! grep -q '^cuda: cuda (.*GEMM: own GEMM kernel (SOFTTREE_CUBLAS=none)' "$STK_LOG"; then
    fail "teacher kernels, CUDA with its own GEMM kernel: the library did not report the own kernel in use"
  fi
  # A bad path: every entry point refuses, naming it (the CPU half runs again, --quick).
  : >"$STK_LOG"
  SOFTTREE_REQUIRE_CUDA=0 SOFTTREE_CUBLAS=$BAD run_step 45 "$STK_LOG" "${STK[@]}" \
    --cuda "$BUILD/libstk_cuda.so" --quick
  rc=$?
  cat "$STK_LOG" >>"$OUT/stk_cuda.log"
  if [ $rc -eq 0 ] && grep -q "^cuda: the CUDA library cannot run here (status 5): SOFTTREE_CUBLAS=\"$BAD\" cannot be used" "$STK_LOG" &&
    grep -q '^== cuda cannot run here: 14 entry points fail .*: ok$' "$STK_LOG"; then
    say ""
    say "teacher kernels: a bad SOFTTREE_CUBLAS is refused by all 14 entry points: $(grep -m1 \
      '^cuda: the CUDA' "$STK_LOG" | sed 's/^cuda: //' | cut -c1-200)"
  else
    fail "teacher kernels: SOFTTREE_CUBLAS=$BAD was not refused everywhere (status $rc: $(short "$STK_LOG"))"
    grep -E '^    FAIL' "$STK_LOG" | head -5 | tee -a "$REPORT"
  fi
fi
if [ $CUDA_BUILT -eq 0 ]; then finish; fi

# What the library finds by itself (SOFTTREE_CUBLAS unset), for the record.
say ""
say "cuda with SOFTTREE_CUBLAS unset: $(env -u SOFTTREE_CUBLAS "${HARNESS[@]}" --cuda \
  "$BUILD/libsdt_cuda.so" --probe 2>&1 | grep -m1 '^cuda: cuda (' | sed 's/^cuda: //')"

CPU_TIMING=(--cpu-timing) # with the first CUDA run that happens
if [ -n "$CUBLAS" ]; then
  LOG="$OUT/cuda_cublas.log"
  if ! gpu_run "CUDA with cuBLAS (SOFTTREE_CUBLAS=$CUBLAS)" "$LOG" 200 "${CUBLAS_ENV[@]}" \
    -- --timing "${CPU_TIMING[@]}"; then
    fail "CUDA with cuBLAS: $(short "$LOG")"
  elif ! grep -q '^cuda: .*GEMM: cuBLAS' "$LOG"; then
    fail "CUDA with cuBLAS: the library did not report cuBLAS in use"
  fi
  CPU_TIMING=()
fi

LOG="$OUT/cuda_own.log"
if ! gpu_run "CUDA with its own GEMM kernel (SOFTTREE_CUBLAS=none)" "$LOG" 150 \
  SOFTTREE_CUBLAS=none -- --timing "${CPU_TIMING[@]}"; then
  fail "CUDA with its own GEMM kernel: $(short "$LOG")"
elif ! grep -q '^cuda: .*GEMM: own GEMM kernel (SOFTTREE_CUBLAS=none)' "$LOG"; then
  fail "CUDA with its own GEMM kernel: the library did not report the own kernel in use"
fi

out=$(SOFTTREE_CUBLAS=$BAD timeout 30 "${HARNESS[@]}" --cuda "$BUILD/libsdt_cuda.so" --probe 2>&1)
if [ $? -ne 0 ] && grep -q "SOFTTREE_CUBLAS=\"$BAD\" cannot be used" <<<"$out"; then
  say ""
  say "a bad SOFTTREE_CUBLAS is refused: $(grep -m1 '^cuda: the CUDA' <<<"$out" | sed 's/^cuda: //')"
else
  fail "SOFTTREE_CUBLAS=$BAD was not refused (the probe said: $(grep -m1 '^cuda:' <<<"$out"))"
fi
finish
