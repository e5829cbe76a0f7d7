/*
 * gpu_parity.c — a check of softtree's native tree library that needs only a C compiler:
 * no Deno, no npm. It loads the CPU build (libsdt_cpu.so) and, when given, the CUDA build
 * (libsdt_cuda.so) with dlopen and compares them through the C ABI of ffi/sdt.h on seeded
 * random data; bench/gpu_check.sh builds both libraries and runs it on a machine with a GPU.
 *
 *   gpu_parity --cpu LIB [--cuda LIB] [--quick] [--timing] [--cpu-timing] [--threads N]
 *   gpu_parity --cpu LIB [--cuda LIB] --probe
 *
 * What it checks, in order (every comparison is |a - b| <= atol + rtol |b|, with the
 * tolerances of tests/_reference.ts's TOL; a failure prints the largest difference and the
 * first mismatching index):
 * 1. The launch arithmetic of the CUDA build's kernels (sdt_common.h): grids within the
 *    hardware's limits and every GEMM tile computed exactly once, up to 2^31 - 1 rows.
 * 2. The CPU build against a float64 transcription of the maths (sdt.h's header comment):
 *    forward outputs at depths 1, 4 and 8, the loss and penalty, and gradients against
 *    central finite differences of the float64 objective.
 * 3. Without --cuda: the CPU build with one thread against itself with --threads threads
 *    (default 2), over the matrix below; it claims identical results for any thread count,
 *    so the tolerance is zero. With --cuda: the CUDA build against the CPU build (all cores)
 *    over the matrix, with the tolerances, and one training step on a batch of 1,100,000 rows
 *    (more row tiles than a grid's y dimension holds, the shape the own GEMM kernel once got
 *    wrong).
 *    The matrix: depths 1, 4, 8, 12 x batches 1, 7, 64, 4096 (--quick: no 4096, 2 epochs) x the
 *    expected and mixture losses of classification and regression x fixed and learned beta. Each case compares forward outputs
 *    and predictions (over 1.5 batches + 1 rows; predictions may differ only on near-ties),
 *    evaluate(), gradients with a fresh and a part-way penalty, several sdt_train_samples
 *    epochs over 2.5 batches + 1 rows (a short last batch) with sdt_set_beta between epochs
 *    when beta is fixed, one sdt_train_step, and Adam's state (sdt_get_adam, and a round trip
 *    through sdt_set_adam).
 * 4. --timing (CUDA) and --cpu-timing (CPU): samples/s of training and evaluation on
 *    MNIST-sized synthetic rows (784 features, 81% zeros, 10 classes) at depth 4 batch 4,
 *    depth 8 batch 64, depth 10 batch 4096 (50,000 rows) and depth 12 batch 4096 (300,000
 *    rows), and the wall time of one epoch at depth 10 batch 4096 on 50,000 rows.
 *
 * SOFTTREE_REQUIRE_CUDA=1: a CUDA library that is missing, will not load or cannot run is a
 * failure, said at once; otherwise it is reported and only the CPU half runs. The last line is
 * `result: PASS ...` or `result: FAIL (...)`; the exit status is 0 on PASS, 1 on FAIL and 2
 * on a usage error. --probe prints each library's sdt_build_info and sdt_probe and exits 0
 * when every one can run.
 *
 * Build: gcc -std=c11 -O2 -Wall ffi/check/gpu_parity.c -ldl -lm -o gpu_parity
 */
#define _POSIX_C_SOURCE 200809L
#define SDT_LAUNCH_ONLY
#include "../sdt_common.h"
#include "../sdt.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_common.h"

/* ---------------------------------------------------------------- results */

/* tests/_reference.ts's TOL (tests/ffi_check_test.ts checks that they agree). */
static const tol_t TOL_FORWARD = {1e-5, 1e-4};  /* float32 forward against float64 or another build */
static const tol_t TOL_GRADIENT = {2e-4, 2e-3}; /* gradients, and against finite differences */
static const tol_t TOL_PARAMS = {2e-4, 2e-3};   /* after Adam steps */
static const tol_t TOL_EXACT = {0, 0};          /* the CPU build with another thread count */

/* Compare a against b (the reference); returns the largest difference, records a failure. */
static double compare(const char* where, const char* what, const double* a, const double* b,
                      size_t n, tol_t t) {
  double worst = 0;
  size_t worst_at = 0, first = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]);
    if (!(d <= t.atol + t.rtol * fabs(b[i])) && first == (size_t)-1) first = i;
    if (d > worst || isnan(d)) worst = isnan(d) ? INFINITY : d, worst_at = i;
  }
  g_checks++;
  if (first != (size_t)-1)
    failure("%s: %s: first mismatch at index %zu (%.9g vs %.9g); largest difference %.3g at "
            "index %zu (atol %g, rtol %g)",
            where, what, first, a[first], b[first], worst, worst_at, t.atol, t.rtol);
  return worst;
}

static double comparef(const char* where, const char* what, const float* a, const float* b,
                       size_t n, tol_t t) {
  double* da = malloc((n ? n : 1) * sizeof *da);
  double* db = malloc((n ? n : 1) * sizeof *db);
  if (!da || !db) {
    free(da), free(db);
    failure("%s: %s: out of memory comparing %zu values", where, what, n);
    return INFINITY;
  }
  for (size_t i = 0; i < n; i++) da[i] = a[i], db[i] = b[i];
  double w = compare(where, what, da, db, n, t);
  free(da), free(db);
  return w;
}

static double compare1(const char* where, const char* what, double a, double b, tol_t t) {
  return compare(where, what, &a, &b, 1, t);
}

/* ---------------------------------------------------------------- random numbers */

static void permutation(int32_t* out, int n, rng_t* r) {
  for (int i = 0; i < n; i++) out[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(rng_u64(r) % (uint64_t)(i + 1));
    int32_t t = out[i];
    out[i] = out[j], out[j] = t;
  }
}

/* Rows x [n, F] (a `zeros` fraction of zeros, else uniform in (0, 1]) and targets [n, K]:
 * soft (the label's class weighted up) or one-hot; labels [n]. */
/* Rows x [n, F] with `zeros` of them 0, labels, and targets t: one-hot (soft 0), soft (1) or
 * normal values for regression (2). */
static void random_rows(float* x, float* t, int32_t* labels, int n, int F, int K, double zeros,
                        int soft, rng_t* r) {
  for (size_t i = 0; i < (size_t)n * F; i++)
    x[i] = rng_next(r) < zeros ? 0.0f : (float)(1.0 - rng_next(r));
  for (int i = 0; i < n; i++) {
    int y = (int)(rng_next(r) * K);
    if (labels) labels[i] = y;
    if (!t) continue;
    float* ti = t + (size_t)i * K;
    if (soft == 2) { /* regression: values */
      for (int k = 0; k < K; k++) ti[k] = (float)rng_normal(r);
    } else if (soft) {
      double s = 0;
      for (int k = 0; k < K; k++) s += ti[k] = (float)(rng_next(r) + (k == y ? 2 : 0));
      for (int k = 0; k < K; k++) ti[k] = (float)(ti[k] / s);
    } else {
      for (int k = 0; k < K; k++) ti[k] = k == y ? 1.0f : 0.0f;
    }
  }
}

/* ---------------------------------------------------------------- the libraries */

typedef struct {
  const char* label; /* "cpu", "cpu (N threads)", "cuda" */
  void* h;
  int threads;
  __typeof__(&sdt_abi_version) abi_version;
  __typeof__(&sdt_last_error) last_error;
  __typeof__(&sdt_build_info) build_info;
  __typeof__(&sdt_probe) probe;
  __typeof__(&sdt_create) create;
  __typeof__(&sdt_destroy) destroy;
  __typeof__(&sdt_set_params) set_params;
  __typeof__(&sdt_get_params) get_params;
  __typeof__(&sdt_set_penalty) set_penalty;
  __typeof__(&sdt_get_penalty) get_penalty;
  __typeof__(&sdt_set_beta) set_beta;
  __typeof__(&sdt_get_adam) get_adam;
  __typeof__(&sdt_set_adam) set_adam;
  __typeof__(&sdt_set_train_data) set_train_data;
  __typeof__(&sdt_train_samples) train_samples;
  __typeof__(&sdt_train_step) train_step;
  __typeof__(&sdt_gradients) gradients;
  __typeof__(&sdt_forward) forward;
  __typeof__(&sdt_evaluate) evaluate;
} lib_t;

/* Load a library; 0 on success, else -1 with why in `why`. */
static int load_lib(lib_t* L, const char* path, char* why, size_t cap) {
  L->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!L->h) {
    snprintf(why, cap, "cannot load \"%s\": %s", path, dlerror());
    return -1;
  }
#define SYM(field, name)                                                            \
  do {                                                                              \
    *(void**)&L->field = dlsym(L->h, name);                                         \
    if (!L->field) {                                                                \
      snprintf(why, cap, "\"%s\" lacks the symbol %s (an older build?)", path, name); \
      return -1;                                                                    \
    }                                                                               \
  } while (0)
  SYM(abi_version, "sdt_abi_version");
  SYM(last_error, "sdt_last_error");
  SYM(build_info, "sdt_build_info");
  SYM(probe, "sdt_probe");
  SYM(create, "sdt_create");
  SYM(destroy, "sdt_destroy");
  SYM(set_params, "sdt_set_params");
  SYM(get_params, "sdt_get_params");
  SYM(set_penalty, "sdt_set_penalty");
  SYM(get_penalty, "sdt_get_penalty");
  SYM(set_beta, "sdt_set_beta");
  SYM(get_adam, "sdt_get_adam");
  SYM(set_adam, "sdt_set_adam");
  SYM(set_train_data, "sdt_set_train_data");
  SYM(train_samples, "sdt_train_samples");
  SYM(train_step, "sdt_train_step");
  SYM(gradients, "sdt_gradients");
  SYM(forward, "sdt_forward");
  SYM(evaluate, "sdt_evaluate");
#undef SYM
  if (L->abi_version() != SDT_ABI_VERSION) {
    snprintf(why, cap, "\"%s\" has ABI version %d, this check was built for %d", path,
             L->abi_version(), SDT_ABI_VERSION);
    return -1;
  }
  return 0;
}

/* A failed library call: record it with the library's message and leave the case. */
#define CALL(L, where, call)                                                              \
  do {                                                                                    \
    int32_t st_ = (call);                                                                 \
    if (st_ != SDT_OK) {                                                                  \
      failure("%s: %s: %s returned status %d: %s", where, (L)->label, #call, st_,        \
              (L)->last_error());                                                         \
      goto done;                                                                          \
    }                                                                                     \
  } while (0)

/* ---------------------------------------------------------------- trees */

typedef struct {
  int depth, F, K, loss, learn_beta;
  double inv_temp, strength, decay, window, lr;
} cfg_t;

typedef struct {
  float *w, *b, *phi, beta;
} params_t;

static int inner_of(int depth) { return (1 << depth) - 1; }

static params_t random_params(const cfg_t* c, rng_t* r) {
  int I = inner_of(c->depth), L = I + 1;
  params_t p;
  p.w = xmalloc((size_t)I * c->F * 4), p.b = xmalloc((size_t)I * 4);
  p.phi = xmalloc((size_t)L * c->K * 4);
  for (size_t i = 0; i < (size_t)I * c->F; i++) p.w[i] = (float)(0.1 * rng_normal(r));
  for (int i = 0; i < I; i++) p.b[i] = (float)(0.1 * rng_normal(r));
  for (size_t i = 0; i < (size_t)L * c->K; i++) p.phi[i] = (float)(0.5 * rng_normal(r));
  p.beta = (float)c->inv_temp;
  return p;
}

static void free_params(params_t* p) { free(p->w), free(p->b), free(p->phi); }

/* A penalty state part-way through training (steps > 0), like tests' warmState. */
static void warm_state(float* num, float* den, int depth, rng_t* r) {
  for (int n = 0; n < inner_of(depth); n++) {
    int d = 0;
    while ((2 << d) - 1 <= n) d++;
    den[n] = (float)(ldexp(1, -d) * (0.5 + rng_next(r)));
    num[n] = (float)(den[n] * (0.1 + 0.8 * rng_next(r)));
  }
}

static int32_t make_tree(sdt_ctx** out, lib_t* L, const cfg_t* c, const params_t* p) {
  *out = NULL;
  int32_t st = L->create(out, c->depth, c->F, c->K, c->loss, c->learn_beta, c->inv_temp,
                         c->strength, c->decay, c->window, c->lr, L->threads);
  if (st == SDT_OK) st = L->set_params(*out, p->w, p->b, p->phi, p->beta);
  return st;
}

/* ---------------------------------------------------------------- 1. launch arithmetic */

static void check_launch(void) {
  printf("== launch arithmetic of the CUDA kernels (sdt_common.h)\n");
  const int64_t Ms[] = {1, 15, 16, 17, 4096, 65535, 65536, 1048560, 1048561, 1100000,
                        16777216, 100000000, 2147483647LL};
  const int64_t Ns[] = {1, 7, 784, 4095, 1048575, 2147483647LL};
  const int T = 16;
  int shapes = 0;
  for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
    for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++) {
      int64_t M = Ms[i], N = Ns[j];
      sdt_grid2 g = sdt_gemm_grid(M, N, T);
      int64_t rt = sdt_tiles(M, T), ct = sdt_tiles(N, T);
      shapes++;
      expect(rt * T >= M && (rt - 1) * T < M && ct * T >= N && (ct - 1) * T < N,
             "launch: tiles of %lld x %lld rows/columns are %lld x %lld, which do not cover "
             "them exactly",
             (long long)M, (long long)N, (long long)rt, (long long)ct);
      expect(g.x >= 1 && g.x <= SDT_GRID_X_MAX && g.y >= 1 && g.y <= SDT_GRID_YZ_MAX,
             "launch: the GEMM grid for C [%lld, %lld] is %u x %u, outside 1..2^31-1 x "
             "1..65535",
             (long long)M, (long long)N, g.x, g.y);
      /* Every row tile and every column tile visited exactly once by the kernel's loops:
       * the visits of all blocks sum to the tile count and no block visits past the end. */
      int64_t dims[2][2] = {{g.x, rt}, {g.y, ct}};
      for (int k = 0; k < 2; k++) {
        int64_t gg = dims[k][0], tiles = dims[k][1], sum = 0;
        if (gg <= 4000000) {
          for (int64_t b = 0; b < gg; b++) sum += sdt_gemm_tile_visits(b, gg, tiles);
        } else { /* blocks b < tiles visit (tiles - 1 - b) / g + 1 tiles: closed form */
          int64_t q = tiles / gg, rem = tiles % gg;
          sum = q * gg + rem;
        }
        int64_t last = (tiles - 1) % gg, lastv = sdt_gemm_tile_visits(last, gg, tiles);
        expect(sum == tiles && last + (lastv - 1) * gg == tiles - 1,
               "launch: for C [%lld, %lld] the %s loop over a grid of %lld visits %lld tiles "
               "of %lld",
               (long long)M, (long long)N, k ? "column" : "row", (long long)gg, (long long)sum,
               (long long)tiles);
      }
      if (M > 1048560)
        expect(g.x == rt, "launch: %lld rows need %lld row tiles on grid.x, got %u",
               (long long)M, (long long)rt, g.x);
    }
  const int64_t ns[] = {0, 1, 255, 256, 257, 2147483647LL, (int64_t)2147483647LL * 256};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    uint32_t b = sdt_blocks_1d(ns[i], 256);
    int64_t want = sdt_tiles(ns[i], 256);
    want = want < 1 ? 1 : want > SDT_GRID_X_MAX ? SDT_GRID_X_MAX : want;
    expect(b == want, "launch: %lld items in blocks of 256 need %lld blocks, got %u",
           (long long)ns[i], (long long)want, b);
  }
  printf("  %d GEMM shapes up to 2147483647 x 2147483647, %zu one-dimensional launches: %s\n",
         shapes, sizeof ns / sizeof ns[0], g_failed ? "FAIL" : "ok");
}

/* ---------------------------------------------------------------- 2. float64 reference */

/* The objective of sdt.h in float64: returns loss + penalty; inner [B, I], leaf [B, L] and
 * mixture [B, K] when given. */
static double ref_objective(const cfg_t* c, const double* w, const double* b, const double* phi,
                            double beta, const float* num, const float* den, int64_t steps,
                            const float* x, const float* t, int B, double* inner, double* leaf,
                            double* mixture, double* loss_out, double* penalty_out) {
  int I = inner_of(c->depth), L = I + 1, F = c->F, K = c->K;
  double* logq = xmalloc((size_t)L * K * 8);
  const int reg = c->loss >= SDT_LOSS_SQ_EXPECTED; /* regression: Q = phi, no log used */
  for (int l = 0; l < L && reg; l++)
    for (int k = 0; k < K; k++) logq[l * K + k] = phi[l * K + k];
  for (int l = 0; l < L && !reg; l++) {
    double m = -INFINITY, s = 0;
    for (int k = 0; k < K; k++) m = fmax(m, phi[l * K + k]);
    for (int k = 0; k < K; k++) s += exp(phi[l * K + k] - m);
    for (int k = 0; k < K; k++) logq[l * K + k] = phi[l * K + k] - m - log(s);
  }
  double *reach = xmalloc((size_t)(I + L) * 8), *mnum = xmalloc((size_t)I * 8);
  double* mden = xmalloc((size_t)I * 8);
  double loss = 0;
  for (int i = 0; i < B; i++) {
    reach[0] = 1;
    for (int n = 0; n < I; n++) {
      double s = b[n];
      for (int f = 0; f < F; f++) s += (double)x[(size_t)i * F + f] * w[(size_t)n * F + f];
      double p = 1 / (1 + exp(-beta * s));
      if (inner) inner[(size_t)i * I + n] = p;
      reach[2 * n + 1] = reach[n] * (1 - p), reach[2 * n + 2] = reach[n] * p;
      mnum[n] += reach[n] * p / B, mden[n] += reach[n] / B;
    }
    if (leaf)
      for (int l = 0; l < L; l++) leaf[(size_t)i * L + l] = reach[I + l];
    for (int k = 0; k < K; k++) {
      double mix = 0;
      for (int l = 0; l < L; l++) mix += reach[I + l] * (reg ? logq[l * K + k] : exp(logq[l * K + k]));
      if (mixture) mixture[(size_t)i * K + k] = mix;
      if (c->loss == SDT_LOSS_MIXTURE) loss -= t[(size_t)i * K + k] * log(fmax(mix, 1e-12));
      if (c->loss == SDT_LOSS_SQ_MIXTURE) loss += pow(mix - t[(size_t)i * K + k], 2);
      if (c->loss == SDT_LOSS_SQ_EXPECTED)
        for (int l = 0; l < L; l++) loss += reach[I + l] * pow(phi[l * K + k] - t[(size_t)i * K + k], 2);
    }
    if (c->loss == SDT_LOSS_EXPECTED)
      for (int l = 0; l < L; l++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += t[(size_t)i * K + k] * logq[l * K + k];
        loss -= reach[I + l] * s;
      }
  }
  double penalty = 0;
  for (int n = 0; n < I; n++) {
    int d = 0;
    while ((2 << d) - 1 <= n) d++;
    double lam = steps == 0 ? 1 : fmin(1, B / (c->window * ldexp(1, d)));
    double sn = (1 - lam) * num[n] + lam * mnum[n], sd = (1 - lam) * den[n] + lam * mden[n];
    double a = fmin(1 - 1e-5, fmax(1e-5, sn / fmax(sd, 1e-30)));
    penalty -= c->strength * pow(c->decay, d) * 0.5 * (log(a) + log(1 - a));
  }
  free(logq), free(reach), free(mnum), free(mden);
  if (loss_out) *loss_out = loss / B;
  if (penalty_out) *penalty_out = penalty;
  return loss / B + penalty;
}

/* Forward outputs of the CPU build against the float64 reference. */
static void reference_forward(lib_t* cpu, int depth) {
  const int F = 40, K = 5;
  {
    char where[96];
    snprintf(where, sizeof where, "reference forward, depth %d", depth);
    cfg_t c = {depth, F, K, SDT_LOSS_EXPECTED, 0, 1.5, 10, 0.25, 10, 5e-3};
    rng_t r = {(uint64_t)depth * 1000 + 1};
    params_t p = random_params(&c, &r);
    int I = inner_of(depth), L = I + 1, B = 7;
    float *x = xmalloc((size_t)B * F * 4), *t = xmalloc((size_t)B * K * 4);
    random_rows(x, t, NULL, B, F, K, 0.6, 1, &r);
    float *in = xmalloc((size_t)B * I * 4), *lf = xmalloc((size_t)B * L * 4);
    float* mx = xmalloc((size_t)B * K * 4);
    double *w = xmalloc((size_t)I * F * 8), *b = xmalloc((size_t)I * 8);
    double* phi = xmalloc((size_t)L * K * 8);
    double *rin = xmalloc((size_t)B * I * 8), *rlf = xmalloc((size_t)B * L * 8);
    double* rmx = xmalloc((size_t)B * K * 8);
    float *num = xmalloc((size_t)I * 4), *den = xmalloc((size_t)I * 4);
    sdt_ctx* ctx = NULL;
    for (size_t i = 0; i < (size_t)I * F; i++) w[i] = p.w[i];
    for (int i = 0; i < I; i++) b[i] = p.b[i];
    for (size_t i = 0; i < (size_t)L * K; i++) phi[i] = p.phi[i];
    CALL(cpu, where, make_tree(&ctx, cpu, &c, &p));
    CALL(cpu, where, cpu->forward(in, lf, mx, NULL, NULL, NULL, ctx, x, B));
    double rloss, rpen;
    ref_objective(&c, w, b, phi, p.beta, num, den, 0, x, t, B, rin, rlf, rmx, &rloss, &rpen);
    double d1 = 0, d2 = 0, d3 = 0;
    {
      double* a = xmalloc((size_t)B * (I + L + K) * 8);
      for (size_t i = 0; i < (size_t)B * I; i++) a[i] = in[i];
      d1 = compare(where, "inner p_n", a, rin, (size_t)B * I, TOL_FORWARD);
      for (size_t i = 0; i < (size_t)B * L; i++) a[i] = lf[i];
      d2 = compare(where, "leaf P^l", a, rlf, (size_t)B * L, TOL_FORWARD);
      for (size_t i = 0; i < (size_t)B * K; i++) a[i] = mx[i];
      d3 = compare(where, "mixture", a, rmx, (size_t)B * K, TOL_FORWARD);
      free(a);
    }
    printf("  forward, depth %d: largest differences %.2g / %.2g / %.2g (inner / leaf / mixture)\n",
           depth, d1, d2, d3);
  done:
    if (ctx) cpu->destroy(ctx);
    free_params(&p);
    free(x), free(t), free(in), free(lf), free(mx), free(w), free(b), free(phi), free(rin);
    free(rlf), free(rmx), free(num), free(den);
  }
}

/* Gradients of the CPU build against central finite differences of the float64 objective. */
static const char* LOSS_NAMES[] = {"expected", "mixture", "squared expected (regression)",
                                   "squared mixture (regression)"};

static void reference_gradients(lib_t* cpu, int depth, int loss) {
  {
    {
      char where[96];
      snprintf(where, sizeof where, "finite differences, depth %d, %s loss", depth,
               LOSS_NAMES[loss]);
      const int reg = loss >= SDT_LOSS_SQ_EXPECTED;
      const int F2 = 12, K2 = reg ? 2 : 3, B = 5;
      cfg_t c = {depth, F2, K2, loss, 1, 1.5, 10, 0.25, 10, 5e-3};
      rng_t r = {(uint64_t)depth * 77 + (uint64_t)loss};
      params_t p = random_params(&c, &r);
      int I = inner_of(depth), L = I + 1;
      size_t nw = (size_t)I * F2, nphi = (size_t)L * K2, P = nw + I + nphi + 1;
      float *x = xmalloc((size_t)B * F2 * 4), *t = xmalloc((size_t)B * K2 * 4);
      random_rows(x, t, NULL, B, F2, K2, 0.6, reg ? 2 : 1, &r);
      float *num = xmalloc((size_t)I * 4), *den = xmalloc((size_t)I * 4);
      warm_state(num, den, depth, &r);
      float *dw = xmalloc(nw * 4), *db = xmalloc((size_t)I * 4), *dphi = xmalloc(nphi * 4);
      double *theta = xmalloc(P * 8), *fd = xmalloc(P * 8), *got = xmalloc(P * 8);
      double dbeta, gl, gp;
      sdt_ctx* ctx = NULL;
      for (size_t i = 0; i < nw; i++) theta[i] = p.w[i];
      for (int i = 0; i < I; i++) theta[nw + i] = p.b[i];
      for (size_t i = 0; i < nphi; i++) theta[nw + I + i] = p.phi[i];
      theta[P - 1] = p.beta;
      CALL(cpu, where, make_tree(&ctx, cpu, &c, &p));
      CALL(cpu, where, cpu->set_penalty(ctx, num, den, 5));
      CALL(cpu, where, cpu->gradients(dw, db, dphi, &dbeta, &gl, &gp, ctx, x, t, B));
      const double h = 1e-6;
      for (size_t i = 0; i < P; i++) {
        double v = theta[i], up, down;
        theta[i] = v + h;
        up = ref_objective(&c, theta, theta + nw, theta + nw + I, theta[P - 1], num, den, 5, x, t,
                           B, NULL, NULL, NULL, NULL, NULL);
        theta[i] = v - h;
        down = ref_objective(&c, theta, theta + nw, theta + nw + I, theta[P - 1], num, den, 5, x,
                             t, B, NULL, NULL, NULL, NULL, NULL);
        theta[i] = v;
        fd[i] = (up - down) / (2 * h);
      }
      for (size_t i = 0; i < nw; i++) got[i] = dw[i];
      for (int i = 0; i < I; i++) got[nw + i] = db[i];
      for (size_t i = 0; i < nphi; i++) got[nw + I + i] = dphi[i];
      got[P - 1] = dbeta;
      double rl, rp;
      ref_objective(&c, theta, theta + nw, theta + nw + I, theta[P - 1], num, den, 5, x, t, B,
                    NULL, NULL, NULL, &rl, &rp);
      compare1(where, "loss", gl, rl, TOL_FORWARD);
      compare1(where, "penalty", gp, rp, TOL_FORWARD);
      double worst = compare(where, "gradient (w, b, phi, beta)", got, fd, P, TOL_GRADIENT);
      printf("  gradients vs finite differences, depth %d, %s loss: largest difference %.2g\n",
             depth, LOSS_NAMES[loss], worst);
    done:
      if (ctx) cpu->destroy(ctx);
      free_params(&p);
      free(x), free(t), free(num), free(den), free(dw), free(db), free(dphi), free(theta), free(fd);
      free(got);
    }
  }
}

static void check_reference(lib_t* cpu) {
  printf("== %s against the float64 reference\n", cpu->label);
  reference_forward(cpu, 1);
  reference_forward(cpu, 4);
  reference_forward(cpu, 8);
  for (int depth = 1; depth <= 3; depth += 2)
    for (int loss = 0; loss < 4; loss++) reference_gradients(cpu, depth, loss);
}

/* ---------------------------------------------------------------- 3. one build against another */

/* Predictions of a and b (the reference) may differ only where b's scores of the two choices
 * are within the forward tolerance of each other. */
static void compare_argmax(const char* where, const char* what, const int32_t* a,
                           const int32_t* b, const float* scores, int rows, int width) {
  int ties = 0, bad = -1;
  for (int i = 0; i < rows; i++) {
    if (a[i] == b[i]) continue;
    if (a[i] < 0 || a[i] >= width) {
      bad = i;
      break;
    }
    double sa = scores[(size_t)i * width + a[i]], sb = scores[(size_t)i * width + b[i]];
    if (fabs(sa - sb) <= TOL_FORWARD.atol + TOL_FORWARD.rtol * fabs(sb)) ties++;
    else if (bad < 0) bad = i;
  }
  expect(bad < 0, "%s: %s: row %d: %d vs %d, not a near-tie", where, what, bad,
         bad >= 0 ? a[bad] : 0, bad >= 0 ? b[bad] : 0);
  (void)ties;
}

typedef struct {
  double forward, gradient, epochs;
} worst_t;

static double maxd(double a, double b) { return a > b ? a : b; }

/* The largest differences over every case of the matrix, for the summary line. */
static worst_t g_worst;

/* One case of the matrix: lib `a` against lib `b` (the reference). */
static void pair_case(lib_t* a, lib_t* b, int depth, int batch, int loss, int learn_beta,
                      int epochs, tol_t tf, tol_t tg, tol_t tp) {
  const int reg = loss >= SDT_LOSS_SQ_EXPECTED, F = 40, K = reg ? 1 : 5;
  char where[128];
  snprintf(where, sizeof where, "depth %d, batch %d, %s loss, %s beta", depth, batch,
           LOSS_NAMES[loss], learn_beta ? "learned" : "fixed");
  cfg_t c = {depth, F, K, loss, learn_beta, 1.5, 10, 0.25, 10, 5e-3};
  rng_t r = {(uint64_t)depth * 100003 + (uint64_t)batch * 31 + (uint64_t)loss * 7 +
             (uint64_t)learn_beta};
  params_t p = random_params(&c, &r);
  const int I = inner_of(depth), L = I + 1;
  const int nf = batch + batch / 2 + 1;     /* forward rows: past a chunk for big batches */
  const int nt = 2 * batch + batch / 2 + 1; /* training rows: a short last batch */
  const int nmax = nt > nf ? nt : nf;
  const double t_start = now();
  worst_t wst = {0, 0, 0};
  sdt_ctx *ca = NULL, *cb = NULL;
  float *x = xmalloc((size_t)nmax * F * 4), *t = xmalloc((size_t)nmax * K * 4);
  int32_t* labels = xmalloc((size_t)nmax * 4);
  random_rows(x, t, labels, nmax, F, K, 0.6, reg ? 2 : loss == SDT_LOSS_MIXTURE, &r);
  /* outputs of a (index 0) and b (index 1) */
  float *in[2], *lf[2], *mx[2], *dw[2], *db[2], *dphi[2], *w[2], *bb[2], *phi[2], beta[2];
  float *num[2], *den[2];
  int32_t *p1[2], *p2[2], *ml[2], *e1[2], *e2[2];
  double acc1[2], acc2[2], dbeta[2], gl[2], gp[2], ls[2], ps[2];
  int32_t nb[2];
  int64_t steps[2];
  for (int s = 0; s < 2; s++) {
    in[s] = xmalloc((size_t)nf * I * 4), lf[s] = xmalloc((size_t)nf * L * 4);
    mx[s] = xmalloc((size_t)nf * K * 4);
    p1[s] = xmalloc((size_t)nf * 4), p2[s] = xmalloc((size_t)nf * 4), ml[s] = xmalloc((size_t)nf * 4);
    e1[s] = xmalloc((size_t)nf * 4), e2[s] = xmalloc((size_t)nf * 4);
    dw[s] = xmalloc((size_t)I * F * 4), db[s] = xmalloc((size_t)I * 4);
    dphi[s] = xmalloc((size_t)L * K * 4);
    w[s] = xmalloc((size_t)I * F * 4), bb[s] = xmalloc((size_t)I * 4);
    phi[s] = xmalloc((size_t)L * K * 4);
    num[s] = xmalloc((size_t)I * 4), den[s] = xmalloc((size_t)I * 4);
  }
  float *wnum = xmalloc((size_t)I * 4), *wden = xmalloc((size_t)I * 4);
  warm_state(wnum, wden, depth, &r);
  lib_t* libs[2] = {a, b};
  sdt_ctx** ctxs[2] = {&ca, &cb};
  for (int s = 0; s < 2; s++) CALL(libs[s], where, make_tree(ctxs[s], libs[s], &c, &p));

  /* forward and evaluate */
  for (int s = 0; s < 2; s++) {
    CALL(libs[s], where,
         libs[s]->forward(in[s], lf[s], mx[s], p1[s], p2[s], ml[s], *ctxs[s], x, nf));
    if (reg) { /* a regression tree has no classes: evaluate refuses it */
      int32_t st = libs[s]->evaluate(&acc1[s], &acc2[s], e1[s], e2[s], *ctxs[s], x, labels, nf);
      expect(st == SDT_ERR_STATE, "%s: %s: evaluate() of a regression tree returned %d, not %d",
             where, libs[s]->label, st, SDT_ERR_STATE);
      acc1[s] = acc2[s] = 0;
      for (int i = 0; i < nf; i++) e1[s][i] = p1[s][i], e2[s][i] = p2[s][i];
      for (int i = 0; i < nf; i++) acc1[s] += p1[s][i] == labels[i], acc2[s] += p2[s][i] == labels[i];
      acc1[s] /= nf, acc2[s] /= nf;
    } else {
      CALL(libs[s], where,
           libs[s]->evaluate(&acc1[s], &acc2[s], e1[s], e2[s], *ctxs[s], x, labels, nf));
    }
  }
  wst.forward = maxd(wst.forward, comparef(where, "forward inner", in[0], in[1], (size_t)nf * I, tf));
  wst.forward = maxd(wst.forward, comparef(where, "forward leaf", lf[0], lf[1], (size_t)nf * L, tf));
  wst.forward = maxd(wst.forward, comparef(where, "forward mixture", mx[0], mx[1], (size_t)nf * K, tf));
  compare_argmax(where, "max leaf", ml[0], ml[1], lf[1], nf, L);
  compare_argmax(where, "mixture prediction", p2[0], p2[1], mx[1], nf, K);
  for (int s = 0; s < 2; s++) {
    int ok1 = 0, ok2 = 0, same = 1;
    for (int i = 0; i < nf; i++) {
      ok1 += p1[s][i] == labels[i], ok2 += p2[s][i] == labels[i];
      same &= e1[s][i] == p1[s][i] && e2[s][i] == p2[s][i];
    }
    expect(same && acc1[s] == (double)ok1 / nf && acc2[s] == (double)ok2 / nf,
           "%s: %s: evaluate() disagrees with its own forward() (accuracy %.6f vs %.6f)", where,
           libs[s]->label, acc1[s], (double)ok1 / nf);
  }

  /* gradients with a fresh and a part-way penalty; the penalty state must not move */
  for (int warm = 0; warm < 2; warm++) {
    const char* what = warm ? "gradients (warm penalty)" : "gradients (fresh penalty)";
    for (int s = 0; s < 2; s++) {
      if (warm) CALL(libs[s], where, libs[s]->set_penalty(*ctxs[s], wnum, wden, 5));
      CALL(libs[s], where,
           libs[s]->gradients(dw[s], db[s], dphi[s], &dbeta[s], &gl[s], &gp[s], *ctxs[s], x, t,
                              batch));
      CALL(libs[s], where, libs[s]->get_penalty(num[s], den[s], &steps[s], *ctxs[s]));
      expect(steps[s] == (warm ? 5 : 0) &&
                 (!warm || (memcmp(num[s], wnum, (size_t)I * 4) == 0 &&
                            memcmp(den[s], wden, (size_t)I * 4) == 0)),
             "%s: %s: %s changed the penalty state", where, libs[s]->label, what);
    }
    char wh[192];
    snprintf(wh, sizeof wh, "%s, %s", where, what);
    wst.forward = maxd(wst.forward, compare1(wh, "loss", gl[0], gl[1], tf));
    wst.forward = maxd(wst.forward, compare1(wh, "penalty", gp[0], gp[1], tf));
    wst.gradient = maxd(wst.gradient, comparef(wh, "dw", dw[0], dw[1], (size_t)I * F, tg));
    wst.gradient = maxd(wst.gradient, comparef(wh, "db", db[0], db[1], (size_t)I, tg));
    wst.gradient = maxd(wst.gradient, comparef(wh, "dphi", dphi[0], dphi[1], (size_t)L * K, tg));
    wst.gradient = maxd(wst.gradient, compare1(wh, "dbeta", dbeta[0], dbeta[1], tg));
  }

  /* epochs over the resident set, a fresh penalty; sdt_set_beta between epochs (fixed beta) */
  {
    float *zn = xmalloc((size_t)I * 4), *zd = xmalloc((size_t)I * 4);
    int32_t* order = xmalloc((size_t)nt * 4);
    for (int s = 0; s < 2; s++) {
      int32_t st = libs[s]->set_penalty(*ctxs[s], zn, zd, 0);
      if (st == SDT_OK) st = libs[s]->set_train_data(*ctxs[s], x, t, nt);
      if (st != SDT_OK) {
        failure("%s: %s: setting up the epochs returned status %d: %s", where, libs[s]->label,
                st, libs[s]->last_error());
        free(zn), free(zd), free(order);
        goto done;
      }
    }
    free(zn), free(zd);
    for (int e = 0; e < epochs; e++) {
      rng_t ro = {(uint64_t)e * 991 + (uint64_t)depth};
      permutation(order, nt, &ro);
      if (e == 1 && !learn_beta) {
        float nb_ = (float)(p.beta * 3);
        for (int s = 0; s < 2; s++) {
          int32_t st = libs[s]->set_beta(*ctxs[s], nb_);
          if (st != SDT_OK) {
            failure("%s: %s: sdt_set_beta returned status %d: %s", where, libs[s]->label, st,
                    libs[s]->last_error());
            free(order);
            goto done;
          }
        }
      }
      for (int s = 0; s < 2; s++) {
        int32_t st = libs[s]->train_samples(&ls[s], &ps[s], &nb[s], *ctxs[s], order, nt, batch);
        if (st != SDT_OK) {
          failure("%s: %s: sdt_train_samples returned status %d: %s", where, libs[s]->label, st,
                  libs[s]->last_error());
          free(order);
          goto done;
        }
      }
      char wh[192];
      snprintf(wh, sizeof wh, "%s, epoch %d", where, e + 1);
      expect(nb[0] == nb[1] && nb[1] == (nt + batch - 1) / batch,
             "%s: batches %d vs %d (want %d)", wh, nb[0], nb[1], (nt + batch - 1) / batch);
      wst.epochs = maxd(wst.epochs, compare1(wh, "loss sum", ls[0], ls[1], tp));
      wst.epochs = maxd(wst.epochs, compare1(wh, "penalty sum", ps[0], ps[1], tp));
    }
    free(order);
  }
  /* one sdt_train_step on the first batch, then the state of both */
  for (int s = 0; s < 2; s++) {
    CALL(libs[s], where, libs[s]->train_step(&gl[s], &gp[s], *ctxs[s], x, t, batch));
    CALL(libs[s], where, libs[s]->get_params(w[s], bb[s], phi[s], &beta[s], *ctxs[s]));
    CALL(libs[s], where, libs[s]->get_penalty(num[s], den[s], &steps[s], *ctxs[s]));
  }
  {
    char wh[192];
    snprintf(wh, sizeof wh, "%s, after %d epochs and a step", where, epochs);
    wst.epochs = maxd(wst.epochs, compare1(wh, "step loss", gl[0], gl[1], tp));
    wst.epochs = maxd(wst.epochs, compare1(wh, "step penalty", gp[0], gp[1], tp));
    wst.epochs = maxd(wst.epochs, comparef(wh, "w", w[0], w[1], (size_t)I * F, tp));
    wst.epochs = maxd(wst.epochs, comparef(wh, "b", bb[0], bb[1], (size_t)I, tp));
    wst.epochs = maxd(wst.epochs, comparef(wh, "phi", phi[0], phi[1], (size_t)L * K, tp));
    wst.epochs = maxd(wst.epochs, compare1(wh, "beta", beta[0], beta[1], tp));
    wst.epochs = maxd(wst.epochs, comparef(wh, "penalty num", num[0], num[1], (size_t)I, tp));
    wst.epochs = maxd(wst.epochs, comparef(wh, "penalty den", den[0], den[1], (size_t)I, tp));
    int64_t want = (int64_t)epochs * ((nt + batch - 1) / batch) + 1;
    expect(steps[0] == want && steps[1] == want, "%s: penalty steps %lld vs %lld (want %lld)", wh,
           (long long)steps[0], (long long)steps[1], (long long)want);
    if (!learn_beta && epochs > 1)
      expect(beta[0] == (float)(p.beta * 3) && beta[1] == (float)(p.beta * 3),
             "%s: beta after sdt_set_beta is %.9g vs %.9g (want %.9g)", wh, beta[0], beta[1],
             (float)(p.beta * 3));
  }
  /* Adam's state: the same after training; b's state set into a comes back unchanged */
  {
    const size_t P = (size_t)I * F + I + (size_t)L * K + 1;
    float *am = xmalloc(P * 4), *av = xmalloc(P * 4), *bm = xmalloc(P * 4), *bv = xmalloc(P * 4);
    int64_t at = -1, bt = -2;
    char wh[192];
    snprintf(wh, sizeof wh, "%s, Adam's state", where);
    int32_t st = a->get_adam(am, av, &at, ca);
    if (st == SDT_OK) st = b->get_adam(bm, bv, &bt, cb);
    if (st == SDT_OK) {
      expect(at == bt, "%s: step counts %lld vs %lld", wh, (long long)at, (long long)bt);
      wst.epochs = maxd(wst.epochs, comparef(wh, "first moments", am, bm, P, tp));
      wst.epochs = maxd(wst.epochs, comparef(wh, "second moments", av, bv, P, tp));
      st = a->set_adam(ca, bm, bv, bt);
      if (st == SDT_OK) st = a->get_adam(am, av, &at, ca);
      expect(st != SDT_OK || (at == bt && memcmp(am, bm, P * 4) == 0 && memcmp(av, bv, P * 4) == 0),
             "%s: sdt_set_adam then sdt_get_adam on %s does not give the state back", wh,
             a->label);
    }
    if (st != SDT_OK)
      failure("%s: sdt_get_adam or sdt_set_adam returned status %d: %s / %s", wh, st,
              a->last_error(), b->last_error());
    free(am), free(av), free(bm), free(bv);
  }
  printf("  %-49s forward %.1e  gradients %.1e  %d epochs %.1e  (%.2f s)\n", where,
         wst.forward, wst.gradient, epochs, wst.epochs, now() - t_start);
  g_worst.forward = maxd(g_worst.forward, wst.forward);
  g_worst.gradient = maxd(g_worst.gradient, wst.gradient);
  g_worst.epochs = maxd(g_worst.epochs, wst.epochs);
  fflush(stdout);
done:
  if (ca) a->destroy(ca);
  if (cb) b->destroy(cb);
  for (int s = 0; s < 2; s++) {
    free(in[s]), free(lf[s]), free(mx[s]), free(p1[s]), free(p2[s]), free(ml[s]), free(e1[s]);
    free(e2[s]), free(dw[s]), free(db[s]), free(dphi[s]), free(w[s]), free(bb[s]), free(phi[s]);
    free(num[s]), free(den[s]);
  }
  free(wnum), free(wden), free(x), free(t), free(labels);
  free_params(&p);
}

static void pair_matrix(lib_t* a, lib_t* b, int quick, tol_t tf, tol_t tg, tol_t tp) {
  const int depths[] = {1, 4, 8, 12};
  const int batches[] = {1, 7, 64, 4096};
  const int nbatches = quick ? 3 : 4, epochs = quick ? 2 : 3;
  printf("== %s against %s: depths 1, 4, 8, 12 x batches 1, 7, 64%s x the four losses "
         "(classification and regression) x fixed and learned beta (largest differences)\n",
         a->label, b->label, quick ? "" : ", 4096");
  fflush(stdout);
  for (int di = 0; di < 4; di++)
    for (int bi = 0; bi < nbatches; bi++)
      for (int loss = 0; loss < 4; loss++)
        for (int lb = 0; lb < 2; lb++)
          pair_case(a, b, depths[di], batches[bi], loss, lb, epochs, tf, tg, tp);
}

/* One training step on a batch of 1,100,000 rows (68,750 row tiles of the own GEMM kernel,
 * more than grid.y's 65,535), a against b. */
static void big_batch(lib_t* a, lib_t* b) {
  const int n = 1100000, F = 16, K = 3;
  const char* where = "one step on a batch of 1,100,000 rows (depth 2)";
  printf("== %s against %s: %s\n", a->label, b->label, where);
  cfg_t c = {2, F, K, SDT_LOSS_EXPECTED, 1, 1.5, 10, 0.25, 1000, 5e-3};
  rng_t r = {4242};
  params_t p = random_params(&c, &r);
  float *x = xmalloc((size_t)n * F * 4), *t = xmalloc((size_t)n * K * 4);
  int32_t* order = xmalloc((size_t)n * 4);
  random_rows(x, t, NULL, n, F, K, 0.6, 0, &r);
  for (int i = 0; i < n; i++) order[i] = i;
  lib_t* libs[2] = {a, b};
  sdt_ctx* ctx[2] = {NULL, NULL};
  float w[2][3 * 16], bb[2][3], phi[2][4 * 3], beta[2];
  double ls[2], ps[2];
  int32_t nb[2];
  for (int s = 0; s < 2; s++) {
    CALL(libs[s], where, make_tree(&ctx[s], libs[s], &c, &p));
    CALL(libs[s], where, libs[s]->set_train_data(ctx[s], x, t, n));
    CALL(libs[s], where, libs[s]->train_samples(&ls[s], &ps[s], &nb[s], ctx[s], order, n, n));
    CALL(libs[s], where, libs[s]->get_params(w[s], bb[s], phi[s], &beta[s], ctx[s]));
  }
  double d = compare1(where, "loss sum", ls[0], ls[1], TOL_PARAMS);
  d = maxd(d, compare1(where, "penalty", ps[0], ps[1], TOL_PARAMS));
  d = maxd(d, comparef(where, "w", w[0], w[1], 3 * 16, TOL_PARAMS));
  d = maxd(d, comparef(where, "b", bb[0], bb[1], 3, TOL_PARAMS));
  d = maxd(d, comparef(where, "phi", phi[0], phi[1], 4 * 3, TOL_PARAMS));
  d = maxd(d, compare1(where, "beta", beta[0], beta[1], TOL_PARAMS));
  printf("  largest difference %.1e\n", d);
done:
  for (int s = 0; s < 2; s++)
    if (ctx[s]) libs[s]->destroy(ctx[s]);
  free(x), free(t), free(order);
  free_params(&p);
}

/* ---------------------------------------------------------------- 4. timing */

typedef struct {
  const char* name;
  int depth, batch, rows;
} bench_t;

static const bench_t BENCHES[] = {
    {"depth 4, batch 4", 4, 4, 50000},
    {"depth 8, batch 64", 8, 64, 50000},
    {"depth 10, batch 4096", 10, 4096, 50000},
    {"depth 12, batch 4096", 12, 4096, 300000},
};
#define NBENCH (int)(sizeof BENCHES / sizeof BENCHES[0])

typedef struct {
  double train, eval, epoch; /* samples/s, samples/s, seconds (NAN: not measured) */
} timing_t;

/* MNIST-sized synthetic data, shared by every timing: x [300000, 784], one-hot targets. */
static float *g_tx, *g_tt;
static int32_t* g_tl;
static const int TF = 784, TK = 10, TROWS = 300000;

static void timing_data(void) {
  if (g_tx) return;
  g_tx = xmalloc((size_t)TROWS * TF * 4), g_tt = xmalloc((size_t)TROWS * TK * 4);
  g_tl = xmalloc((size_t)TROWS * 4);
  rng_t r = {2024};
  random_rows(g_tx, g_tt, g_tl, TROWS, TF, TK, 0.81, 0, &r);
}

/* Train and evaluate for about `budget` seconds each; 0, or -1 on a library error. */
static int time_one(lib_t* L, const bench_t* bc, double budget, timing_t* out, int epoch) {
  char where[128];
  snprintf(where, sizeof where, "timing %s, %s", L->label, bc->name);
  cfg_t c = {bc->depth, TF, TK, SDT_LOSS_EXPECTED, 0, 0.1, 30, 0.25, 1000, 5e-3};
  rng_t r = {(uint64_t)bc->depth};
  params_t p = random_params(&c, &r);
  int32_t* order = xmalloc((size_t)bc->rows * 4);
  int rc = -1;
  sdt_ctx* ctx = NULL;
  double ls, ps, a1, a2;
  int32_t nb;
  out->train = out->eval = out->epoch = NAN;
  permutation(order, bc->rows, &r);
  CALL(L, where, make_tree(&ctx, L, &c, &p));
  CALL(L, where, L->set_train_data(ctx, g_tx, g_tt, bc->rows));
  /* warm-up (first launches, cuBLAS's start), not timed */
  CALL(L, where, L->train_samples(&ls, &ps, &nb, ctx, order, bc->batch * 2, bc->batch));
  CALL(L, where, L->evaluate(&a1, &a2, NULL, NULL, ctx, g_tx, g_tl, bc->batch));
  {
    /* chunks of whole batches, doubling, until the budget is spent or the epoch is done */
    int64_t done_rows = 0, chunk = bc->batch;
    double t0 = now(), el = 0;
    while (done_rows < bc->rows && el < budget) {
      int64_t m = chunk < bc->rows - done_rows ? chunk : bc->rows - done_rows;
      CALL(L, where, L->train_samples(&ls, &ps, &nb, ctx, order + done_rows, (int32_t)m,
                                      bc->batch));
      done_rows += m, chunk *= 2, el = now() - t0;
    }
    out->train = done_rows / el;
  }
  {
    int n = bc->rows < 50000 ? bc->rows : 50000, reps = 0;
    double t0 = now(), el = 0;
    while (reps == 0 || el < budget / 2) {
      CALL(L, where, L->evaluate(&a1, &a2, NULL, NULL, ctx, g_tx, g_tl, n));
      reps++, el = now() - t0;
    }
    out->eval = (double)n * reps / el;
  }
  if (epoch) {
    double t0 = now();
    CALL(L, where, L->train_samples(&ls, &ps, &nb, ctx, order, bc->rows, bc->batch));
    out->epoch = now() - t0;
    expect(isfinite(ls) && nb == (bc->rows + bc->batch - 1) / bc->batch,
           "%s: the timed epoch ran %d batches with loss sum %g", where, nb, ls);
  }
  rc = 0;
done:
  if (ctx) L->destroy(ctx);
  free(order);
  free_params(&p);
  return rc;
}

static void timing(lib_t* cuda, lib_t* cpu, double budget) {
  timing_t tc[NBENCH], tp[NBENCH];
  timing_data();
  for (int i = 0; i < NBENCH; i++) {
    int ep = BENCHES[i].depth == 10;
    tc[i].train = tc[i].eval = tc[i].epoch = NAN;
    tp[i] = tc[i];
    if (cuda && time_one(cuda, &BENCHES[i], budget, &tc[i], ep)) return;
    if (cpu && time_one(cpu, &BENCHES[i], budget, &tp[i], ep)) return;
  }
  printf("== timing: samples/s (784 features, 10 classes, 81%% zeros); CUDA %s\n",
         cuda ? cuda->build_info() : "not run");
  if (cpu) printf("   CPU: %s, every core (%ld)\n", cpu->build_info(), sysconf(_SC_NPROCESSORS_ONLN));
  printf("  %-22s %7s %12s %12s %7s %12s %12s %7s\n", "case", "rows", "train CUDA",
         "train CPU", "CUDA/CPU", "eval CUDA", "eval CPU", "CUDA/CPU");
  for (int i = 0; i < NBENCH; i++) {
    char c[6][16];
    double v[6] = {tc[i].train, tp[i].train, tc[i].train / tp[i].train,
                   tc[i].eval,  tp[i].eval,  tc[i].eval / tp[i].eval};
    for (int k = 0; k < 6; k++)
      snprintf(c[k], sizeof c[k], isfinite(v[k]) ? (k % 3 == 2 ? "%.2f" : "%.0f") : "-", v[k]);
    printf("  %-22s %7d %12s %12s %7s %12s %12s %7s\n", BENCHES[i].name, BENCHES[i].rows, c[0],
           c[1], c[2], c[3], c[4], c[5]);
  }
  for (int i = 0; i < NBENCH; i++)
    if (BENCHES[i].depth == 10) {
      char a[32] = "-", b[32] = "-";
      if (isfinite(tc[i].epoch)) snprintf(a, sizeof a, "%.3f s", tc[i].epoch);
      if (isfinite(tp[i].epoch)) snprintf(b, sizeof b, "%.3f s", tp[i].epoch);
      printf("  one epoch, %s, %d rows: CUDA %s, CPU %s\n", BENCHES[i].name, BENCHES[i].rows, a,
             b);
    }
  fflush(stdout);
}

/* ---------------------------------------------------------------- main */

static int usage(const char* msg) {
  fprintf(stderr,
          "gpu_parity: %s\nusage: gpu_parity --cpu LIB [--cuda LIB] [--quick] [--timing] "
          "[--cpu-timing] [--threads N] [--probe]\n",
          msg);
  return 2;
}

int main(int argc, char** argv) {
  const char *cpu_path = NULL, *cuda_path = NULL;
  int quick = 0, do_timing = 0, cpu_timing = 0, threads = 2, probe_only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cpu") && i + 1 < argc) cpu_path = argv[++i];
    else if (!strcmp(argv[i], "--cuda") && i + 1 < argc) cuda_path = argv[++i];
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--timing")) do_timing = 1;
    else if (!strcmp(argv[i], "--cpu-timing")) cpu_timing = 1;
    else if (!strcmp(argv[i], "--probe")) probe_only = 1;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else return usage("unknown or incomplete option");
  }
  if (!cpu_path) return usage("--cpu LIB is required");
  if (threads < 2 || threads > 64) return usage("--threads must be in [2, 64]");
  const char* req = getenv("SOFTTREE_REQUIRE_CUDA");
  const int require_cuda = req && !strcmp(req, "1");
  setvbuf(stdout, NULL, _IOLBF, 0);

  char why[768];
  lib_t cpu = {.label = "cpu", .threads = 0};
  if (load_lib(&cpu, cpu_path, why, sizeof why)) {
    printf("cpu: %s\nresult: FAIL (the CPU library: %s)\n", why, why);
    return 1;
  }
  char info[512];
  int32_t st = cpu.probe(info, sizeof info);
  printf("cpu:  %s (%s)\n", cpu.build_info(), cpu_path);
  if (st != SDT_OK) {
    printf("result: FAIL (the CPU library cannot run: %s)\n", cpu.last_error());
    return 1;
  }
  lib_t cuda = {.label = "cuda", .threads = 0};
  int cuda_ok = 0;
  char cuda_why[768] = "";
  if (!cuda_path) {
    snprintf(cuda_why, sizeof cuda_why, "no --cuda library given");
  } else if (load_lib(&cuda, cuda_path, cuda_why, sizeof cuda_why) == 0) {
    printf("cuda: %s (%s)\n", cuda.build_info(), cuda_path);
    st = cuda.probe(info, sizeof info);
    if (st == SDT_OK) {
      cuda_ok = 1;
      printf("cuda: device %s\n", info);
    } else {
      snprintf(cuda_why, sizeof cuda_why, "the CUDA library cannot run here (status %d): %s", st,
               cuda.last_error());
    }
  }
  if (!cuda_ok && cuda_path) printf("cuda: %s\n", cuda_why);
  if (probe_only) {
    printf("result: %s\n", cuda_ok || !cuda_path ? "PASS (probe)" : "FAIL (probe)");
    return cuda_ok || !cuda_path ? 0 : 1;
  }
  if (!cuda_ok && require_cuda) { /* fail at once: nothing below would change the verdict */
    printf("result: FAIL (SOFTTREE_REQUIRE_CUDA=1 but CUDA cannot run: %s)\n", cuda_why);
    return 1;
  }
  fflush(stdout);

  double t0 = now();
  check_launch();
  check_reference(&cpu);
  if (cuda_ok) {
    pair_matrix(&cuda, &cpu, quick, TOL_FORWARD, TOL_GRADIENT, TOL_PARAMS);
    big_batch(&cuda, &cpu);
  } else {
    lib_t one = cpu, many = cpu;
    char label[64];
    snprintf(label, sizeof label, "cpu (%d threads)", threads);
    one.label = "cpu (1 thread)", one.threads = 1;
    many.label = label, many.threads = threads;
    pair_matrix(&many, &one, quick, TOL_EXACT, TOL_EXACT, TOL_EXACT);
  }
  printf("parity: %s (%d comparisons, %d failed, %.1f s; largest differences over the matrix: "
         "forward %.1e, gradients %.1e, after training %.1e)\n",
         g_failed ? "FAIL" : "PASS", g_checks, g_failed, now() - t0, g_worst.forward,
         g_worst.gradient, g_worst.epochs);
  if (do_timing || cpu_timing)
    timing(do_timing && cuda_ok ? &cuda : NULL, cpu_timing ? &cpu : NULL, 1.0);

  if (g_failed) {
    printf("result: FAIL (%d of %d comparisons failed; first: %s)\n", g_failed, g_checks,
           g_first_failure);
    return 1;
  }
  if (!cuda_ok)
    printf("result: PASS (CPU half only; CUDA not run: %s)\n", cuda_why);
  else
    printf("result: PASS (CUDA against the CPU build, GEMM: %s)\n", cuda.build_info());
  return 0;
}
