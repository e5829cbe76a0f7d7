/*
 * stk_common.h — what the CPU (stk_cpu.c) and CUDA (stk_cuda.cu) builds of stk.h share: the
 * last-error buffer with `fail`, and the argument checks of every entry point (both builds
 * make the same checks, with the same messages). Internal: included once by each build.
 */
#ifndef STK_COMMON_H
#define STK_COMMON_H

#include "stk.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ffi_common.h"

/* Return the status of `expr` from the calling function when it is not STK_OK. */
#define STK_TRY(expr) FFI_TRY(expr, STK_OK)

/* The largest element count of one array: beyond it 64-bit offsets are still exact but the
 * buffer cannot exist. */
#define STK_MAX_ELEMS (((int64_t)1) << 40)

static int32_t check_ptr(const char* fn, const char* name, const void* p) {
  if (!p) return fail(STK_ERR_ARGUMENT, "%s: argument %s is null", fn, name);
  return STK_OK;
}

static int32_t check_dim(const char* fn, const char* name, int64_t v, int64_t min) {
  if (v < min) {
    return fail(STK_ERR_ARGUMENT, "%s: %s must be >= %lld, got %lld", fn, name, (long long)min,
                (long long)v);
  }
  return STK_OK;
}

/* a * b * ... for sizes already checked to be >= 0, or -1 when the product overflows. */
static int64_t elems(int n, const int64_t* d) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) {
    if (d[i] != 0 && p > STK_MAX_ELEMS / d[i]) return -1;
    p *= d[i];
  }
  return p;
}

static int32_t check_size(const char* fn, const char* name, int n, const int64_t* d) {
  if (elems(n, d) < 0) {
    return fail(STK_ERR_ARGUMENT, "%s: %s is too large (more than 2^40 values)", fn, name);
  }
  return STK_OK;
}

static int32_t check_probe(char* info, int32_t cap) {
  if (cap < 0) return fail(STK_ERR_ARGUMENT, "stk_probe: cap must be >= 0, got %d", cap);
  if (cap > 0 && !info) {
    return fail(STK_ERR_ARGUMENT, "stk_probe: argument info is null but cap is %d", cap);
  }
  return STK_OK;
}

static int32_t check_threads(int32_t threads) {
  if (threads > 1024) {
    return fail(STK_ERR_ARGUMENT, "stk_set_threads: threads must be <= 1024 (<= 0: every core), "
                                  "got %d", threads);
  }
  return STK_OK;
}

/* The checks of stk_sgemm and its variants (BLAS's rules for row-major matrices). */
static int32_t check_sgemm(const char* fn, const float* c, int32_t trans_a, int32_t trans_b,
                           int32_t m, int32_t n, int32_t k, float alpha, const float* a,
                           int32_t lda, const float* b, int32_t ldb, float beta, int32_t ldc) {
  STK_TRY(check_dim(fn, "m", m, 0));
  STK_TRY(check_dim(fn, "n", n, 0));
  STK_TRY(check_dim(fn, "k", k, 0));
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: trans_a and trans_b must be 0 or 1, got %d and %d", fn,
                trans_a, trans_b);
  }
  int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  if (lda < (a_cols > 1 ? a_cols : 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: lda must be >= %lld, got %d", fn, (long long)a_cols, lda);
  }
  if (ldb < (b_cols > 1 ? b_cols : 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: ldb must be >= %lld, got %d", fn, (long long)b_cols, ldb);
  }
  if (ldc < (n > 1 ? n : 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: ldc must be >= %d, got %d", fn, n, ldc);
  }
  if (!isfinite(alpha) || !isfinite(beta)) {
    return fail(STK_ERR_ARGUMENT, "%s: alpha and beta must be finite, got %g and %g", fn,
                (double)alpha, (double)beta);
  }
  if (m > 0 && n > 0) STK_TRY(check_ptr(fn, "c", c));
  if (m > 0 && n > 0 && k > 0) {
    STK_TRY(check_ptr(fn, "a", a));
    STK_TRY(check_ptr(fn, "b", b));
  }
  return STK_OK;
}

static int32_t check_activation(const char* fn, int32_t activation) {
  if (activation != STK_ACT_LINEAR && activation != STK_ACT_RELU) {
    return fail(STK_ERR_ARGUMENT, "%s: unknown activation %d (0 linear, 1 relu)", fn,
                activation);
  }
  return STK_OK;
}

static int32_t check_matmul(const float* c, const float* a, const float* b, int32_t batch,
                            int32_t m, int32_t n, int32_t k, int64_t a_stride, int64_t b_stride,
                            int32_t trans_a, int32_t trans_b, int32_t activation) {
  const char* fn = "stk_matmul";
  STK_TRY(check_dim(fn, "batch", batch, 1));
  STK_TRY(check_dim(fn, "m", m, 1));
  STK_TRY(check_dim(fn, "n", n, 1));
  STK_TRY(check_dim(fn, "k", k, 1));
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: trans_a and trans_b must be 0 or 1, got %d and %d", fn,
                trans_a, trans_b);
  }
  int64_t sa = (int64_t)m * k, sb = (int64_t)k * n;
  if (a_stride != 0 && a_stride < sa) {
    return fail(STK_ERR_ARGUMENT, "%s: a_stride must be 0 or >= m k = %lld, got %lld", fn,
                (long long)sa, (long long)a_stride);
  }
  if (b_stride != 0 && b_stride < sb) {
    return fail(STK_ERR_ARGUMENT, "%s: b_stride must be 0 or >= k n = %lld, got %lld", fn,
                (long long)sb, (long long)b_stride);
  }
  int64_t d[3] = {batch, m, n};
  STK_TRY(check_size(fn, "c", 3, d));
  STK_TRY(check_activation(fn, activation));
  STK_TRY(check_ptr(fn, "c", c));
  STK_TRY(check_ptr(fn, "a", a));
  return check_ptr(fn, "b", b);
}

/* Checks a convolution's (or pooling's) geometry: every size >= 1, the padding within the
 * window, and the output size one that some padding of the input gives. */
static int32_t check_geometry(const char* fn, const stk_conv* g, int pooling) {
  STK_TRY(check_ptr(fn, "g", g));
  STK_TRY(check_dim(fn, "g.batch", g->batch, 1));
  STK_TRY(check_dim(fn, "g.in_h", g->in_h, 1));
  STK_TRY(check_dim(fn, "g.in_w", g->in_w, 1));
  STK_TRY(check_dim(fn, "g.in_c", g->in_c, 1));
  STK_TRY(check_dim(fn, "g.out_h", g->out_h, 1));
  STK_TRY(check_dim(fn, "g.out_w", g->out_w, 1));
  STK_TRY(check_dim(fn, "g.out_c", g->out_c, 1));
  STK_TRY(check_dim(fn, "g.filter_h", g->filter_h, 1));
  STK_TRY(check_dim(fn, "g.filter_w", g->filter_w, 1));
  STK_TRY(check_dim(fn, "g.stride_h", g->stride_h, 1));
  STK_TRY(check_dim(fn, "g.stride_w", g->stride_w, 1));
  STK_TRY(check_dim(fn, "g.pad_top", g->pad_top, 0));
  STK_TRY(check_dim(fn, "g.pad_left", g->pad_left, 0));
  if (pooling && g->out_c != g->in_c) {
    return fail(STK_ERR_ARGUMENT, "%s: g.out_c must equal g.in_c for pooling, got %d and %d",
                fn, g->out_c, g->in_c);
  }
  if (g->pad_top >= g->filter_h || g->pad_left >= g->filter_w) {
    return fail(STK_ERR_ARGUMENT,
                "%s: the padding (top %d, left %d) must be smaller than the filter (%dx%d)", fn,
                g->pad_top, g->pad_left, g->filter_h, g->filter_w);
  }
  /* The padding below and right: at most a filter's height less one, and never so negative
   * that a window would start below the image. */
  int64_t pb = (int64_t)(g->out_h - 1) * g->stride_h + g->filter_h - g->in_h - g->pad_top;
  int64_t pr = (int64_t)(g->out_w - 1) * g->stride_w + g->filter_w - g->in_w - g->pad_left;
  if (pb >= g->filter_h || pb <= -g->stride_h || pr >= g->filter_w || pr <= -g->stride_w) {
    return fail(STK_ERR_ARGUMENT,
                "%s: an output of %dx%d does not fit an input of %dx%d with filter %dx%d, "
                "strides %dx%d and padding top %d, left %d",
                fn, g->out_h, g->out_w, g->in_h, g->in_w, g->filter_h, g->filter_w,
                g->stride_h, g->stride_w, g->pad_top, g->pad_left);
  }
  int64_t in[4] = {g->batch, g->in_h, g->in_w, g->in_c};
  int64_t out[4] = {g->batch, g->out_h, g->out_w, g->out_c};
  int64_t filt[4] = {g->filter_h, g->filter_w, g->in_c, g->out_c};
  STK_TRY(check_size(fn, "the input", 4, in));
  STK_TRY(check_size(fn, "the output", 4, out));
  return check_size(fn, "the filter", 4, filt);
}

static int32_t check_adam(const float* w_out, const float* m, const float* v, const float* w,
                          const float* g, int64_t n, double beta1, double beta2, double lr,
                          double c1, double c2, double eps) {
  const char* fn = "stk_adam";
  STK_TRY(check_dim(fn, "n", n, 0));
  if (n > STK_MAX_ELEMS) return fail(STK_ERR_ARGUMENT, "%s: n is too large", fn);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: beta1 and beta2 must be in [0, 1), got %g and %g", fn,
                beta1, beta2);
  }
  if (!(isfinite(lr) && lr >= 0) || !(c1 > 0 && c1 <= 1) || !(c2 > 0 && c2 <= 1) ||
      !(isfinite(eps) && eps >= 0)) {
    return fail(STK_ERR_ARGUMENT,
                "%s: lr and eps must be finite and >= 0, c1 and c2 in (0, 1], got %g, %g, %g "
                "and %g",
                fn, lr, eps, c1, c2);
  }
  if (n > 0) {
    STK_TRY(check_ptr(fn, "w_out", w_out));
    STK_TRY(check_ptr(fn, "m", m));
    STK_TRY(check_ptr(fn, "v", v));
    STK_TRY(check_ptr(fn, "w", w));
    STK_TRY(check_ptr(fn, "g", g));
  }
  return STK_OK;
}

static int32_t check_dropout(const float* mask, int64_t n, double rate) {
  const char* fn = "stk_dropout_mask";
  STK_TRY(check_dim(fn, "n", n, 0));
  if (n > STK_MAX_ELEMS) return fail(STK_ERR_ARGUMENT, "%s: n is too large", fn);
  if (!(rate >= 0 && rate < 1)) {
    return fail(STK_ERR_ARGUMENT, "%s: rate must be in [0, 1), got %g", fn, rate);
  }
  if (n > 0) STK_TRY(check_ptr(fn, "mask", mask));
  return STK_OK;
}

/* mulberry32's output for the state after an increment (lib/util/random.ts's Rng.next, in
 * uint32 arithmetic: Math.imul wraps as uint32 multiplication does). */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline uint32_t mulberry32(uint32_t t) {
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

/* The smallest uint32 value r with r / 2^32 >= rate (2^32 when there is none): u >= rate
 * compared exactly in integers. */
static inline uint64_t dropout_threshold(double rate) {
  double t = ceil(rate * 4294967296.0);
  return t <= 0 ? 0 : (uint64_t)t;
}

static int32_t check_softmax_xent(const float* loss, const float* dlogits, const float* logits,
                                  const int32_t* labels, int32_t rows, int32_t classes) {
  const char* fn = "stk_softmax_xent";
  STK_TRY(check_dim(fn, "rows", rows, 1));
  STK_TRY(check_dim(fn, "classes", classes, 1));
  STK_TRY(check_ptr(fn, "loss", loss));
  STK_TRY(check_ptr(fn, "dlogits", dlogits));
  STK_TRY(check_ptr(fn, "logits", logits));
  STK_TRY(check_ptr(fn, "labels", labels));
  for (int32_t r = 0; r < rows; r++) {
    if (labels[r] < 0 || labels[r] >= classes) {
      return fail(STK_ERR_ARGUMENT, "%s: label %d of row %d is not in [0, %d)", fn, labels[r], r,
                  classes);
    }
  }
  return STK_OK;
}

/* The loss and gradient of stk_softmax_xent, on the host (both builds: the work is tiny). */
static void softmax_xent(float* loss, float* dlogits, const float* logits, const int32_t* labels,
                         int32_t rows, int32_t classes) {
  double total = 0;
  for (int32_t r = 0; r < rows; r++) {
    const float* x = logits + (int64_t)r * classes;
    float* d = dlogits + (int64_t)r * classes;
    double m = x[0], s = 0;
    for (int32_t k = 1; k < classes; k++) m = x[k] > m ? x[k] : m;
    for (int32_t k = 0; k < classes; k++) s += exp((double)x[k] - m);
    const double lse = m + log(s);
    total += lse - x[labels[r]];
    for (int32_t k = 0; k < classes; k++) {
      d[k] = (float)((exp((double)x[k] - lse) - (k == labels[r] ? 1.0 : 0.0)) / rows);
    }
  }
  loss[0] = (float)(total / rows);
}

static int32_t check_relu_bias_grad(const float* dz, const float* dbias, const float* dy,
                                    const float* y, int64_t rows, int32_t cols) {
  const char* fn = "stk_relu_bias_grad";
  STK_TRY(check_dim(fn, "rows", rows, 0));
  STK_TRY(check_dim(fn, "cols", cols, 1));
  int64_t d[2] = {rows, cols};
  STK_TRY(check_size(fn, "dy", 2, d));
  STK_TRY(check_ptr(fn, "dbias", dbias));
  if (rows > 0) {
    STK_TRY(check_ptr(fn, "dz", dz));
    STK_TRY(check_ptr(fn, "dy", dy));
    STK_TRY(check_ptr(fn, "y", y));
  }
  return STK_OK;
}

static int32_t check_sum_rows(const float* out, const float* x, int64_t rows, int32_t cols) {
  const char* fn = "stk_sum_rows";
  STK_TRY(check_dim(fn, "rows", rows, 0));
  STK_TRY(check_dim(fn, "cols", cols, 1));
  int64_t d[2] = {rows, cols};
  STK_TRY(check_size(fn, "x", 2, d));
  STK_TRY(check_ptr(fn, "out", out));
  if (rows > 0) STK_TRY(check_ptr(fn, "x", x));
  return STK_OK;
}

/* The padding below and right of a geometry that check_geometry accepted. */
static inline int64_t pad_bottom(const stk_conv* g) {
  return (int64_t)(g->out_h - 1) * g->stride_h + g->filter_h - g->in_h - g->pad_top;
}
static inline int64_t pad_right(const stk_conv* g) {
  return (int64_t)(g->out_w - 1) * g->stride_w + g->filter_w - g->in_w - g->pad_left;
}

#endif /* STK_COMMON_H */
