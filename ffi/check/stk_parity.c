/*
 * stk_parity.c — a check of softtree's teacher kernels (ffi/stk.h) that needs only a C
 * compiler: no Deno, no npm. It loads the CPU build (libstk_cpu.so) and, when given, the CUDA
 * build (libstk_cuda.so) with dlopen and compares every entry point through the C ABI on
 * seeded random data; bench/gpu_check.sh builds both libraries and runs it on a machine with a
 * GPU, and tests/ffi_check_test.ts runs its CPU half on every test run.
 *
 *   stk_parity --cpu LIB [--cuda LIB] [--quick] [--timing] [--cpu-timing] [--threads N]
 *   stk_parity --cpu LIB [--cuda LIB] --probe
 *
 * Every comparison is |a - b| <= atol + rtol |b| with the tolerances below (one place); a
 * failure prints the largest difference and the first mismatching index. The cases: SGEMM
 * (every transpose, alpha and beta, beta 0 over NaN, leading dimensions above the minimum, odd
 * sizes, K 0, a 1 x 1,100,000 product), the batched and fused matrix product, convolutions
 * with bias and relu or linear and both gradients, max pooling and its gradient (ties, NaN,
 * -inf), bias sums and the relu-bias gradient, softmax cross-entropy, dropout masks and Adam,
 * on the teacher's shapes (28x28x1 input, conv 32 and 64 3x3, pool 2, dense 9216 -> 128 ->
 * 10; batches 1, 17 and 256) and odd ones (3 channels, strides 2 and 2x1, same padding, 5x3
 * and 1x1 filters), plus three training steps of the whole teacher net chained through the
 * entry points.
 * 1. The harness's mulberry32 against values of lib/util/random.ts's Rng (printed by Deno).
 * 2. The CPU build against plain float64 loops written here (the SGEMM also against the
 *    library's own stk_sgemm_naive), where a case costs under 6e8 multiply-adds; the dropout
 *    masks and Adam bit for bit.
 * 3. Argument checks: bad arguments give STK_ERR_ARGUMENT and a message naming them; the CUDA
 *    build, when it loads, must give the same status and the same message.
 * 4. A CUDA build that loads but cannot run (no GPU, or a SOFTTREE_CUBLAS it refuses): every
 *    entry point must fail with stk_probe's status and message (softmax cross-entropy, which
 *    runs on the host, must match the CPU build instead, unless the library is refused).
 * 5. Without a runnable CUDA build: the CPU build with 1 thread against --threads threads
 *    (default 2) and against itself again (bit for bit: same thread count, same bits). A
 *    product split along K sums in another order with more threads, so products are held to
 *    the tolerances, the rest bit for bit. With one: the CUDA build against the CPU build
 *    (every core) and against the references, and against itself again (bit for bit);
 *    stk_sgemm_blas must work when the build reports cuBLAS and must refuse otherwise.
 * 6. --timing (CUDA) and --cpu-timing (CPU): samples/s of the teacher's training step (batch
 *    16, the default, and 256) and images/s of inference (batch 256).
 *
 * SOFTTREE_REQUIRE_CUDA=1: a CUDA library that is missing, will not load or cannot run is a
 * failure, said at once. The last line is `result: PASS ...` or `result: FAIL (...)`; the
 * exit status is 0 on PASS, 1 on FAIL and 2 on a usage error. --probe prints each library's
 * stk_build_info and stk_probe and exits 0 when every one can run.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra ffi/check/stk_parity.c -ldl -lm -o stk_parity
 */
#define _POSIX_C_SOURCE 200809L
#include "../stk.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_common.h"

/* ---------------------------------------------------------------- tolerances */

/* tests/teacher_kernels_native_test.ts's TOL: float32 sums of up to 10^5 terms in another order. */
static const tol_t TOL_KERNEL = {1e-4, 1e-3};
/* Its LOSS_TOL: losses and logits after a few training steps (rounding compounds). */
static const tol_t TOL_TRAIN = {1e-3, 1e-3};
/* Masks, selections, Adam's rounded operations, host code shared by both builds, and a
 * build against itself at the same thread count. */
static const tol_t TOL_EXACT = {0, 0};
/* A reference costs at most this many multiply-adds (larger cases compare builds only). */
#define REF_WORK 6e8

/* ---------------------------------------------------------------- results */

/* Compare a against b (the reference, float or double); returns the largest difference and
 * records a failure naming the first mismatch. */
static double compare(const char* where, const char* what, const float* a, const float* bf,
                      const double* bd, size_t n, tol_t t) {
  double worst = 0;
  size_t worst_at = 0, first = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    const double b = bf ? (double)bf[i] : bd[i];
    /* NaN only matches NaN; infinities only themselves */
    const int same = a[i] == b || (isnan((double)a[i]) && isnan(b));
    const double d = same ? 0 : fabs(a[i] - b);
    if (!same && !(d <= t.atol + t.rtol * fabs(b)) && first == (size_t)-1) first = i;
    if (d > worst || isnan(d)) worst = isnan(d) ? INFINITY : d, worst_at = i;
  }
  g_checks++;
  if (first != (size_t)-1) {
    const double b = bf ? (double)bf[first] : bd[first];
    failure("%s: %s: first mismatch at index %zu (%.9g vs %.9g); largest difference %.3g at "
            "index %zu (atol %g, rtol %g)",
            where, what, first, (double)a[first], b, worst, worst_at, t.atol, t.rtol);
  }
  return worst;
}

static double maxd(double a, double b) { return a > b || isnan(a) ? a : b; }

static float* floats(size_t n) { return xmalloc(n * sizeof(float)); }
static double* doubles(size_t n) { return xmalloc(n * sizeof(double)); }

/* ---------------------------------------------------------------- random numbers */

static void fill_normal(float* x, size_t n, double scale, rng_t* r) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(r));
}
/* Like the teacher's activations: a `zeros` share of zeros, else uniform in (0, 1]. */
static void fill_relu(float* x, size_t n, double zeros, rng_t* r) {
  for (size_t i = 0; i < n; i++) x[i] = rng_next(r) < zeros ? 0.f : (float)(1 - rng_next(r));
}

/* ---------------------------------------------------------------- the libraries */

typedef struct {
  const char* label; /* "cpu", "cuda" */
  void* h;
  __typeof__(&stk_abi_version) abi_version;
  __typeof__(&stk_last_error) last_error;
  __typeof__(&stk_build_info) build_info;
  __typeof__(&stk_probe) probe;
  __typeof__(&stk_set_threads) set_threads;
  __typeof__(&stk_threads) threads;
  __typeof__(&stk_sgemm) sgemm;
  __typeof__(&stk_sgemm_naive) sgemm_naive;
  __typeof__(&stk_sgemm_blas) sgemm_blas;
  __typeof__(&stk_matmul) matmul;
  __typeof__(&stk_conv2d) conv2d;
  __typeof__(&stk_conv2d_backprop_input) conv2d_backprop_input;
  __typeof__(&stk_conv2d_backprop_filter) conv2d_backprop_filter;
  __typeof__(&stk_max_pool) max_pool;
  __typeof__(&stk_max_pool_grad) max_pool_grad;
  __typeof__(&stk_dropout_mask) dropout_mask;
  __typeof__(&stk_softmax_xent) softmax_xent;
  __typeof__(&stk_relu_bias_grad) relu_bias_grad;
  __typeof__(&stk_sum_rows) sum_rows;
  __typeof__(&stk_adam) adam;
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
  SYM(abi_version, "stk_abi_version");
  SYM(last_error, "stk_last_error");
  SYM(build_info, "stk_build_info");
  SYM(probe, "stk_probe");
  SYM(set_threads, "stk_set_threads");
  SYM(threads, "stk_threads");
  SYM(sgemm, "stk_sgemm");
  SYM(sgemm_naive, "stk_sgemm_naive");
  SYM(sgemm_blas, "stk_sgemm_blas");
  SYM(matmul, "stk_matmul");
  SYM(conv2d, "stk_conv2d");
  SYM(conv2d_backprop_input, "stk_conv2d_backprop_input");
  SYM(conv2d_backprop_filter, "stk_conv2d_backprop_filter");
  SYM(max_pool, "stk_max_pool");
  SYM(max_pool_grad, "stk_max_pool_grad");
  SYM(dropout_mask, "stk_dropout_mask");
  SYM(softmax_xent, "stk_softmax_xent");
  SYM(relu_bias_grad, "stk_relu_bias_grad");
  SYM(sum_rows, "stk_sum_rows");
  SYM(adam, "stk_adam");
#undef SYM
  if (L->abi_version() != STK_ABI_VERSION) {
    snprintf(why, cap, "\"%s\" has ABI version %d, this check was built for %d", path,
             L->abi_version(), STK_ABI_VERSION);
    return -1;
  }
  return 0;
}

/* A failed library call inside a function returning a status: hand the status back. */
#define TRY(call)                  \
  do {                             \
    int32_t st_ = (call);          \
    if (st_ != STK_OK) return st_; \
  } while (0)

/* ---------------------------------------------------------------- geometry */

/* tfjs's geometry of a convolution or pooling: "valid" or "same" padding. */
static stk_conv geometry(int B, int H, int W, int C, int CO, int KH, int KW, int SH, int SW,
                         int same) {
  stk_conv g = {B, H, W, C, 0, 0, CO, KH, KW, SH, SW, 0, 0};
  if (same) {
    g.out_h = (H + SH - 1) / SH, g.out_w = (W + SW - 1) / SW;
    int ph = (g.out_h - 1) * SH + KH - H, pw = (g.out_w - 1) * SW + KW - W;
    g.pad_top = ph > 0 ? ph / 2 : 0, g.pad_left = pw > 0 ? pw / 2 : 0;
  } else {
    g.out_h = (H - KH) / SH + 1, g.out_w = (W - KW) / SW + 1;
  }
  return g;
}

static size_t n_in(const stk_conv* g) { return (size_t)g->batch * g->in_h * g->in_w * g->in_c; }
static size_t n_out(const stk_conv* g) {
  return (size_t)g->batch * g->out_h * g->out_w * g->out_c;
}
static size_t n_filter(const stk_conv* g) {
  return (size_t)g->filter_h * g->filter_w * g->in_c * g->out_c;
}

/* ---------------------------------------------------------------- plain references */

/* out [m, ldc] = alpha op(A) op(B) + beta C on [m, n], C's other columns unchanged. */
static void ref_sgemm(double* out, int ta, int tb, int m, int n, int k, double alpha,
                      const float* a, int lda, const float* b, int ldb, double beta,
                      const float* c, int ldc) {
  /* op(A) [m, k] and op(B) [k, n] as dense doubles first: the loops below run along rows */
  double *A = doubles((size_t)m * k), *B = doubles((size_t)k * n), *s = doubles((size_t)n);
  for (int i = 0; i < m; i++)
    for (int p = 0; p < k; p++)
      A[(size_t)i * k + p] = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
  for (int p = 0; p < k; p++)
    for (int j = 0; j < n; j++)
      B[(size_t)p * n + j] = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) s[j] = 0;
    for (int p = 0; p < k; p++) {
      const double x = A[(size_t)i * k + p];
      const double* row = B + (size_t)p * n;
      for (int j = 0; j < n; j++) s[j] += x * row[j];
    }
    for (int j = 0; j < ldc; j++) out[(size_t)i * ldc + j] = c[(size_t)i * ldc + j];
    for (int j = 0; j < n; j++)
      out[(size_t)i * ldc + j] = alpha * s[j] + (beta != 0 ? beta * c[(size_t)i * ldc + j] : 0);
  }
  free(A), free(B), free(s);
}

static void ref_conv(double* y, const float* x, const float* f, const float* bias,
                     const stk_conv* g, int relu) {
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double* acc = y + ((b * OH + oh) * OW + ow) * CO;
        for (int64_t co = 0; co < CO; co++) acc[co] = bias ? bias[co] : 0;
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) {
            const int64_t ih = oh * g->stride_h + kh - g->pad_top;
            const int64_t iw = ow * g->stride_w + kw - g->pad_left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            for (int64_t c = 0; c < C; c++) {
              const double xv = x[((b * H + ih) * W + iw) * C + c];
              const float* fr = f + ((kh * KW + kw) * C + c) * CO;
              for (int64_t co = 0; co < CO; co++) acc[co] += xv * fr[co];
            }
          }
        if (relu)
          for (int64_t co = 0; co < CO; co++) acc[co] = acc[co] > 0 ? acc[co] : 0;
      }
}

static void ref_backprop_input(double* dx, const float* dy, const float* f, const stk_conv* g) {
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  memset(dx, 0, n_in(g) * sizeof *dx);
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const float* d = dy + ((b * OH + oh) * OW + ow) * CO;
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) {
            const int64_t ih = oh * g->stride_h + kh - g->pad_top;
            const int64_t iw = ow * g->stride_w + kw - g->pad_left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            for (int64_t c = 0; c < C; c++) {
              const float* fr = f + ((kh * KW + kw) * C + c) * CO;
              double s = 0;
              for (int64_t co = 0; co < CO; co++) s += (double)d[co] * fr[co];
              dx[((b * H + ih) * W + iw) * C + c] += s;
            }
          }
      }
}

static void ref_backprop_filter(double* df, const float* x, const float* dy, const stk_conv* g) {
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  memset(df, 0, n_filter(g) * sizeof *df);
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const float* d = dy + ((b * OH + oh) * OW + ow) * CO;
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) {
            const int64_t ih = oh * g->stride_h + kh - g->pad_top;
            const int64_t iw = ow * g->stride_w + kw - g->pad_left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            for (int64_t c = 0; c < C; c++) {
              const double xv = x[((b * H + ih) * W + iw) * C + c];
              double* fr = df + ((kh * KW + kw) * C + c) * CO;
              for (int64_t co = 0; co < CO; co++) fr[co] += xv * d[co];
            }
          }
      }
}

/* y (when given) = each window's largest value (-inf when none is above -inf; NaN passed
 * over); dx (when given) = dy added at each window's first largest value. */
static void ref_pool(double* y, double* dx, const float* dy, const float* x, const stk_conv* g) {
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  if (dx) memset(dx, 0, n_in(g) * sizeof *dx);
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++)
        for (int64_t c = 0; c < C; c++) {
          float m = -INFINITY;
          int64_t at = -1;
          for (int64_t kh = 0; kh < g->filter_h; kh++)
            for (int64_t kw = 0; kw < g->filter_w; kw++) {
              const int64_t ih = oh * g->stride_h + kh - g->pad_top;
              const int64_t iw = ow * g->stride_w + kw - g->pad_left;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const int64_t i = ((b * H + ih) * W + iw) * C + c;
              if (x[i] > m) m = x[i], at = i;
            }
          const int64_t o = ((b * OH + oh) * OW + ow) * C + c;
          if (y) y[o] = m;
          if (dx && at >= 0) dx[at] += dy[o];
        }
}

/* mulberry32 as lib/util/random.ts's Rng.next() writes it: value i (0-based) of a generator
 * in state `state`, as a uint32. */
static uint32_t ref_mulberry(uint32_t state, uint64_t i) {
  uint32_t t = state + (uint32_t)((i + 1) * 0x6d2b79f5ULL);
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

/* One Adam step in float, one rounded operation per statement (no contraction possible). */
static void ref_adam(float* w_out, float* m, float* v, const float* w, const float* g, size_t n,
                     double beta1, double beta2, double lr, double c1, double c2, double eps) {
  const float b1 = (float)beta1, b2 = (float)beta2, a1 = (float)(1 - beta1);
  const float a2 = (float)(1 - beta2), l = (float)lr, k1 = (float)c1, k2 = (float)c2;
  const float e = (float)eps;
  for (size_t i = 0; i < n; i++) {
    float p = m[i] * b1, q = g[i] * a1;
    const float mi = p + q;
    p = v[i] * b2, q = g[i] * g[i];
    q = q * a2;
    const float vi = p + q;
    float r = vi / k2;
    r = sqrtf(r);
    r = r + e;
    float u = mi / k1;
    u = u / r;
    u = l * u;
    m[i] = mi, v[i] = vi;
    w_out[i] = w[i] - u;
  }
}

/* ---------------------------------------------------------------- the teacher net */

/* The teacher (lib/teacher/model.ts): conv 32 3x3 relu, conv 64 3x3 relu, max pool 2,
 * dropout 0.25, dense 9216 -> 128 relu, dropout 0.5, dense 128 -> 10; Adam. A training step
 * calls the entry points as lib/teacher/kernels_native.ts does (the masks' products, done by
 * tfjs there, are plain loops here). */
enum { NW = 8 };
static const size_t W_SIZE[NW] = {3 * 3 * 1 * 32, 32, 3 * 3 * 32 * 64, 64, 9216 * 128, 128,
                                  128 * 10, 10};
typedef struct {
  int cap; /* the largest batch */
  float* w[NW];
  float *m[NW], *v[NW], *g[NW];
  float *x, *h1, *h2, *p, *mask1, *d1, *h3, *mask2, *d2, *logits, *dlogits;
  float *dd2, *dz3, *dd1, *dh2, *dz2, *dh1, *dz1;
  int32_t* labels;
  int64_t step;
} net_t;

static void net_init(net_t* n, int cap, uint64_t seed) {
  memset(n, 0, sizeof *n);
  n->cap = cap;
  rng_t r = {seed};
  const double fan_in[NW] = {9, 0, 288, 0, 9216, 0, 128, 0};
  for (int i = 0; i < NW; i++) {
    n->w[i] = floats(W_SIZE[i]), n->m[i] = floats(W_SIZE[i]), n->v[i] = floats(W_SIZE[i]);
    n->g[i] = floats(W_SIZE[i]);
    if (fan_in[i] > 0) fill_normal(n->w[i], W_SIZE[i], sqrt(2 / fan_in[i]), &r);
    else fill_normal(n->w[i], W_SIZE[i], 0.01, &r);
  }
  const size_t B = (size_t)cap;
  n->x = floats(B * 784), n->h1 = floats(B * 26 * 26 * 32), n->h2 = floats(B * 24 * 24 * 64);
  n->p = floats(B * 9216), n->mask1 = floats(B * 9216), n->d1 = floats(B * 9216);
  n->h3 = floats(B * 128), n->mask2 = floats(B * 128), n->d2 = floats(B * 128);
  n->logits = floats(B * 10), n->dlogits = floats(B * 10), n->dd2 = floats(B * 128);
  n->dz3 = floats(B * 128), n->dd1 = floats(B * 9216), n->dh2 = floats(B * 24 * 24 * 64);
  n->dz2 = floats(B * 24 * 24 * 64), n->dh1 = floats(B * 26 * 26 * 32);
  n->dz1 = floats(B * 26 * 26 * 32);
  n->labels = xmalloc(B * sizeof(int32_t));
  fill_relu(n->x, B * 784, 0.8, &r); /* MNIST-like: about 80% zeros */
  for (size_t i = 0; i < B; i++) n->labels[i] = (int32_t)(rng_next(&r) * 10);
}

static void net_free(net_t* n) {
  for (int i = 0; i < NW; i++) free(n->w[i]), free(n->m[i]), free(n->v[i]), free(n->g[i]);
  float* bufs[] = {n->x,   n->h1,      n->h2,  n->p,   n->mask1, n->d1,  n->h3,
                   n->mask2, n->d2,    n->logits, n->dlogits, n->dd2, n->dz3, n->dd1,
                   n->dh2, n->dz2,     n->dh1, n->dz1};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  free(n->labels);
}

/* The forward pass to the logits; with `train`, dropout masks from `state`. */
static int32_t net_forward(const lib_t* L, net_t* n, int B, int train, uint32_t state) {
  stk_conv g1 = geometry(B, 28, 28, 1, 32, 3, 3, 1, 1, 0);
  stk_conv g2 = geometry(B, 26, 26, 32, 64, 3, 3, 1, 1, 0);
  stk_conv gp = geometry(B, 24, 24, 64, 64, 2, 2, 2, 2, 0);
  const size_t nb = (size_t)B;
  TRY(L->conv2d(n->h1, n->x, n->w[0], n->w[1], &g1, STK_ACT_RELU));
  TRY(L->conv2d(n->h2, n->h1, n->w[2], n->w[3], &g2, STK_ACT_RELU));
  TRY(L->max_pool(n->p, n->h2, &gp));
  const float* flat = n->p;
  if (train) {
    TRY(L->dropout_mask(n->mask1, state, (int64_t)(nb * 9216), 0.25));
    for (size_t i = 0; i < nb * 9216; i++) n->d1[i] = n->p[i] * n->mask1[i];
    flat = n->d1;
  }
  TRY(L->matmul(n->h3, flat, n->w[4], n->w[5], 1, B, 128, 9216, 0, 0, 0, 0, STK_ACT_RELU));
  const float* h = n->h3;
  if (train) {
    TRY(L->dropout_mask(n->mask2, state ^ 0x9e3779b9u, (int64_t)(nb * 128), 0.5));
    for (size_t i = 0; i < nb * 128; i++) n->d2[i] = n->h3[i] * n->mask2[i];
    h = n->d2;
  }
  TRY(L->matmul(n->logits, h, n->w[6], n->w[7], 1, B, 10, 128, 0, 0, 0, 0, STK_ACT_LINEAR));
  return STK_OK;
}

/* One training step on the first B images; the loss in *loss. */
static int32_t net_step(const lib_t* L, net_t* n, int B, float* loss) {
  stk_conv g1 = geometry(B, 28, 28, 1, 32, 3, 3, 1, 1, 0);
  stk_conv g2 = geometry(B, 26, 26, 32, 64, 3, 3, 1, 1, 0);
  stk_conv gp = geometry(B, 24, 24, 64, 64, 2, 2, 2, 2, 0);
  const size_t nb = (size_t)B;
  n->step++;
  TRY(net_forward(L, n, B, 1, 1000003u * (uint32_t)n->step));
  TRY(L->softmax_xent(loss, n->dlogits, n->logits, n->labels, B, 10));
  /* dense 2: dW [128, 10] = d2^T dlogits, db = sum of dlogits, dd2 [B, 128] = dlogits W^T */
  TRY(L->matmul(n->g[6], n->d2, n->dlogits, NULL, 1, 128, 10, B, 0, 0, 1, 0, STK_ACT_LINEAR));
  TRY(L->sum_rows(n->g[7], n->dlogits, B, 10));
  TRY(L->matmul(n->dd2, n->dlogits, n->w[6], NULL, 1, B, 128, 10, 0, 0, 0, 1, STK_ACT_LINEAR));
  for (size_t i = 0; i < nb * 128; i++) n->dd2[i] *= n->mask2[i];
  /* dense 1 */
  TRY(L->relu_bias_grad(n->dz3, n->g[5], n->dd2, n->h3, B, 128));
  TRY(L->matmul(n->g[4], n->d1, n->dz3, NULL, 1, 9216, 128, B, 0, 0, 1, 0, STK_ACT_LINEAR));
  TRY(L->matmul(n->dd1, n->dz3, n->w[4], NULL, 1, B, 9216, 128, 0, 0, 0, 1, STK_ACT_LINEAR));
  for (size_t i = 0; i < nb * 9216; i++) n->dd1[i] *= n->mask1[i];
  /* pooling, conv 2, conv 1 */
  TRY(L->max_pool_grad(n->dh2, n->dd1, n->h2, &gp));
  TRY(L->relu_bias_grad(n->dz2, n->g[3], n->dh2, n->h2, B * 24 * 24, 64));
  TRY(L->conv2d_backprop_filter(n->g[2], n->h1, n->dz2, &g2));
  TRY(L->conv2d_backprop_input(n->dh1, n->dz2, n->w[2], &g2));
  TRY(L->relu_bias_grad(n->dz1, n->g[1], n->dh1, n->h1, B * 26 * 26, 32));
  TRY(L->conv2d_backprop_filter(n->g[0], n->x, n->dz1, &g1));
  const double c1 = 1 - pow(0.9, (double)n->step), c2 = 1 - pow(0.999, (double)n->step);
  for (int i = 0; i < NW; i++)
    TRY(L->adam(n->w[i], n->m[i], n->v[i], n->w[i], n->g[i], (int64_t)W_SIZE[i], 0.9, 0.999,
                1e-3, c1, c2, 1e-7));
  return STK_OK;
}

/* ---------------------------------------------------------------- cases */

typedef enum {
  OP_SGEMM, /* stk_sgemm and stk_sgemm_naive */
  OP_BLAS,  /* stk_sgemm_blas */
  OP_MATMUL,
  OP_CONV,  /* stk_conv2d and both gradients */
  OP_POOL,  /* stk_max_pool and its gradient */
  OP_SUMS,  /* stk_sum_rows and stk_relu_bias_grad */
  OP_XENT,
  OP_DROPOUT,
  OP_ADAM,
  OP_TRAIN, /* training steps of the teacher net */
} op_t;

#define MAXOUT 4
typedef struct {
  const char* name;
  size_t len;
  tol_t ref, pair, threads; /* against the reference, another build, another thread count */
  int products;             /* 1: sums whose order depends on the thread count */
} out_t;

typedef struct {
  op_t op;
  char name[160];
  uint64_t seed;
  int big; /* run only without --quick */
  /* products */
  int ta, tb, m, n, k, lda, ldb, ldc, batch, has_bias, act;
  float alpha, beta;
  int64_t a_stride, b_stride;
  int nan_c; /* C holds NaN (beta 0 must ignore it) */
  /* convolutions and pooling */
  stk_conv g;
  int ties, specials; /* pooling: tied values; NaN and -inf windows */
  /* sums, softmax, dropout, Adam */
  int64_t rows;
  int cols;
  uint32_t state;
  double rate;
  int steps, in_place;
  /* inputs, made by case_inputs */
  float *a, *b, *c, *bias, *dy;
  int32_t* labels;
  net_t* net;
} case_t;

/* The outputs of a case: names, lengths, tolerances. */
static int case_outputs(const case_t* c, out_t* o) {
  const tol_t K = TOL_KERNEL, E = TOL_EXACT;
  switch (c->op) {
    case OP_SGEMM:
    case OP_BLAS: {
      const size_t len = (size_t)c->m * c->ldc;
      o[0] = (out_t){"C", len, K, K, K, 1};
      if (c->op == OP_BLAS) return 1;
      o[1] = (out_t){"C (stk_sgemm_naive)", len, K, K, E, 0};
      return 2;
    }
    case OP_MATMUL:
      o[0] = (out_t){"c", (size_t)c->batch * c->m * c->n, K, K, K, 1};
      return 1;
    case OP_CONV:
      o[0] = (out_t){"y", n_out(&c->g), K, K, K, 1};
      o[1] = (out_t){"dx", n_in(&c->g), K, K, K, 1};
      o[2] = (out_t){"dfilter", n_filter(&c->g), K, K, K, 1};
      return 3;
    case OP_POOL:
      o[0] = (out_t){"y", n_out(&c->g), E, E, E, 0};
      o[1] = (out_t){"dx", n_in(&c->g), K, K, E, 0};
      return 2;
    case OP_SUMS:
      o[0] = (out_t){"sum_rows", (size_t)c->cols, K, K, E, 0};
      o[1] = (out_t){"dz", (size_t)c->rows * c->cols, E, E, E, 0};
      o[2] = (out_t){"dbias", (size_t)c->cols, K, K, E, 0};
      return 3;
    case OP_XENT:
      o[0] = (out_t){"loss", 1, K, E, E, 0};
      o[1] = (out_t){"dlogits", (size_t)c->rows * c->cols, K, E, E, 0};
      return 2;
    case OP_DROPOUT:
      o[0] = (out_t){"mask", (size_t)c->rows, E, E, E, 0};
      return 1;
    case OP_ADAM:
      o[0] = (out_t){"w", (size_t)c->rows, E, E, E, 0};
      o[1] = (out_t){"m", (size_t)c->rows, E, E, E, 0};
      o[2] = (out_t){"v", (size_t)c->rows, E, E, E, 0};
      return 3;
    case OP_TRAIN:
      o[0] = (out_t){"losses", (size_t)c->steps, TOL_TRAIN, TOL_TRAIN, TOL_TRAIN, 1};
      o[1] = (out_t){"logits after training", (size_t)c->batch * 10, TOL_TRAIN, TOL_TRAIN,
                     TOL_TRAIN, 1};
      return 2;
  }
  return 0;
}

/* Multiply-adds of the reference (0: none is written for this case). */
static double ref_work(const case_t* c) {
  switch (c->op) {
    case OP_SGEMM:
    case OP_BLAS:
      return (double)c->m * c->n * (c->k ? c->k : 1);
    case OP_MATMUL:
      return (double)c->batch * c->m * c->n * c->k;
    case OP_CONV:
      return 3.0 * n_out(&c->g) * c->g.filter_h * c->g.filter_w * c->g.in_c;
    case OP_TRAIN:
      return 0;
    default:
      return 1;
  }
}

static void case_inputs(case_t* c) {
  rng_t r = {c->seed};
  switch (c->op) {
    case OP_SGEMM:
    case OP_BLAS: {
      const size_t na = (size_t)(c->ta ? c->k : c->m) * c->lda;
      const size_t nb = (size_t)(c->tb ? c->n : c->k) * c->ldb;
      c->a = floats(na), c->b = floats(nb), c->c = floats((size_t)c->m * c->ldc);
      fill_normal(c->a, na, 1, &r);
      fill_normal(c->b, nb, 1 / sqrt(c->k > 0 ? c->k : 1), &r); /* outputs of about 1 */
      fill_normal(c->c, (size_t)c->m * c->ldc, 1, &r);
      if (c->nan_c)
        for (int i = 0; i < c->m; i++)
          for (int j = 0; j < c->n; j++) c->c[(size_t)i * c->ldc + j] = NAN;
      break;
    }
    case OP_MATMUL: {
      const size_t na = c->a_stride ? (size_t)c->a_stride * c->batch : (size_t)c->m * c->k;
      const size_t nb = c->b_stride ? (size_t)c->b_stride * c->batch : (size_t)c->k * c->n;
      c->a = floats(na), c->b = floats(nb), c->bias = floats((size_t)c->n);
      fill_relu(c->a, na, 0.5, &r);
      fill_normal(c->b, nb, 2 / sqrt(c->k), &r);
      fill_normal(c->bias, (size_t)c->n, 0.3, &r);
      break;
    }
    case OP_CONV: {
      const size_t taps = (size_t)c->g.filter_h * c->g.filter_w * c->g.in_c;
      const size_t positions = (size_t)c->g.batch * c->g.out_h * c->g.out_w;
      c->a = floats(n_in(&c->g)), c->b = floats(n_filter(&c->g));
      c->bias = floats((size_t)c->g.out_c), c->dy = floats(n_out(&c->g));
      fill_relu(c->a, n_in(&c->g), 0.3, &r);
      fill_normal(c->b, n_filter(&c->g), sqrt(2.0 / taps), &r);
      fill_normal(c->bias, (size_t)c->g.out_c, 0.1, &r);
      /* the gradient of a mean loss: sums over positions of about 1 */
      fill_normal(c->dy, n_out(&c->g), 1 / sqrt((double)positions), &r);
      break;
    }
    case OP_POOL: {
      const size_t n = n_in(&c->g);
      c->a = floats(n), c->dy = floats(n_out(&c->g));
      fill_normal(c->a, n, 1, &r);
      if (c->ties) /* a few values only: windows with several largest values */
        for (size_t i = 0; i < n; i++) c->a[i] = (float)floor(c->a[i] * 2) / 2;
      if (c->specials) {
        for (size_t i = 0; i < n; i++) {
          double u = rng_next(&r);
          if (u < 0.1) c->a[i] = NAN;
          else if (u < 0.2) c->a[i] = -INFINITY;
        }
        /* one window of only -inf and NaN, in every channel */
        for (int ih = 0; ih < c->g.filter_h && ih < c->g.in_h; ih++)
          for (int iw = 0; iw < c->g.filter_w && iw < c->g.in_w; iw++)
            for (int ch = 0; ch < c->g.in_c; ch++)
              c->a[((size_t)ih * c->g.in_w + iw) * c->g.in_c + ch] = (ih + iw) % 2 ? NAN
                                                                                : -INFINITY;
      }
      fill_normal(c->dy, n_out(&c->g), 1, &r);
      break;
    }
    case OP_SUMS: {
      const size_t n = (size_t)c->rows * c->cols;
      c->a = floats(n), c->b = floats(n);
      fill_normal(c->a, n, 1 / sqrt((double)(c->rows > 0 ? c->rows : 1)), &r); /* dy */
      fill_normal(c->b, n, 1, &r);                                           /* y (relu's) */
      for (size_t i = 0; i < n; i++) c->b[i] = c->b[i] > 0 ? c->b[i] : 0;
      break;
    }
    case OP_XENT: {
      const size_t n = (size_t)c->rows * c->cols;
      c->a = floats(n), c->labels = xmalloc((size_t)c->rows * sizeof(int32_t));
      fill_normal(c->a, n, c->alpha, &r);
      for (int64_t i = 0; i < c->rows; i++) c->labels[i] = (int32_t)(rng_next(&r) * c->cols);
      break;
    }
    case OP_DROPOUT:
      break;
    case OP_ADAM: {
      const size_t n = (size_t)c->rows;
      c->a = floats(n), c->b = floats(n * c->steps);
      fill_normal(c->a, n, 0.1, &r);
      fill_normal(c->b, n * c->steps, 0.01, &r);
      for (size_t i = 0; i < n; i += 97) c->b[i] = 0; /* zero gradients too */
      break;
    }
    case OP_TRAIN:
      break;
  }
}

static void case_free(case_t* c) {
  free(c->a), free(c->b), free(c->c), free(c->bias), free(c->dy), free(c->labels);
  c->a = c->b = c->c = c->bias = c->dy = NULL, c->labels = NULL;
}

/* Runs a case on a library: its outputs into out[]. */
static int32_t case_run(const lib_t* L, const case_t* c, float** out) {
  switch (c->op) {
    case OP_SGEMM:
    case OP_BLAS: {
      const size_t nc = (size_t)c->m * c->ldc;
      memcpy(out[0], c->c, nc * sizeof(float));
      if (c->op == OP_BLAS)
        return L->sgemm_blas(out[0], c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->lda,
                             c->b, c->ldb, c->beta, c->ldc);
      memcpy(out[1], c->c, nc * sizeof(float));
      TRY(L->sgemm(out[0], c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->lda, c->b, c->ldb,
                   c->beta, c->ldc));
      return L->sgemm_naive(out[1], c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->lda,
                            c->b, c->ldb, c->beta, c->ldc);
    }
    case OP_MATMUL:
      return L->matmul(out[0], c->a, c->b, c->has_bias ? c->bias : NULL, c->batch, c->m, c->n,
                       c->k, c->a_stride, c->b_stride, c->ta, c->tb, c->act);
    case OP_CONV:
      TRY(L->conv2d(out[0], c->a, c->b, c->has_bias ? c->bias : NULL, &c->g, c->act));
      TRY(L->conv2d_backprop_input(out[1], c->dy, c->b, &c->g));
      return L->conv2d_backprop_filter(out[2], c->a, c->dy, &c->g);
    case OP_POOL:
      TRY(L->max_pool(out[0], c->a, &c->g));
      return L->max_pool_grad(out[1], c->dy, c->a, &c->g);
    case OP_SUMS:
      TRY(L->sum_rows(out[0], c->a, c->rows, c->cols));
      return L->relu_bias_grad(out[1], out[2], c->a, c->b, c->rows, c->cols);
    case OP_XENT:
      return L->softmax_xent(out[0], out[1], c->a, c->labels, (int32_t)c->rows, c->cols);
    case OP_DROPOUT:
      return L->dropout_mask(out[0], c->state, c->rows, c->rate);
    case OP_ADAM: {
      const size_t n = (size_t)c->rows;
      float* w = c->in_place ? out[0] : floats(n);
      memcpy(w, c->a, n * sizeof(float));
      memset(out[1], 0, n * sizeof(float)), memset(out[2], 0, n * sizeof(float));
      int32_t st = STK_OK;
      for (int t = 1; t <= c->steps && st == STK_OK; t++) {
        st = L->adam(out[0], out[1], out[2], w, c->b + (size_t)(t - 1) * n, c->rows, 0.9, 0.999,
                     1e-3, 1 - pow(0.9, t), 1 - pow(0.999, t), 1e-7);
        if (!c->in_place) memcpy(w, out[0], n * sizeof(float));
      }
      if (!c->in_place) free(w);
      return st;
    }
    case OP_TRAIN: {
      net_t n;
      net_init(&n, c->batch, c->seed);
      int32_t st = STK_OK;
      for (int t = 0; t < c->steps && st == STK_OK; t++) st = net_step(L, &n, c->batch, out[0] + t);
      if (st == STK_OK) st = net_forward(L, &n, c->batch, 0, 0);
      if (st == STK_OK) memcpy(out[1], n.logits, (size_t)c->batch * 10 * sizeof(float));
      net_free(&n);
      return st;
    }
  }
  return STK_ERR_ARGUMENT;
}

/* The reference outputs of a case (as doubles). */
static void case_ref(const case_t* c, double** out) {
  switch (c->op) {
    case OP_SGEMM:
    case OP_BLAS:
      ref_sgemm(out[0], c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->lda, c->b, c->ldb,
                c->beta, c->c, c->ldc);
      if (c->op == OP_SGEMM) memcpy(out[1], out[0], (size_t)c->m * c->ldc * sizeof(double));
      return;
    case OP_MATMUL: {
      const int lda = c->ta ? c->m : c->k, ldb = c->tb ? c->k : c->n;
      float* zero = floats((size_t)c->m * c->n);
      for (int i = 0; i < c->batch; i++) {
        double* o = out[0] + (size_t)i * c->m * c->n;
        ref_sgemm(o, c->ta, c->tb, c->m, c->n, c->k, 1, c->a + i * c->a_stride, lda,
                  c->b + i * c->b_stride, ldb, 0, zero, c->n);
        for (size_t e = 0; e < (size_t)c->m * c->n; e++) {
          double v = o[e] + (c->has_bias ? c->bias[e % c->n] : 0);
          o[e] = c->act == STK_ACT_RELU && v < 0 ? 0 : v;
        }
      }
      free(zero);
      return;
    }
    case OP_CONV:
      ref_conv(out[0], c->a, c->b, c->has_bias ? c->bias : NULL, &c->g, c->act == STK_ACT_RELU);
      ref_backprop_input(out[1], c->dy, c->b, &c->g);
      ref_backprop_filter(out[2], c->a, c->dy, &c->g);
      return;
    case OP_POOL:
      ref_pool(out[0], out[1], c->dy, c->a, &c->g);
      return;
    case OP_SUMS:
      for (int j = 0; j < c->cols; j++) out[0][j] = out[2][j] = 0;
      for (int64_t i = 0; i < c->rows; i++)
        for (int j = 0; j < c->cols; j++) {
          const size_t e = (size_t)i * c->cols + j;
          out[0][j] += c->a[e];
          out[1][e] = c->b[e] > 0 ? c->a[e] : 0;
          out[2][j] += out[1][e];
        }
      return;
    case OP_XENT: {
      double total = 0;
      for (int64_t i = 0; i < c->rows; i++) {
        const float* x = c->a + i * c->cols;
        double m = -INFINITY, s = 0;
        for (int k = 0; k < c->cols; k++) m = fmax(m, x[k]);
        for (int k = 0; k < c->cols; k++) s += exp(x[k] - m);
        for (int k = 0; k < c->cols; k++)
          out[1][i * c->cols + k] = (exp(x[k] - m) / s - (k == c->labels[i])) / c->rows;
        total += m + log(s) - x[c->labels[i]];
      }
      out[0][0] = total / c->rows;
      return;
    }
    case OP_DROPOUT: {
      const float keep = (float)(1.0 / (1.0 - c->rate));
      for (int64_t i = 0; i < c->rows; i++)
        out[0][i] = ref_mulberry(c->state, (uint64_t)i) / 4294967296.0 >= c->rate ? keep : 0;
      return;
    }
    case OP_ADAM: {
      const size_t n = (size_t)c->rows;
      float *w = floats(n), *m = floats(n), *v = floats(n);
      memcpy(w, c->a, n * sizeof(float));
      for (int t = 1; t <= c->steps; t++)
        ref_adam(w, m, v, w, c->b + (size_t)(t - 1) * n, n, 0.9, 0.999, 1e-3, 1 - pow(0.9, t),
                 1 - pow(0.999, t), 1e-7);
      for (size_t i = 0; i < n; i++) out[0][i] = w[i], out[1][i] = m[i], out[2][i] = v[i];
      free(w), free(m), free(v);
      return;
    }
    case OP_TRAIN:
      return;
  }
}

/* ---------------------------------------------------------------- the list of cases */

static case_t* g_cases;
static int g_ncases, g_capcases;

static case_t* add(op_t op, uint64_t seed) {
  if (g_ncases == g_capcases) {
    g_capcases = g_capcases ? 2 * g_capcases : 64;
    g_cases = realloc(g_cases, (size_t)g_capcases * sizeof *g_cases);
    if (!g_cases) {
      printf("result: FAIL (out of memory)\n");
      exit(1);
    }
  }
  case_t* c = &g_cases[g_ncases++];
  memset(c, 0, sizeof *c);
  c->op = op, c->seed = seed;
  return c;
}

static void add_sgemm(op_t op, int ta, int tb, int m, int n, int k, float alpha, float beta,
                      int pad, int nan_c, int big) {
  case_t* c = add(op, 1000 + (uint64_t)g_ncases);
  c->ta = ta, c->tb = tb, c->m = m, c->n = n, c->k = k, c->alpha = alpha, c->beta = beta;
  c->lda = (ta ? m : k) + pad, c->ldb = (tb ? k : n) + pad, c->ldc = n + pad;
  if (c->lda < 1) c->lda = 1;
  if (c->ldb < 1) c->ldb = 1;
  if (c->ldc < 1) c->ldc = 1;
  c->nan_c = nan_c, c->big = big;
  snprintf(c->name, sizeof c->name, "%s %dx%dx%d %s%s alpha %g beta %g%s%s",
           op == OP_BLAS ? "sgemm_blas" : "sgemm", m, n, k, ta ? "T" : "N", tb ? "T" : "N",
           (double)alpha, (double)beta, pad ? ", ld +3" : "", nan_c ? ", NaN in C" : "");
}

static void add_matmul(int batch, int m, int n, int k, int sa, int sb, int ta, int tb,
                       int has_bias, int act, const char* what, int big) {
  case_t* c = add(OP_MATMUL, 2000 + (uint64_t)g_ncases);
  c->batch = batch, c->m = m, c->n = n, c->k = k, c->ta = ta, c->tb = tb;
  c->a_stride = sa ? (int64_t)m * k : 0, c->b_stride = sb ? (int64_t)k * n : 0;
  c->has_bias = has_bias, c->act = act, c->big = big;
  snprintf(c->name, sizeof c->name, "matmul %s[%d] %dx%dx%d %s%s%s%s", what, batch, m, n, k,
           ta ? "T" : "N", tb ? "T" : "N", has_bias ? " bias" : "",
           act == STK_ACT_RELU ? " relu" : "");
}

static void add_conv(stk_conv g, int has_bias, int act, const char* what, int big) {
  case_t* c = add(OP_CONV, 3000 + (uint64_t)g_ncases);
  c->g = g, c->has_bias = has_bias, c->act = act, c->big = big;
  snprintf(c->name, sizeof c->name, "conv %s%dx%dx%d -> %dx%dx%d %dx%d s%dx%d pad %d,%d, batch %d%s%s",
           what, g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.filter_h, g.filter_w,
           g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.batch, has_bias ? ", bias" : "",
           act == STK_ACT_RELU ? ", relu" : "");
}

static void add_pool(stk_conv g, int ties, int specials, const char* what, int big) {
  case_t* c = add(OP_POOL, 4000 + (uint64_t)g_ncases);
  c->g = g, c->ties = ties, c->specials = specials, c->big = big;
  snprintf(c->name, sizeof c->name, "max pool %s%dx%dx%d -> %dx%d, %dx%d s%dx%d pad %d,%d, batch %d%s%s",
           what, g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.filter_h, g.filter_w, g.stride_h,
           g.stride_w, g.pad_top, g.pad_left, g.batch, ties ? ", ties" : "",
           specials ? ", NaN and -inf" : "");
}

static void build_cases(void) {
  /* SGEMM: every transpose; alpha and beta; padded leading dimensions; beta 0 over NaN */
  const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {17, 33, 65}, {65, 130, 300}, {1, 10, 9216},
                          {16, 128, 9216}, {128, 10, 17}, {9216, 128, 16}, {5, 3, 0}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int t = 0; t < 4; t++) {
      const int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
      const int big = (double)m * n * k > 3e6; /* not in --quick */
      add_sgemm(OP_SGEMM, t >> 1, t & 1, m, n, k, 1, 0, 0, 0, big);
      add_sgemm(OP_SGEMM, t >> 1, t & 1, m, n, k, 0.5f, 0.25f, 3, 0, big);
      if (s % 3 == 1) add_sgemm(OP_SGEMM, t >> 1, t & 1, m, n, k, -1.5f, 0, 3, 1, big);
    }
  add_sgemm(OP_SGEMM, 0, 0, 1, 1100000, 3, 1, 0, 0, 0, 1); /* more columns than 65535 tiles */
  add_sgemm(OP_SGEMM, 1, 0, 3, 1100000, 2, 0.5f, 1, 0, 0, 1);
  for (int t = 0; t < 4; t++) add_sgemm(OP_BLAS, t >> 1, t & 1, 65, 130, 300, 0.5f, 0.25f, 3, 0, 0);
  /* the teacher's dense layers and their gradients, and batched products */
  const int batches[] = {1, 17, 256};
  for (int i = 0; i < 3; i++) {
    const int B = batches[i], big = B == 256;
    add_matmul(1, B, 128, 9216, 0, 0, 0, 0, 1, STK_ACT_RELU, "dense 1 ", big);
    add_matmul(1, B, 10, 128, 0, 0, 0, 0, 1, STK_ACT_LINEAR, "dense 2 ", big);
    add_matmul(1, 9216, 128, B, 0, 0, 1, 0, 0, STK_ACT_LINEAR, "dense 1 dW ", big);
    add_matmul(1, B, 9216, 128, 0, 0, 0, 1, 0, STK_ACT_LINEAR, "dense 1 dx ", big);
  }
  add_matmul(3, 7, 13, 9, 1, 1, 0, 0, 1, STK_ACT_RELU, "", 0);
  add_matmul(3, 7, 13, 9, 1, 0, 1, 1, 0, STK_ACT_LINEAR, "b broadcast ", 0);
  add_matmul(4, 5, 6, 33, 0, 1, 0, 1, 1, STK_ACT_LINEAR, "a broadcast ", 0);
  /* few outputs and a long K: the CPU build splits K over its threads */
  add_matmul(1, 5, 10, 9216, 0, 0, 0, 0, 1, STK_ACT_RELU, "", 0);
  /* the teacher's convolutions, then odd ones (tests/teacher_kernels_native_test.ts's shapes) */
  for (int i = 0; i < 3; i++) {
    const int B = batches[i], big = B == 256;
    add_conv(geometry(B, 28, 28, 1, 32, 3, 3, 1, 1, 0), 1, STK_ACT_RELU, "1: ", big);
    add_conv(geometry(B, 26, 26, 32, 64, 3, 3, 1, 1, 0), 1, STK_ACT_RELU, "2: ", big);
  }
  add_conv(geometry(17, 26, 26, 32, 64, 3, 3, 1, 1, 0), 0, STK_ACT_LINEAR, "2: ", 0);
  add_conv(geometry(1, 7, 9, 1, 5, 3, 3, 1, 1, 0), 1, STK_ACT_LINEAR, "", 0);
  add_conv(geometry(17, 8, 7, 3, 4, 3, 2, 1, 1, 1), 1, STK_ACT_RELU, "", 0);
  add_conv(geometry(2, 9, 10, 3, 6, 3, 3, 2, 2, 0), 0, STK_ACT_LINEAR, "", 0);
  add_conv(geometry(3, 11, 8, 2, 3, 5, 3, 2, 2, 1), 1, STK_ACT_RELU, "", 0);
  add_conv(geometry(1, 9, 7, 3, 4, 3, 3, 2, 1, 1), 1, STK_ACT_LINEAR, "", 0);
  add_conv(geometry(17, 12, 12, 1, 33, 3, 3, 1, 1, 0), 1, STK_ACT_RELU, "", 0);
  add_conv(geometry(2, 6, 6, 20, 70, 1, 1, 1, 1, 0), 0, STK_ACT_RELU, "", 0);
  add_conv(geometry(17, 28, 28, 3, 32, 3, 3, 2, 2, 1), 1, STK_ACT_RELU, "", 0);
  /* pooling: the teacher's, a window that runs past the image, overlapping windows */
  for (int i = 0; i < 3; i++)
    add_pool(geometry(batches[i], 24, 24, 64, 64, 2, 2, 2, 2, 0), 0, 0, "", batches[i] == 256);
  add_pool(geometry(17, 24, 24, 64, 64, 2, 2, 2, 2, 0), 1, 0, "", 0);
  add_pool(geometry(3, 8, 9, 5, 5, 2, 2, 2, 2, 0), 0, 0, "", 0);
  add_pool(geometry(2, 9, 7, 3, 3, 3, 3, 2, 2, 1), 1, 0, "", 0);
  add_pool(geometry(2, 9, 7, 3, 3, 3, 3, 2, 2, 1), 0, 1, "", 0);
  add_pool(geometry(1, 5, 5, 2, 2, 3, 3, 1, 1, 1), 0, 1, "", 0);
  /* bias sums and the relu-bias gradient on the teacher's layers; odd widths; no rows */
  const int64_t rows[][2] = {{17 * 26 * 26, 32}, {17 * 24 * 24, 64}, {17, 128}, {17, 10},
                             {256 * 24 * 24, 64}, {1, 1}, {513, 7}, {0, 5}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    case_t* c = add(OP_SUMS, 5000 + i);
    c->rows = rows[i][0], c->cols = (int)rows[i][1], c->big = c->rows > 100000;
    snprintf(c->name, sizeof c->name, "sum_rows and relu_bias_grad [%lld, %d]",
             (long long)c->rows, c->cols);
  }
  /* softmax cross-entropy: the teacher's batches, large logits */
  const double scales[] = {1, 3, 300};
  for (int i = 0; i < 3; i++) {
    case_t* c = add(OP_XENT, 6000 + (uint64_t)i);
    c->rows = batches[i], c->cols = 10, c->alpha = (float)scales[i];
    snprintf(c->name, sizeof c->name, "softmax_xent [%d, 10], logits of scale %g", batches[i],
             scales[i]);
  }
  /* dropout: the teacher's masks, rates 0 and near 1, lengths around the vector width, a
   * generator state that wraps */
  const struct {
    int64_t n;
    double rate;
    uint32_t state;
  } drops[] = {{17 * 9216, 0.25, 12345u}, {17 * 128, 0.5, 777u}, {256 * 9216, 0.25, 99u},
               {1, 0.5, 0}, {15, 0.5, 1}, {17, 0.3, 2}, {16385, 0.1, 0xfffffff0u},
               {1000, 0, 5}, {1000, 0.999999, 6}};
  for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++) {
    case_t* c = add(OP_DROPOUT, 7000 + i);
    c->rows = drops[i].n, c->rate = drops[i].rate, c->state = drops[i].state;
    c->big = c->rows > 1000000;
    snprintf(c->name, sizeof c->name, "dropout_mask n %lld rate %g state %u",
             (long long)c->rows, c->rate, c->state);
  }
  /* Adam: the dense layer's weights (separate output), an odd count in place */
  const int64_t adams[][2] = {{9216 * 128, 0}, {1001, 1}, {7, 0}};
  for (size_t i = 0; i < sizeof adams / sizeof adams[0]; i++) {
    case_t* c = add(OP_ADAM, 8000 + i);
    c->rows = adams[i][0], c->in_place = (int)adams[i][1], c->steps = 3;
    snprintf(c->name, sizeof c->name, "adam n %lld, 3 steps%s", (long long)c->rows,
             c->in_place ? ", in place" : "");
  }
  /* three training steps of the whole net */
  const int tb[] = {17, 256};
  for (int i = 0; i < 2; i++) {
    case_t* c = add(OP_TRAIN, 9000 + (uint64_t)i);
    c->batch = tb[i], c->steps = 3, c->big = tb[i] == 256;
    snprintf(c->name, sizeof c->name, "teacher net, 3 training steps, batch %d", tb[i]);
  }
}

/* ---------------------------------------------------------------- running the cases */

typedef enum {
  MODE_THREADS, /* cpu 1 thread vs cpu N threads (+ repeat) */
  MODE_CUDA,    /* cuda vs cpu (+ cuda repeat) */
} pair_mode_t;

typedef struct {
  double ref, other;
} worst_t;
static worst_t g_worst[2]; /* [0] products and convolutions, [1] the rest */
static int g_blas_cpu_missing;
static char g_blas_cpu_why[256];

static float** alloc_outs(const out_t* o, int n) {
  float** p = xmalloc(MAXOUT * sizeof *p);
  for (int i = 0; i < n; i++) p[i] = floats(o[i].len);
  return p;
}
static void free_outs(float** p, int n) {
  for (int i = 0; i < n; i++) free(p[i]);
  free(p);
}

/* One case: reference, pair, repeat. `a` is compared with `b`, both with the reference. */
static void run_case(case_t* c, pair_mode_t mode, lib_t* a, lib_t* b, int threads,
                     int cuda_blas) {
  out_t o[MAXOUT];
  const int n = case_outputs(c, o);
  char where[200];
  double t0 = now(), w_ref = 0, w_pair = 0;
  int did_ref = 0;
  snprintf(where, sizeof where, "%s", c->name);
  case_inputs(c);
  float **oa = alloc_outs(o, n), **ob = alloc_outs(o, n), **oc = alloc_outs(o, n);
  double** ref = NULL;
  const int is_products = c->op == OP_SGEMM || c->op == OP_BLAS || c->op == OP_MATMUL ||
                          c->op == OP_CONV || c->op == OP_TRAIN;
  const char* pair_label = mode == MODE_CUDA ? "cuda vs cpu" : "threads";
  /* b (cpu, or cpu with 1 thread) */
  if (mode == MODE_THREADS) b->set_threads(1);
  else b->set_threads(0);
  int32_t st = case_run(b, c, ob);
  if (c->op == OP_BLAS && st == STK_ERR_UNAVAILABLE) {
    if (!g_blas_cpu_missing)
      snprintf(g_blas_cpu_why, sizeof g_blas_cpu_why, "%s", b->last_error());
    g_blas_cpu_missing = 1;
    /* the CPU build has no system BLAS here: the CUDA build is held to the reference */
  } else if (st != STK_OK) {
    failure("%s: %s returned status %d: %s", where, b->label, st, b->last_error());
    goto done;
  }
  const int b_ok = st == STK_OK;
  if (ref_work(c) > 0 && ref_work(c) <= REF_WORK) {
    ref = xmalloc(MAXOUT * sizeof *ref);
    for (int i = 0; i < n; i++) ref[i] = doubles(o[i].len);
    case_ref(c, ref);
    did_ref = 1;
    char wh[260];
    if (b_ok) {
      snprintf(wh, sizeof wh, "%s: %s vs reference", where, b->label);
      for (int i = 0; i < n; i++)
        w_ref = maxd(w_ref, compare(wh, o[i].name, ob[i], NULL, ref[i], o[i].len, o[i].ref));
      if (c->op == OP_SGEMM) /* the blocked product against the library's plain one */
        w_ref = maxd(w_ref, compare(wh, "stk_sgemm vs stk_sgemm_naive", ob[0], ob[1], NULL,
                                    o[0].len, TOL_KERNEL));
    }
  }
  /* a (cpu with N threads, or cuda) */
  if (mode == MODE_THREADS) a->set_threads(threads);
  st = case_run(a, c, oa);
  if (c->op == OP_BLAS && mode == MODE_CUDA && !cuda_blas) {
    expect(st == STK_ERR_UNAVAILABLE,
           "%s: stk_sgemm_blas of a CUDA build without cuBLAS returned status %d, not %d "
           "(STK_ERR_UNAVAILABLE)",
           where, st, STK_ERR_UNAVAILABLE);
    printf("  %-72s cuda without cuBLAS: status %d (want %d)\n", c->name, st,
           STK_ERR_UNAVAILABLE);
    goto done;
  }
  if (c->op == OP_BLAS && mode == MODE_THREADS && !b_ok) goto done;
  if (st != STK_OK) {
    failure("%s: %s returned status %d: %s", where, a->label, st, a->last_error());
    goto done;
  }
  {
    char wh[260];
    snprintf(wh, sizeof wh, "%s: %s vs %s", where, a->label, b->label);
    for (int i = 0; i < n; i++) {
      const tol_t t = mode == MODE_CUDA ? o[i].pair : o[i].threads;
      if (b_ok) w_pair = maxd(w_pair, compare(wh, o[i].name, oa[i], ob[i], NULL, o[i].len, t));
    }
    if (did_ref && mode == MODE_CUDA) {
      snprintf(wh, sizeof wh, "%s: %s vs reference", where, a->label);
      for (int i = 0; i < n; i++)
        w_ref = maxd(w_ref, compare(wh, o[i].name, oa[i], NULL, ref[i], o[i].len, o[i].ref));
    }
    /* the same build, the same thread count: the same bits */
    st = case_run(a, c, oc);
    if (st != STK_OK) {
      failure("%s: %s (again) returned status %d: %s", where, a->label, st, a->last_error());
      goto done;
    }
    snprintf(wh, sizeof wh, "%s: %s run twice", where, a->label);
    for (int i = 0; i < n; i++) compare(wh, o[i].name, oc[i], oa[i], NULL, o[i].len, TOL_EXACT);
  }
  {
    char r[32] = "-", p[32] = "-";
    if (did_ref) snprintf(r, sizeof r, "%.1e", w_ref);
    if (b_ok) snprintf(p, sizeof p, "%.1e", w_pair);
    printf("  %-72s ref %-8s %s %-8s (%.2f s)\n", c->name, r, pair_label, p, now() - t0);
    g_worst[!is_products].ref = maxd(g_worst[!is_products].ref, did_ref ? w_ref : 0);
    g_worst[!is_products].other = maxd(g_worst[!is_products].other, b_ok ? w_pair : 0);
  }
done:
  if (ref) {
    for (int i = 0; i < n; i++) free(ref[i]);
    free(ref);
  }
  free_outs(oa, n), free_outs(ob, n), free_outs(oc, n);
  case_free(c);
  fflush(stdout);
}

/* ---------------------------------------------------------------- 1. the harness's mulberry32 */

static void check_mulberry(void) {
  /* lib/util/random.ts: Rng.fromState(s).next() * 2^32 for its first six calls (deno eval) */
  static const struct {
    uint32_t state, v[6];
  } js[] = {
      {0u, {0x4434b462u, 0x159c37u, 0x39285b08u, 0x256d8104u, 0x77a2cbd4u, 0x8b885631u}},
      {12345u, {0xfacf78c5u, 0x4e875100u, 0x7bf4e2f2u, 0xd1642650u, 0x8269e5cau, 0x58f3ea75u}},
      {0xfffffff0u,
       {0xdfa58850u, 0xa9882dc0u, 0xd2bbad96u, 0x93257c75u, 0xc5f2f64du, 0x8a75da24u}},
  };
  int bad = 0;
  for (size_t s = 0; s < sizeof js / sizeof js[0]; s++)
    for (int i = 0; i < 6; i++) {
      uint32_t got = ref_mulberry(js[s].state, (uint64_t)i);
      expect(got == js[s].v[i], "mulberry32: value %d from state %u is 0x%x, Rng gives 0x%x", i,
             js[s].state, got, js[s].v[i]);
      bad += got != js[s].v[i];
    }
  printf("== the harness's mulberry32 against lib/util/random.ts's Rng: %s\n",
         bad ? "FAIL" : "ok");
}

/* ---------------------------------------------------------------- 3. argument checks */

typedef struct {
  const char* what;
  const char* want; /* a piece of the message */
} argcase_t;

/* Calls bad-argument case i on L; the status. */
static int32_t bad_call(const lib_t* L, int i) {
  static float buf[64];
  static int32_t labels[4] = {0, 1, 9, 2};
  stk_conv g = geometry(1, 4, 4, 1, 2, 3, 3, 1, 1, 0);
  stk_conv wrong = g, pool = geometry(1, 4, 4, 2, 2, 2, 2, 2, 2, 0), gp = pool;
  wrong.out_h = 5;
  pool.out_c = 3;
  switch (i) {
    case 0: return L->sgemm(buf, 0, 0, 2, 2, 2, 1, buf, 1, buf, 2, 0, 2);
    case 1: return L->sgemm_naive(buf, 2, 0, 2, 2, 2, 1, buf, 2, buf, 2, 0, 2);
    case 2: return L->sgemm(buf, 0, 0, 2, 2, 2, INFINITY, buf, 2, buf, 2, 0, 2);
    case 3: return L->matmul(buf, buf, buf, NULL, 2, 2, 2, 2, 3, 0, 0, 0, 0);
    case 4: return L->conv2d(buf, NULL, buf, NULL, &g, STK_ACT_RELU);
    case 5: return L->conv2d(buf, buf, buf, NULL, &g, 7);
    case 6: return L->conv2d_backprop_input(buf, buf, buf, &wrong);
    case 7: return L->conv2d_backprop_filter(buf, buf, buf, NULL);
    case 8: return L->max_pool(buf, buf, &pool);
    case 9: return L->max_pool_grad(buf, buf, NULL, &gp);
    case 10: return L->dropout_mask(buf, 1, 4, 1.0);
    case 11: return L->softmax_xent(buf, buf, buf, labels, 4, 5);
    case 12: return L->relu_bias_grad(buf, buf, buf, buf, 4, 0);
    case 13: return L->sum_rows(buf, buf, -1, 4);
    case 14: return L->adam(buf, buf, buf, buf, buf, 4, 1.0, 0.999, 1e-3, 0.1, 0.001, 1e-7);
    case 15: return L->set_threads(2000);
    case 16: return L->probe(NULL, 5);
  }
  return -1;
}

static const argcase_t ARGCASES[] = {
    {"stk_sgemm with lda 1 < k 2", "stk_sgemm: lda must be >= 2, got 1"},
    {"stk_sgemm_naive with trans_a 2", "stk_sgemm_naive: trans_a and trans_b must be 0 or 1"},
    {"stk_sgemm with alpha inf", "alpha and beta must be finite"},
    {"stk_matmul with a_stride 3 < m k", "stk_matmul: a_stride must be 0 or >= m k = 4, got 3"},
    {"stk_conv2d with x null", "stk_conv2d: argument x is null"},
    {"stk_conv2d with activation 7", "stk_conv2d: unknown activation 7"},
    {"stk_conv2d_backprop_input with a wrong out_h", "an output of 5x2 does not fit an input of 4x4"},
    {"stk_conv2d_backprop_filter with g null", "stk_conv2d_backprop_filter: argument g is null"},
    {"stk_max_pool with out_c != in_c", "g.out_c must equal g.in_c for pooling"},
    {"stk_max_pool_grad with x null", "stk_max_pool_grad: argument x is null"},
    {"stk_dropout_mask with rate 1", "stk_dropout_mask: rate must be in [0, 1), got 1"},
    {"stk_softmax_xent with label 9 of 5 classes", "label 9 of row 2 is not in [0, 5)"},
    {"stk_relu_bias_grad with cols 0", "stk_relu_bias_grad: cols must be >= 1, got 0"},
    {"stk_sum_rows with rows -1", "stk_sum_rows: rows must be >= 0, got -1"},
    {"stk_adam with beta1 1", "stk_adam: beta1 and beta2 must be in [0, 1)"},
    {"stk_set_threads 2000", "threads must be <= 1024"},
    {"stk_probe with info null, cap 5", "stk_probe: argument info is null but cap is 5"},
};
#define NARG (int)(sizeof ARGCASES / sizeof ARGCASES[0])

static void check_arguments(const lib_t* cpu, const lib_t* cuda) {
  int bad = 0;
  for (int i = 0; i < NARG; i++) {
    char msg[512];
    const int before = g_failed;
    int32_t st = bad_call(cpu, i);
    snprintf(msg, sizeof msg, "%s", cpu->last_error());
    expect(st == STK_ERR_ARGUMENT && strstr(msg, ARGCASES[i].want),
           "arguments: %s: cpu gave status %d and \"%s\", want %d and a message with \"%s\"",
           ARGCASES[i].what, st, msg, STK_ERR_ARGUMENT, ARGCASES[i].want);
    if (cuda) {
      int32_t cs = bad_call(cuda, i);
      expect(cs == st && strcmp(cuda->last_error(), msg) == 0,
             "arguments: %s: cuda gave status %d and \"%s\", cpu %d and \"%s\"",
             ARGCASES[i].what, cs, cuda->last_error(), st, msg);
    }
    bad += g_failed > before;
  }
  printf("== argument checks: %d bad calls, status %d and a message naming the argument%s: %s\n",
         NARG, STK_ERR_ARGUMENT, cuda ? ", the same from cuda as from cpu" : "",
         bad ? "FAIL" : "ok");
}

/* ---------------------------------------------------------------- 4. a CUDA build that cannot run */

static void check_refusal(lib_t* cuda, lib_t* cpu, int32_t probe_status, const char* probe_msg) {
  static float buf[4096], out[4096], out2[4096];
  static int32_t labels[4] = {0, 1, 2, 3};
  stk_conv g = geometry(1, 4, 4, 1, 2, 3, 3, 1, 1, 0);
  stk_conv gp = geometry(1, 4, 4, 2, 2, 2, 2, 2, 2, 0);
  const int refused = strstr(cuda->build_info(), "cannot be used") != NULL;
  const char* names[] = {"stk_sgemm", "stk_sgemm_naive", "stk_sgemm_blas", "stk_matmul",
                         "stk_conv2d", "stk_conv2d_backprop_input",
                         "stk_conv2d_backprop_filter", "stk_max_pool", "stk_max_pool_grad",
                         "stk_dropout_mask", "stk_relu_bias_grad", "stk_sum_rows", "stk_adam",
                         "stk_softmax_xent"};
  int bad = 0;
  for (size_t i = 0; i < 4096; i++) buf[i] = (float)((i % 7) * 0.25 - 0.5);
  for (int i = 0; i < 14; i++) {
    const int before = g_failed;
    int32_t st = -1;
    switch (i) {
      case 0: st = cuda->sgemm(out, 0, 0, 2, 2, 2, 1, buf, 2, buf, 2, 0, 2); break;
      case 1: st = cuda->sgemm_naive(out, 0, 0, 2, 2, 2, 1, buf, 2, buf, 2, 0, 2); break;
      case 2: st = cuda->sgemm_blas(out, 0, 0, 2, 2, 2, 1, buf, 2, buf, 2, 0, 2); break;
      case 3: st = cuda->matmul(out, buf, buf, buf, 2, 2, 2, 2, 4, 4, 0, 0, 1); break;
      case 4: st = cuda->conv2d(out, buf, buf, buf, &g, 1); break;
      case 5: st = cuda->conv2d_backprop_input(out, buf, buf, &g); break;
      case 6: st = cuda->conv2d_backprop_filter(out, buf, buf, &g); break;
      case 7: st = cuda->max_pool(out, buf, &gp); break;
      case 8: st = cuda->max_pool_grad(out, buf, buf, &gp); break;
      case 9: st = cuda->dropout_mask(out, 1, 100, 0.5); break;
      case 10: st = cuda->relu_bias_grad(out, out2, buf, buf, 10, 7); break;
      case 11: st = cuda->sum_rows(out, buf, 10, 7); break;
      case 12: st = cuda->adam(out, out2, out2 + 100, buf, buf, 100, 0.9, 0.999, 1e-3, 0.1, 0.001, 1e-7); break;
      case 13: st = cuda->softmax_xent(out, out2, buf, labels, 4, 10); break;
    }
    if (i == 13 && !refused) {
      /* computed on the host in both builds: the same bits */
      float l2[1], d2[40];
      int32_t s2 = cpu->softmax_xent(l2, d2, buf, labels, 4, 10);
      expect(st == STK_OK && s2 == STK_OK && l2[0] == out[0] && !memcmp(d2, out2, sizeof d2),
             "no device: stk_softmax_xent (on the host) gave status %d, or other values than "
             "the CPU build's",
             st);
    } else {
      expect(st == probe_status && strcmp(cuda->last_error(), probe_msg) == 0,
             "no device: %s gave status %d and \"%s\", want stk_probe's %d and \"%s\"", names[i],
             st, cuda->last_error(), probe_status, probe_msg);
    }
    bad += g_failed > before;
  }
  printf("== cuda cannot run here: %d entry points fail with stk_probe's status %d and message"
         "%s: %s\n",
         refused ? 14 : 13, probe_status,
         refused ? "" : " (softmax_xent, on the host, gives the CPU build's bits)",
         bad ? "FAIL" : "ok");
}

/* ---------------------------------------------------------------- 6. timing */

/* Steps (or forward passes) for about `budget` seconds; per second, NAN on an error. */
static double time_net(lib_t* L, int B, int train, double budget) {
  net_t n;
  net_init(&n, B, 77);
  float loss;
  double rate = NAN;
  int32_t st = train ? net_step(L, &n, B, &loss) : net_forward(L, &n, B, 0, 0); /* warm-up */
  int reps = 0;
  double t0 = now(), el = 0;
  while (st == STK_OK && (reps == 0 || el < budget)) {
    st = train ? net_step(L, &n, B, &loss) : net_forward(L, &n, B, 0, 0);
    reps++, el = now() - t0;
  }
  if (st != STK_OK)
    failure("timing: %s, batch %d: status %d: %s", L->label, B, st, L->last_error());
  else
    rate = (double)B * reps / el;
  net_free(&n);
  return rate;
}

static void timing(lib_t* cuda, lib_t* cpu, double budget) {
  const struct {
    const char* name;
    int batch, train;
  } cases[] = {{"training step, batch 16", 16, 1},
               {"training step, batch 256", 256, 1},
               {"inference, batch 256", 256, 0}};
  double tc[3], tp[3];
  if (cpu) cpu->set_threads(0);
  for (int i = 0; i < 3; i++) {
    tc[i] = cuda ? time_net(cuda, cases[i].batch, cases[i].train, budget) : NAN;
    tp[i] = cpu ? time_net(cpu, cases[i].batch, cases[i].train, budget) : NAN;
  }
  printf("== timing: the teacher net (conv 32 and 64 3x3, pool 2, dense 9216 -> 128 -> 10, "
         "Adam), images/s; CUDA %s\n",
         cuda ? cuda->build_info() : "not run");
  if (cpu)
    printf("   CPU: %s, every core (%ld)\n", cpu->build_info(), sysconf(_SC_NPROCESSORS_ONLN));
  printf("  %-26s %12s %12s %9s\n", "case", "CUDA", "CPU", "CUDA/CPU");
  for (int i = 0; i < 3; i++) {
    char c[3][16];
    const double v[3] = {tc[i], tp[i], tc[i] / tp[i]};
    for (int k = 0; k < 3; k++)
      snprintf(c[k], sizeof c[k], isfinite(v[k]) ? (k == 2 ? "%.2f" : "%.0f") : "-", v[k]);
    printf("  %-26s %12s %12s %9s\n", cases[i].name, c[0], c[1], c[2]);
  }
  fflush(stdout);
}

/* ---------------------------------------------------------------- main */

static int usage(const char* msg) {
  fprintf(stderr,
          "stk_parity: %s\nusage: stk_parity --cpu LIB [--cuda LIB] [--quick] [--timing] "
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
  lib_t cpu = {.label = "cpu"};
  if (load_lib(&cpu, cpu_path, why, sizeof why)) {
    printf("cpu: %s\nresult: FAIL (the CPU library: %s)\n", why, why);
    return 1;
  }
  char info[512];
  int32_t st = cpu.probe(info, sizeof info);
  printf("cpu:  %s (%s)\n", cpu.build_info(), cpu_path);
  if (st != STK_OK) {
    printf("result: FAIL (the CPU library cannot run: %s)\n", cpu.last_error());
    return 1;
  }
  lib_t cuda = {.label = "cuda"};
  int cuda_ok = 0, cuda_loaded = 0;
  int32_t cuda_status = STK_OK;
  char cuda_why[768] = "", cuda_msg[512] = "";
  if (!cuda_path) {
    snprintf(cuda_why, sizeof cuda_why, "no --cuda library given");
  } else if (load_lib(&cuda, cuda_path, cuda_why, sizeof cuda_why) == 0) {
    cuda_loaded = 1;
    printf("cuda: %s (%s)\n", cuda.build_info(), cuda_path);
    cuda_status = cuda.probe(info, sizeof info);
    if (cuda_status == STK_OK) {
      cuda_ok = 1;
      printf("cuda: device %s\n", info);
    } else {
      snprintf(cuda_msg, sizeof cuda_msg, "%s", cuda.last_error());
      snprintf(cuda_why, sizeof cuda_why, "the CUDA library cannot run here (status %d): %s",
               cuda_status, cuda_msg);
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
  const int cuda_blas = cuda_ok && strstr(cuda.build_info(), "GEMM: cuBLAS") != NULL;

  double t0 = now();
  check_mulberry();
  check_arguments(&cpu, cuda_loaded ? &cuda : NULL);
  if (cuda_loaded && !cuda_ok) check_refusal(&cuda, &cpu, cuda_status, cuda_msg);
  build_cases();
  char label[64];
  snprintf(label, sizeof label, "cpu (%d threads)", threads);
  lib_t one = cpu, many = cpu;
  one.label = "cpu (1 thread)", many.label = label;
  if (cuda_ok)
    printf("== cuda against cpu (every core) and the plain references (largest differences; "
           "products held to atol %g, rtol %g)\n",
           TOL_KERNEL.atol, TOL_KERNEL.rtol);
  else
    printf("== cpu against the plain references, and with 1 thread against %d (largest "
           "differences; products held to atol %g, rtol %g)\n",
           threads, TOL_KERNEL.atol, TOL_KERNEL.rtol);
  int ran = 0;
  for (int i = 0; i < g_ncases; i++) {
    if (quick && g_cases[i].big) continue;
    ran++;
    if (cuda_ok) run_case(&g_cases[i], MODE_CUDA, &cuda, &cpu, 0, cuda_blas);
    else run_case(&g_cases[i], MODE_THREADS, &many, &one, threads, 0);
  }
  cpu.set_threads(0);
  if (g_blas_cpu_missing)
    printf("  (the CPU build's stk_sgemm_blas has no system BLAS here: %s)\n", g_blas_cpu_why);
  printf("parity: %s (%d comparisons, %d failed, %d cases, %.1f s; largest differences: "
         "products against the references %.1e, %s %.1e; the rest %.1e, %.1e)\n",
         g_failed ? "FAIL" : "PASS", g_checks, g_failed, ran, now() - t0, g_worst[0].ref,
         cuda_ok ? "cuda against cpu" : "between thread counts", g_worst[0].other,
         g_worst[1].ref, g_worst[1].other);
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
