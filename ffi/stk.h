/*
 * stk.h — the C ABI of softtree's teacher kernels: the heavy operations of the ConvNet
 * teacher (lib/teacher/model.ts) — convolutions and their gradients, matrix products, max
 * pooling and its gradient, the Adam update — in one small library with two builds:
 * ffi/stk_cpu.c (gcc, OpenMP, a cache-blocked vectorised SGEMM of its own) and
 * ffi/stk_cuda.cu (nvcc, cuBLAS loaded at run time, a tiled kernel of its own as fallback).
 *
 * lib/teacher/kernels_native.ts registers these entry points as TensorFlow.js kernels of
 * the wasm backend (reading and writing tensors in the wasm heap through pointers), so the
 * teacher stays a tfjs layers model. Each entry point says which tfjs kernel it must match;
 * the reference is the plain CPU backend (@tensorflow/tfjs-backend-cpu), and
 * tests/teacher_kernels_native_test.ts checks every entry point against it (forward and gradients)
 * and stk_sgemm against stk_sgemm_naive.
 *
 * Shape glossary (the teacher's, lib/teacher/model.ts):
 *   B  batch             H W C     input image (rows, columns, channels), NHWC
 *   KH KW  filter size   OH OW CO  output image
 *   SH SW  strides       PT PL     zero padding above and left of the input
 *   M N K  a matrix product C [M, N] = op(A) [M, K] . op(B) [K, N]
 * Every array is row-major float32. Images are NHWC ([B, H, W, C]), filters
 * [KH, KW, C, CO] (tfjs's layout). The padding below and right of the input follows from the
 * others: PB = (OH - 1) SH + KH - H - PT, PR = (OW - 1) SW + KW - W - PL (negative when the
 * last rows or columns are not reached, as tfjs's "valid" padding with strides allows).
 *
 * Conventions: every function returns an stk_status (0 = STK_OK) unless it says otherwise;
 * on failure stk_last_error() holds a sentence saying what failed (per thread). Every pointer
 * argument must be non-null (optional ones say so) and every size in range: a bad one is
 * STK_ERR_ARGUMENT with a message naming the argument. Buffers must hold the sizes stated;
 * the library cannot check a buffer's length. Outputs must not overlap inputs. Output
 * arguments come first. The library never prints, exits or aborts, and keeps no state
 * between calls but its thread count (and, CUDA, its device buffers). The CUDA build takes
 * the same host pointers and copies to and from the device in every call.
 */
#ifndef STK_H
#define STK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a prototype or a meaning below changes; bindings check it on load. */
#define STK_ABI_VERSION 1

typedef enum {
  STK_OK = 0,
  STK_ERR_ARGUMENT = 1,    /* a null pointer, a size out of range, a bad option */
  STK_ERR_STATE = 2,       /* not used yet (kept in step with sdt.h's codes) */
  STK_ERR_MEMORY = 3,      /* an allocation failed (host or device) */
  STK_ERR_DEVICE = 4,      /* a CUDA call failed */
  STK_ERR_UNAVAILABLE = 5, /* no GPU or driver (CUDA); no system BLAS (stk_sgemm_blas) */
} stk_status;

/* The activation applied after a product's bias. */
typedef enum { STK_ACT_LINEAR = 0, STK_ACT_RELU = 1 } stk_activation;

/* The geometry of a 2-D convolution or pooling over NHWC images (see the glossary). For
 * pooling, filter_h and filter_w are the window and out_c must equal in_c. Passed as 13
 * consecutive int32 values. */
typedef struct stk_conv {
  int32_t batch, in_h, in_w, in_c; /* B H W C */
  int32_t out_h, out_w, out_c;     /* OH OW CO */
  int32_t filter_h, filter_w;      /* KH KW */
  int32_t stride_h, stride_w;      /* SH SW */
  int32_t pad_top, pad_left;       /* PT PL */
} stk_conv;

/* STK_ABI_VERSION of the built library. Returns the version, not a status. */
int32_t stk_abi_version(void);
/* The last error of the calling thread ("" when none). Returns a string, not a status. */
const char* stk_last_error(void);
/* One line describing the build, e.g. "cpu (gcc 12.2, x86-64-v4, avx512, openmp)"; the
 * CUDA build adds its GEMM ("cuBLAS 13.0.0 from <file>" or "own GEMM kernel (why)"). */
const char* stk_build_info(void);
/* Whether this build can run here: STK_OK, or STK_ERR_UNAVAILABLE with the reason (CUDA: no
 * device or driver). `info` receives a description of the build and the threads (CPU) or
 * the device (CUDA), at most `cap` bytes with the terminating zero (null when cap is 0). */
int32_t stk_probe(char* info, int32_t cap);
/* The CPU threads later calls use: 1..1024, or <= 0 for every core. The CUDA build accepts
 * and ignores it. */
int32_t stk_set_threads(int32_t threads);
/* The CPU threads calls use now (CUDA: 1). Returns the count, not a status. */
int32_t stk_threads(void);

/* ---------------------------------------------------------------- matrix products */

/* C [M, N] = alpha op(A) op(B) + beta C, row-major, as BLAS's sgemm: op(A) is A [M, K]
 * (lda >= K), or with trans_a A [K, M] transposed (lda >= M); op(B) is B [K, N]
 * (ldb >= N), or with trans_b B [N, K] transposed (ldb >= K); ldc >= N. beta 0 ignores C's
 * old contents (even NaN). The CPU build's cache-blocked, vectorised kernel. */
int32_t stk_sgemm(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                  float alpha, const float* a, int32_t lda, const float* b, int32_t ldb,
                  float beta, int32_t ldc);
/* The same product by a plain triple loop (double accumulators): the in-library reference
 * the tests compare stk_sgemm with, and the benchmark's "plain" rate. */
int32_t stk_sgemm_naive(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
                        int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                        int32_t ldb, float beta, int32_t ldc);
/* The same product by the system BLAS's cblas_sgemm (CPU: OpenBLAS or libblas.so.3 found
 * at run time, SOFTTREE_BLAS=none|<path> overrides; CUDA: cuBLAS), for comparison only:
 * STK_ERR_UNAVAILABLE when there is none. */
int32_t stk_sgemm_blas(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
                       int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                       int32_t ldb, float beta, int32_t ldc);

/* tfjs's BatchMatMul and _FusedMatMul (bias and relu or linear activation):
 *   c[i] [M, N] = act(op(a[i]) op(b[i]) + bias), i < batch,
 * with a[i] = a + i a_stride (a_stride 0 broadcasts one matrix over the batch), b likewise,
 * op(a[i]) = a[i] [M, K] or, with trans_a, a[i] [K, M] transposed (op(b) likewise), dense
 * (no leading dimensions), c [batch, M, N]. bias [N] may be null. */
int32_t stk_matmul(float* c, const float* a, const float* b, const float* bias, int32_t batch,
                   int32_t m, int32_t n, int32_t k, int64_t a_stride, int64_t b_stride,
                   int32_t trans_a, int32_t trans_b, int32_t activation);

/* ---------------------------------------------------------------- convolutions */

/* tfjs's Conv2D and FusedConv2D (NHWC, dilation 1):
 *   y [B, OH, OW, CO] = act(sum_{kh, kw, c} x[b, oh SH + kh - PT, ow SW + kw - PL, c]
 *                               filter[kh, kw, c, co] + bias[co]),
 * terms outside the image being 0. bias [CO] may be null. An implicit im2col: the GEMM reads
 * the filter taps of each output position straight from the (padded) image. */
int32_t stk_conv2d(float* y, const float* x, const float* filter, const float* bias,
                   const stk_conv* g, int32_t activation);
/* tfjs's Conv2DBackpropInput: dx [B, H, W, C], the gradient of stk_conv2d's linear output
 * with respect to x, given dy [B, OH, OW, CO] and filter [KH, KW, C, CO]: a convolution of
 * dy (dilated by the strides and padded) with the filter turned by 180 degrees. */
int32_t stk_conv2d_backprop_input(float* dx, const float* dy, const float* filter,
                                  const stk_conv* g);
/* tfjs's Conv2DBackpropFilter: dfilter [KH, KW, C, CO] = sum over b, oh, ow of
 * x[b, oh SH + kh - PT, ow SW + kw - PL, c] dy[b, oh, ow, co]. */
int32_t stk_conv2d_backprop_filter(float* dfilter, const float* x, const float* dy,
                                   const stk_conv* g);

/* ---------------------------------------------------------------- pooling */

/* tfjs's MaxPool (NHWC, dilation 1): y [B, OH, OW, C] = the largest x in each window,
 * positions outside the image left out; NaN inputs are passed over, and a window of only
 * NaN or -inf gives -inf (as the CPU backend). */
int32_t stk_max_pool(float* y, const float* x, const stk_conv* g);
/* tfjs's MaxPoolGrad: dx [B, H, W, C] = each dy [B, OH, OW, C] added at the first (in row
 * order) largest input of its window; a window with no value above -inf passes nothing. */
int32_t stk_max_pool_grad(float* dx, const float* dy, const float* x, const stk_conv* g);

/* ---------------------------------------------------------------- dropout, reductions, optimizer */

/* An inverted-dropout mask drawn as lib/util/random.ts's Rng (mulberry32) draws it, from the
 * generator's state `state`: with u_i the value of call i (0-based) of Rng.next(),
 *   mask[i] = u_i >= rate ? 1 / (1 - rate) (rounded to float) : 0,  i < n,
 * exactly the mask lib/teacher/model.ts draws in JS. The caller advances its generator by n
 * calls (Rng.skip). 0 <= rate < 1. */
int32_t stk_dropout_mask(float* mask, uint32_t state, int64_t n, double rate);

/* Softmax cross-entropy of logits [rows, classes] against int32 labels [rows] (tfjs's
 * tf.losses.softmaxCrossEntropy on one-hot labels, mean over the rows), and its gradient:
 *   loss[0] = mean_r (logsumexp(logits[r]) - logits[r, labels[r]]),
 *   dlogits [rows, classes] = (softmax(logits[r]) - onehot(labels[r])) / rows.
 * Every label must be in [0, classes). */
int32_t stk_softmax_xent(float* loss, float* dlogits, const float* logits, const int32_t* labels,
                         int32_t rows, int32_t classes);
/* The gradients through y = relu(z + bias) for y [rows, cols] (bias on the last axis), given
 * dy [rows, cols]: dz [rows, cols] = y > 0 ? dy : 0 (tfjs's Relu gradient, dy step(z)) and
 * dbias [cols] = sum over r of dz (tfjs's Add gradient, a Sum over the broadcast axes). */
int32_t stk_relu_bias_grad(float* dz, float* dbias, const float* dy, const float* y,
                           int64_t rows, int32_t cols);
/* out [cols] = sum over r of x [rows, cols] (tfjs's Sum over every axis but the last: the
 * bias gradient). */
int32_t stk_sum_rows(float* out, const float* x, int64_t rows, int32_t cols);
/* One Adam step over n weights (lib/teacher/_adam.ts), the moments m and v updated in place,
 * as tf.train.adam's kernels compute it, every operation rounded to float:
 *   m = m beta1 + g (1 - beta1),  v = v beta2 + g^2 (1 - beta2),
 *   w_out = w - lr (m / c1) / (sqrt(v / c2) + eps),
 * with c1 = 1 - beta1^t and c2 = 1 - beta2^t for step t. The scalars come as doubles and are
 * rounded to float as tfjs rounds its scalar operands (1 - beta1 is taken in double first).
 * w_out may be w itself (an update in place) or a buffer of its own. */
int32_t stk_adam(float* w_out, float* m, float* v, const float* w, const float* g, int64_t n,
                 double beta1, double beta2, double lr, double c1, double c2, double eps);

#ifdef __cplusplus
}
#endif

#endif /* STK_H */
