/*
 * sdt_common.h — what the CPU (sdt_cpu.c) and CUDA (sdt_cuda.cu) builds share beyond the ABI
 * of sdt.h: the maths constants, the last-error buffer with `fail`, the argument checks of
 * every entry point (both builds make the same checks, with the same messages), and the
 * launch arithmetic of the CUDA build's kernels (plain integer code, so that the check
 * harness ffi/check/gpu_parity.c can test it on a CPU). Internal: included once by each
 * build, never by callers of the library. The harness defines SDT_LAUNCH_ONLY first and gets
 * the launch arithmetic alone.
 */
#ifndef SDT_COMMON_H
#define SDT_COMMON_H

#include <stdint.h>

#ifdef __CUDACC__
#define SDT_HD __host__ __device__
#else
#define SDT_HD
#endif

/* ---------------------------------------------------------------- launch arithmetic */

/* Grid limits of every CUDA device of compute capability 3.0 and later. */
#define SDT_GRID_X_MAX 2147483647LL
#define SDT_GRID_YZ_MAX 65535LL

/* Tiles of `tile` items covering `n` items (n >= 0, tile >= 1), in 64-bit so that an n near
 * 2^31 cannot overflow. */
SDT_HD static inline int64_t sdt_tiles(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

/* Blocks of `threads` for a one-dimensional launch over n items: at least 1, at most the
 * grid.x limit (kernels that may get more items than that loop with a grid stride). */
static inline uint32_t sdt_blocks_1d(int64_t n, int threads) {
  int64_t b = sdt_tiles(n, threads);
  return (uint32_t)(b < 1 ? 1 : b > SDT_GRID_X_MAX ? SDT_GRID_X_MAX : b);
}

/* The grid of the plain GEMM kernel for a row-major C [M, N] in square tiles: row tiles on
 * grid.x (up to 2^31 - 1 blocks: rows are the batch, which can be millions), column tiles on
 * grid.y, capped at 65,535. The kernel visits row tile blockIdx.x + i gridDim.x and column
 * tile blockIdx.y + j gridDim.y for i, j = 0, 1, ... while inside the matrix, so every tile
 * is computed exactly once whatever M and N (see sdt_gemm_tile_visits). */
typedef struct {
  uint32_t x, y;
} sdt_grid2;

static inline sdt_grid2 sdt_gemm_grid(int64_t M, int64_t N, int tile) {
  int64_t gx = sdt_tiles(M, tile), gy = sdt_tiles(N, tile);
  sdt_grid2 g;
  g.x = (uint32_t)(gx < 1 ? 1 : gx > SDT_GRID_X_MAX ? SDT_GRID_X_MAX : gx);
  g.y = (uint32_t)(gy < 1 ? 1 : gy > SDT_GRID_YZ_MAX ? SDT_GRID_YZ_MAX : gy);
  return g;
}

/* How many tiles block `b` of a grid of `g` blocks computes along a dimension of `tiles`
 * tiles, looping as the GEMM kernel does (b, b + g, b + 2g, ... < tiles). */
SDT_HD static inline int64_t sdt_gemm_tile_visits(int64_t b, int64_t g, int64_t tiles) {
  return b < tiles ? (tiles - 1 - b) / g + 1 : 0;
}

#ifndef SDT_LAUNCH_ONLY

#include "sdt.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f
#define ALPHA_EPS 1e-5
#define MIX_EPS 1e-12f
#define DEN_EPS 1e-30

/* ---------------------------------------------------------------- argument limits */

#define SDT_MAX_DEPTH 20
/* CPU threads a context may ask for (each gets scratch of I + L floats). */
#define SDT_MAX_THREADS 1024
/* The most values one parameter array (w [I, F] or phi [L, K]) may hold: 2^31 - 1, that is
 * 8 GiB of float32, four times over with Adam's moments and the gradient. A larger tree is
 * refused before anything is allocated: zeroing tens of gigabytes can get the process
 * killed for lack of memory instead of failing with SDT_ERR_MEMORY. */
#define SDT_MAX_VALUES 2147483647LL

#include "ffi_common.h"

/* Return the status of `expr` from the calling function when it is not SDT_OK. */
#define SDT_TRY(expr) FFI_TRY(expr, SDT_OK)

/* A named pointer argument, for check_ptrs. */
typedef struct {
  const char* name;
  const void* ptr;
} sdt_arg;

/* SDT_ERR_ARGUMENT naming the first null pointer among args[0 .. n), else SDT_OK. */
static int32_t check_ptrs(const char* fn, const sdt_arg* args, int n) {
  for (int i = 0; i < n; i++)
    if (!args[i].ptr) return fail(SDT_ERR_ARGUMENT, "%s: argument %s is null", fn, args[i].name);
  return SDT_OK;
}
#define SDT_CHECK_PTRS(fn, ...)                                             \
  do {                                                                      \
    const sdt_arg args_[] = {__VA_ARGS__};                                  \
    SDT_TRY(check_ptrs(fn, args_, (int)(sizeof args_ / sizeof args_[0]))); \
  } while (0)

/* A count of rows of `width` values each (x [n, F], targets [n, K]): at least `min`, and
 * small enough that n * width values, in bytes, fit in a pointer difference. */
static int32_t check_rows(const char* fn, const char* name, int64_t n, int64_t min,
                          int64_t width) {
  if (n < min) return fail(SDT_ERR_ARGUMENT, "%s: %s must be >= %lld, got %lld", fn, name,
                           (long long)min, (long long)n);
  if (width > 0 && (uint64_t)n > (uint64_t)PTRDIFF_MAX / 8 / (uint64_t)width)
    return fail(SDT_ERR_ARGUMENT, "%s: %s = %lld rows of %lld values overflow the address space",
                fn, name, (long long)n, (long long)width);
  return SDT_OK;
}

/* A finite double, with an optional lower bound (`lo_ok`: whether lo itself is allowed). */
static int32_t check_real(const char* fn, const char* name, double v, int has_lo, double lo,
                          int lo_ok) {
  if (!isfinite(v)) return fail(SDT_ERR_ARGUMENT, "%s: %s must be finite, got %g", fn, name, v);
  if (has_lo && (lo_ok ? v < lo : v <= lo))
    return fail(SDT_ERR_ARGUMENT, "%s: %s must be %s %g, got %g", fn, name, lo_ok ? ">=" : ">",
                lo, v);
  return SDT_OK;
}

/* ---------------------------------------------------------------- the entry points' checks */

static int32_t check_probe(const char* info, int32_t cap) {
  if (cap < 0) return fail(SDT_ERR_ARGUMENT, "sdt_probe: cap must be >= 0, got %d", cap);
  if (cap > 0 && !info)
    return fail(SDT_ERR_ARGUMENT, "sdt_probe: argument info is null but cap is %d", cap);
  return SDT_OK;
}

static int32_t check_create(void* out, int32_t depth, int32_t features, int32_t classes,
                            int32_t loss_kind, int32_t learn_beta, double inv_temp,
                            double penalty_strength, double penalty_decay, double ema_window,
                            double learning_rate, int32_t threads) {
  const char* fn = "sdt_create";
  SDT_CHECK_PTRS(fn, {"out", out});
  if (depth < 1 || depth > SDT_MAX_DEPTH)
    return fail(SDT_ERR_ARGUMENT, "Tree depth must be in [1, %d], got %d", SDT_MAX_DEPTH,
                depth);
  if (features < 1) return fail(SDT_ERR_ARGUMENT, "%s: features must be >= 1, got %d", fn,
                                features);
  if (classes < 1) return fail(SDT_ERR_ARGUMENT, "%s: classes must be >= 1, got %d", fn,
                               classes);
  int64_t L = (int64_t)1 << depth, I = L - 1;
  if (I * features > SDT_MAX_VALUES)
    return fail(SDT_ERR_ARGUMENT,
                "%s: depth %d with %d features needs %lld filter weights, more than %lld", fn,
                depth, features, (long long)(I * features), (long long)SDT_MAX_VALUES);
  if (L * classes > SDT_MAX_VALUES)
    return fail(SDT_ERR_ARGUMENT,
                "%s: depth %d with %d classes needs %lld leaf logits, more than %lld", fn,
                depth, classes, (long long)(L * classes), (long long)SDT_MAX_VALUES);
  if (loss_kind < SDT_LOSS_EXPECTED || loss_kind > SDT_LOSS_SQ_MIXTURE)
    return fail(SDT_ERR_ARGUMENT,
                "%s: unknown loss_kind %d (0 expected, 1 mixture, 2 squared expected, 3 "
                "squared mixture)",
                fn, loss_kind);
  if (learn_beta != 0 && learn_beta != 1)
    return fail(SDT_ERR_ARGUMENT, "%s: learn_beta must be 0 or 1, got %d", fn, learn_beta);
  SDT_TRY(check_real(fn, "inv_temp", inv_temp, 0, 0, 0));
  SDT_TRY(check_real(fn, "penalty_strength", penalty_strength, 1, 0, 1));
  SDT_TRY(check_real(fn, "penalty_decay", penalty_decay, 1, 0, 1));
  if (!(ema_window > 0) || !isfinite(ema_window))
    return fail(SDT_ERR_ARGUMENT, "The penalty's window must be > 0 and finite, got %g",
                ema_window);
  SDT_TRY(check_real(fn, "learning_rate", learning_rate, 1, 0, 1));
  if (threads > SDT_MAX_THREADS)
    return fail(SDT_ERR_ARGUMENT, "%s: threads must be <= %d (<= 0: every core), got %d", fn,
                SDT_MAX_THREADS, threads);
  return SDT_OK;
}

static int32_t check_set_params(const void* ctx, const float* w, const float* b,
                                const float* phi, float beta) {
  SDT_CHECK_PTRS("sdt_set_params", {"ctx", ctx}, {"w", w}, {"b", b}, {"phi", phi});
  return check_real("sdt_set_params", "beta", beta, 0, 0, 0);
}

static int32_t check_get_params(const float* w, const float* b, const float* phi,
                                const float* beta, const void* ctx) {
  SDT_CHECK_PTRS("sdt_get_params", {"w", w}, {"b", b}, {"phi", phi}, {"beta", beta},
                 {"ctx", ctx});
  return SDT_OK;
}

static int32_t check_set_penalty(const void* ctx, const float* num, const float* den,
                                 int64_t steps) {
  SDT_CHECK_PTRS("sdt_set_penalty", {"ctx", ctx}, {"num", num}, {"den", den});
  if (steps < 0)
    return fail(SDT_ERR_ARGUMENT, "sdt_set_penalty: steps must be >= 0, got %lld",
                (long long)steps);
  return SDT_OK;
}

static int32_t check_get_penalty(const float* num, const float* den, const int64_t* steps,
                                 const void* ctx) {
  SDT_CHECK_PTRS("sdt_get_penalty", {"num", num}, {"den", den}, {"steps", steps},
                 {"ctx", ctx});
  return SDT_OK;
}

static int32_t check_get_adam(const float* m, const float* v, const int64_t* t,
                              const void* ctx) {
  SDT_CHECK_PTRS("sdt_get_adam", {"m", m}, {"v", v}, {"t", t}, {"ctx", ctx});
  return SDT_OK;
}

static int32_t check_set_adam(const void* ctx, const float* m, const float* v, int64_t t) {
  SDT_CHECK_PTRS("sdt_set_adam", {"ctx", ctx}, {"m", m}, {"v", v});
  if (t < 0) return fail(SDT_ERR_ARGUMENT, "sdt_set_adam: t must be >= 0, got %lld", (long long)t);
  return SDT_OK;
}

static int32_t check_set_learning_rate(const void* ctx, double lr) {
  SDT_CHECK_PTRS("sdt_set_learning_rate", {"ctx", ctx});
  return check_real("sdt_set_learning_rate", "learning_rate", lr, 1, 0, 1);
}

static int32_t check_set_beta(const void* ctx, float beta) {
  SDT_CHECK_PTRS("sdt_set_beta", {"ctx", ctx});
  return check_real("sdt_set_beta", "beta", beta, 0, 0, 0);
}

static int32_t check_set_train_data(const void* ctx, const float* x, const float* targets,
                                    int32_t n, int32_t F, int32_t K) {
  const char* fn = "sdt_set_train_data";
  SDT_CHECK_PTRS(fn, {"ctx", ctx}, {"x", x}, {"targets", targets});
  SDT_TRY(check_rows(fn, "n", n, 1, F));
  return check_rows(fn, "n", n, 1, K);
}

/* The checks of sdt_train_samples: `order` of `n` rows over `resident` resident rows (`order`
 * may be null when n is 0). */
static int32_t check_train_samples(const double* loss_sum, const double* penalty_sum,
                                   const int32_t* batches, const void* ctx,
                                   const int32_t* order, int32_t n, int32_t batch_size,
                                   int32_t resident) {
  const char* fn = "sdt_train_samples";
  SDT_CHECK_PTRS(fn, {"loss_sum", loss_sum}, {"penalty_sum", penalty_sum},
                 {"batches", batches}, {"ctx", ctx});
  if (n < 0) return fail(SDT_ERR_ARGUMENT, "%s: n (the order's length) must be >= 0, got %d",
                         fn, n);
  if (n > 0) SDT_CHECK_PTRS(fn, {"order", order});
  if (batch_size < 1)
    return fail(SDT_ERR_ARGUMENT, "%s: batch_size must be >= 1, got %d", fn, batch_size);
  if (!resident)
    return fail(SDT_ERR_STATE, "No training set is resident: call sdt_set_train_data");
  for (int32_t i = 0; i < n; i++)
    if (order[i] < 0 || order[i] >= resident)
      return fail(SDT_ERR_ARGUMENT, "Row index %d at position %d is outside the %d resident rows",
                  order[i], i, resident);
  return SDT_OK;
}

/* The checks of sdt_train_step and sdt_gradients' shared arguments. */
static int32_t check_batch(const char* fn, const float* x, const float* targets, int32_t batch,
                           int32_t F, int32_t K) {
  SDT_CHECK_PTRS(fn, {"x", x}, {"targets", targets});
  SDT_TRY(check_rows(fn, "batch", batch, 1, F));
  return check_rows(fn, "batch", batch, 1, K);
}

static int32_t check_train_step(const double* loss, const double* penalty, const void* ctx) {
  SDT_CHECK_PTRS("sdt_train_step", {"loss", loss}, {"penalty", penalty}, {"ctx", ctx});
  return SDT_OK;
}

static int32_t check_gradients(const float* dw, const float* db, const float* dphi,
                               const double* dbeta, const double* loss, const double* penalty,
                               const void* ctx) {
  SDT_CHECK_PTRS("sdt_gradients", {"dw", dw}, {"db", db}, {"dphi", dphi}, {"dbeta", dbeta},
                 {"loss", loss}, {"penalty", penalty}, {"ctx", ctx});
  return SDT_OK;
}

static int32_t check_forward(const void* ctx, const float* x, int32_t n, int32_t F) {
  SDT_CHECK_PTRS("sdt_forward", {"ctx", ctx});
  SDT_TRY(check_rows("sdt_forward", "n", n, 0, F));
  if (n > 0) SDT_CHECK_PTRS("sdt_forward", {"x", x});
  return SDT_OK;
}

static int32_t check_evaluate(const double* accuracy_max_leaf, const double* accuracy_mixture,
                              const void* ctx, const float* x, const int32_t* labels,
                              int32_t n, int32_t F) {
  const char* fn = "sdt_evaluate";
  SDT_CHECK_PTRS(fn, {"accuracy_max_leaf", accuracy_max_leaf},
                 {"accuracy_mixture", accuracy_mixture}, {"ctx", ctx}, {"x", x},
                 {"labels", labels});
  return check_rows(fn, "n", n, 1, F);
}

#endif /* SDT_LAUNCH_ONLY */
#endif
