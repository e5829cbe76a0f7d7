/*
 * stk_cuda.cu — the CUDA build of the ABI in stk.h: the teacher's kernels on an NVIDIA GPU.
 *
 * Must give what the CPU build (stk_cpu.c) gives within the tolerances of
 * tests/teacher_kernels_native_test.ts, which runs both where a GPU is. Every entry point takes host
 * pointers: it copies its inputs to the device, computes there and copies the outputs back
 * (device buffers are kept between calls and grow as needed; one call runs at a time).
 *
 * The products go to cuBLAS, loaded at run time with dlopen (there is no cuBLAS to link
 * against on the build machines), or to a tiled kernel of our own. SOFTTREE_CUBLAS chooses,
 * once per process, as in sdt_cuda.cu: unset or empty, cuBLAS from the loader's path
 * (libcublas.so, .so.13, .so.12, .so.11) else the own kernel; "none", the own kernel; a path,
 * that cuBLAS, and when it cannot be loaded the library refuses to run (stk_probe and every
 * entry point fail with STK_ERR_UNAVAILABLE naming it). stk_build_info says which.
 *
 * Convolutions copy im2col in chunks of output positions (at most CHUNK_FLOATS floats) and
 * multiply; the input gradient is a convolution of dy dilated by the strides and padded, with
 * the filter turned by 180 degrees (as the CPU build); the filter gradient sums
 * im2col^T dy over the chunks. Pooling, sums and Adam are plain kernels. No atomics: every
 * sum is done in a fixed order, so results are deterministic on a given GPU and library.
 */
#include "stk_common.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 256
#define TILE 16
/* The most floats of im2col one chunk of a convolution copies (64 MB). */
#define CHUNK_FLOATS (16 << 20)

#define STR2(x) #x
#define STR(x) STR2(x)

#define CK(call)                                                                           \
  do {                                                                                     \
    cudaError_t e_ = (call);                                                               \
    if (e_ != cudaSuccess)                                                                 \
      return fail(e_ == cudaErrorMemoryAllocation ? STK_ERR_MEMORY : STK_ERR_DEVICE,       \
                  "CUDA call %s failed: %s", #call, cudaGetErrorString(e_));               \
  } while (0)
#define CK_LAUNCH(name)                                                                    \
  do {                                                                                     \
    cudaError_t e_ = cudaGetLastError();                                                   \
    if (e_ != cudaSuccess)                                                                 \
      return fail(STK_ERR_DEVICE, "Launching the %s kernel failed: %s", name,              \
                  cudaGetErrorString(e_));                                                 \
  } while (0)

static unsigned blocks_for(int64_t n) {
  int64_t b = (n + THREADS - 1) / THREADS;
  return (unsigned)(b < 1 ? 1 : b > 2147483647LL ? 2147483647LL : b);
}

/* ---------------------------------------------------------------- cuBLAS via dlopen */

typedef void* cublas_handle;
typedef int (*cublas_create_fn)(cublas_handle*);
typedef int (*cublas_sgemm_fn)(cublas_handle, int, int, int, int, int, const float*,
                                const float*, int, const float*, int, const float*, float*,
                                int);
typedef int (*cublas_get_property_fn)(int, int*);
enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1 };

static struct {
  void* lib;
  int refused;
  char gemm[768];
  char build_info[896];
  cublas_create_fn create;
  cublas_sgemm_fn sgemm;
  cublas_handle handle;
} g_cublas;
static pthread_once_t g_cublas_once = PTHREAD_ONCE_INIT;

static int open_cublas(const char* name, char* why, size_t cap) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    snprintf(why, cap, "%s", e ? e : "dlopen failed");
    return 0;
  }
  cublas_create_fn create = (cublas_create_fn)dlsym(h, "cublasCreate_v2");
  cublas_sgemm_fn sgemm = (cublas_sgemm_fn)dlsym(h, "cublasSgemm_v2");
  if (!create || !sgemm) {
    snprintf(why, cap, "%s lacks cublasCreate_v2 or cublasSgemm_v2", name);
    dlclose(h);
    return 0;
  }
  g_cublas.lib = h, g_cublas.create = create, g_cublas.sgemm = sgemm;
  int major = -1, minor = -1, patch = -1;
  cublas_get_property_fn prop = (cublas_get_property_fn)dlsym(h, "cublasGetProperty");
  if (prop) prop(0, &major), prop(1, &minor), prop(2, &patch);
  Dl_info info;
  const char* file = dladdr((void*)sgemm, &info) && info.dli_fname ? info.dli_fname : name;
  if (major >= 0)
    snprintf(g_cublas.gemm, sizeof g_cublas.gemm, "cuBLAS %d.%d.%d from %s", major, minor,
             patch, file);
  else
    snprintf(g_cublas.gemm, sizeof g_cublas.gemm, "cuBLAS from %s", file);
  return 1;
}

static void load_cublas_once(void) {
  const char* env = getenv("SOFTTREE_CUBLAS");
  char why[512] = "";
  if (env && env[0] && strcmp(env, "none") == 0) {
    snprintf(g_cublas.gemm, sizeof g_cublas.gemm, "own GEMM kernel (SOFTTREE_CUBLAS=none)");
  } else if (env && env[0]) {
    if (!open_cublas(env, why, sizeof why)) {
      g_cublas.refused = 1;
      snprintf(g_cublas.gemm, sizeof g_cublas.gemm,
               "SOFTTREE_CUBLAS=\"%s\" cannot be used (%s); set it to a working libcublas.so, "
               "to none for the own GEMM kernel, or unset it",
               env, why);
    }
  } else {
    const char* names[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12",
                           "libcublas.so.11"};
    int found = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
      found = open_cublas(names[i], why, sizeof why);
    if (!found)
      snprintf(g_cublas.gemm, sizeof g_cublas.gemm,
               "own GEMM kernel (no cuBLAS on the loader's path: libcublas.so, .so.13, .so.12 "
               "and .so.11 not found)");
  }
  snprintf(g_cublas.build_info, sizeof g_cublas.build_info,
           "cuda (nvcc " STR(__CUDACC_VER_MAJOR__) "." STR(__CUDACC_VER_MINOR__) ", GEMM: %s)",
           g_cublas.gemm);
}

static void load_cublas(void) { pthread_once(&g_cublas_once, load_cublas_once); }

static int32_t check_cublas(void) {
  load_cublas();
  return g_cublas.refused ? fail(STK_ERR_UNAVAILABLE, "%s", g_cublas.gemm) : STK_OK;
}

/* ---------------------------------------------------------------- build, device */

extern "C" int32_t stk_abi_version(void) { return STK_ABI_VERSION; }
extern "C" const char* stk_last_error(void) { return g_error; }

extern "C" const char* stk_build_info(void) {
  load_cublas();
  return g_cublas.build_info;
}

static int32_t check_device(void) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    void* drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!drv) return fail(STK_ERR_UNAVAILABLE, "no NVIDIA driver (libcuda.so.1 cannot be loaded)");
    dlclose(drv);
    return fail(STK_ERR_UNAVAILABLE, "no usable NVIDIA GPU: %s", cudaGetErrorString(e));
  }
  if (count < 1) return fail(STK_ERR_UNAVAILABLE, "no NVIDIA GPU is present");
  return STK_OK;
}

extern "C" int32_t stk_probe(char* info, int32_t cap) {
  g_error[0] = 0;
  STK_TRY(check_probe(info, cap));
  STK_TRY(check_cublas());
  STK_TRY(check_device());
  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  if (cap > 0)
    snprintf(info, (size_t)cap, "%s, sm_%d%d, GEMM: %s", prop.name, prop.major, prop.minor,
             g_cublas.gemm);
  return STK_OK;
}

extern "C" int32_t stk_set_threads(int32_t threads) {
  STK_TRY(check_threads(threads));
  g_error[0] = 0;
  return STK_OK;
}

extern "C" int32_t stk_threads(void) { return 1; }

/* ---------------------------------------------------------------- device buffers */

/* One call on the device at a time: the buffers below are shared. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
#define SLOTS 8
static struct {
  void* p[SLOTS];
  size_t cap[SLOTS];
} g_buf;

/* Device buffer `slot`, at least `bytes` long. */
static int32_t buffer(int slot, size_t bytes, float** out) {
  *out = NULL;
  if (bytes == 0) bytes = 4;
  if (g_buf.cap[slot] < bytes) {
    if (g_buf.p[slot]) cudaFree(g_buf.p[slot]);
    g_buf.p[slot] = NULL;
    g_buf.cap[slot] = 0;
    cudaError_t e = cudaMalloc(&g_buf.p[slot], bytes);
    if (e != cudaSuccess) {
      g_buf.p[slot] = NULL;
      return fail(STK_ERR_MEMORY, "Cannot allocate %zu bytes on the GPU: %s", bytes,
                  cudaGetErrorString(e));
    }
    g_buf.cap[slot] = bytes;
  }
  *out = (float*)g_buf.p[slot];
  return STK_OK;
}

/* A device copy of n host floats, in `slot`. */
static int32_t upload(int slot, const float* host, int64_t n, float** out) {
  STK_TRY(buffer(slot, (size_t)n * sizeof(float), out));
  if (n > 0) CK(cudaMemcpy(*out, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
  return STK_OK;
}

static int32_t download(float* host, const float* dev, int64_t n) {
  if (n > 0) CK(cudaMemcpy(host, dev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost));
  return STK_OK;
}

/* Runs `body` (returning a status) with the device lock held; clears the error on success. */
#define LOCKED(body)                         \
  do {                                       \
    STK_TRY(check_cublas());                 \
    STK_TRY(check_device());                 \
    pthread_mutex_lock(&g_lock);             \
    int32_t s_ = (body);                     \
    if (s_ == STK_OK) {                      \
      cudaError_t e_ = cudaDeviceSynchronize(); \
      if (e_ != cudaSuccess)                 \
        s_ = fail(STK_ERR_DEVICE, "A kernel failed: %s", cudaGetErrorString(e_)); \
    }                                        \
    pthread_mutex_unlock(&g_lock);           \
    if (s_ == STK_OK) g_error[0] = 0;        \
    return s_;                               \
  } while (0)

/* ---------------------------------------------------------------- GEMM kernels */

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
__device__ __forceinline__ float at(const float* x, int64_t ld, int trans, int64_t i,
                                    int64_t j) {
  return trans ? x[j * ld + i] : x[i * ld + j];
}

/* C = alpha op(A) op(B) + beta C in TILE x TILE tiles of shared memory; row tiles on
 * grid.x (with a loop: M can exceed the grid), column tiles on grid.y (with a loop). */
__global__ void gemm_tiled(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int ta, const float* B, int64_t ldb, int tb, float beta,
                           float* C, int64_t ldc) {
  __shared__ float as[TILE][TILE + 1], bs[TILE][TILE + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t r0 = (int64_t)blockIdx.x * TILE; r0 < M; r0 += (int64_t)gridDim.x * TILE) {
    for (int64_t c0 = (int64_t)blockIdx.y * TILE; c0 < N; c0 += (int64_t)gridDim.y * TILE) {
      const int64_t i = r0 + ty, j = c0 + tx;
      float acc = 0;
      for (int64_t k0 = 0; k0 < K; k0 += TILE) {
        as[ty][tx] = i < M && k0 + tx < K ? at(A, lda, ta, i, k0 + tx) : 0.f;
        bs[ty][tx] = k0 + ty < K && j < N ? at(B, ldb, tb, k0 + ty, j) : 0.f;
        __syncthreads();
#pragma unroll
        for (int p = 0; p < TILE; p++) acc += as[ty][p] * bs[p][tx];
        __syncthreads();
      }
      if (i < M && j < N) {
        float* c = C + i * ldc + j;
        *c = alpha * acc + (beta != 0.f ? beta * *c : 0.f);
      }
    }
  }
}

/* The plain product, one thread per element, double accumulator (stk_sgemm_naive). */
__global__ void gemm_naive(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int ta, const float* B, int64_t ldb, int tb, float beta,
                           float* C, int64_t ldc) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < M * N;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / N, j = e % N;
    double s = 0;
    for (int64_t p = 0; p < K; p++) s += (double)at(A, lda, ta, i, p) * at(B, ldb, tb, p, j);
    float* c = C + i * ldc + j;
    *c = (float)(alpha * s + (beta != 0.f ? (double)beta * *c : 0.0));
  }
}

/* C [M, N] (leading dimension ldc) += bias [N], then relu. */
__global__ void bias_act(float* C, int64_t M, int64_t N, int64_t ldc, const float* bias,
                         int relu) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < M * N;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / N, j = e % N;
    float v = C[i * ldc + j] + (bias ? bias[j] : 0.f);
    if (relu && v < 0) v = 0;
    C[i * ldc + j] = v;
  }
}

/* C = alpha op(A) op(B) + beta C on device pointers (row-major), by cuBLAS or the tiled
 * kernel. */
static int32_t gemm_dev(int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int64_t lda, int ta, const float* B, int64_t ldb, int tb, float beta,
                        float* C, int64_t ldc) {
  if (M == 0 || N == 0) return STK_OK;
  if (g_cublas.lib && M < 2147483647LL && N < 2147483647LL && K < 2147483647LL) {
    if (!g_cublas.handle && g_cublas.create(&g_cublas.handle) != 0) {
      return fail(STK_ERR_DEVICE, "cublasCreate failed");
    }
    /* Row-major C is column-major C^T = op(B)^T op(A)^T. */
    int st = g_cublas.sgemm(g_cublas.handle, tb ? CUBLAS_OP_T_ : CUBLAS_OP_N_,
                            ta ? CUBLAS_OP_T_ : CUBLAS_OP_N_, (int)N, (int)M, (int)K, &alpha, B,
                            (int)ldb, A, (int)lda, &beta, C, (int)ldc);
    if (st != 0) return fail(STK_ERR_DEVICE, "cublasSgemm failed with status %d", st);
    return STK_OK;
  }
  int64_t gx = (M + TILE - 1) / TILE, gy = (N + TILE - 1) / TILE;
  dim3 grid((unsigned)(gx > 65535 * 32 ? 65535 * 32 : gx), (unsigned)(gy > 65535 ? 65535 : gy));
  gemm_tiled<<<grid, dim3(TILE, TILE)>>>(M, N, K, alpha, A, lda, ta, B, ldb, tb, beta, C, ldc);
  CK_LAUNCH("gemm_tiled");
  return STK_OK;
}

/* ---------------------------------------------------------------- matrix products */

typedef int32_t (*gemm_host_fn)(float*, int32_t, int32_t, int32_t, int32_t, int32_t, float,
                                const float*, int32_t, const float*, int32_t, float, int32_t);

/* Uploads A, B and C, runs `kind` (0 blocked/cuBLAS, 1 naive, 2 cuBLAS only), downloads C. */
static int32_t sgemm_host(int kind, float* c, int32_t ta, int32_t tb, int32_t m, int32_t n,
                          int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                          int32_t ldb, float beta, int32_t ldc) {
  if (m == 0 || n == 0) return STK_OK;
  if (kind == 2 && !g_cublas.lib) return fail(STK_ERR_UNAVAILABLE, "stk_sgemm_blas: %s", g_cublas.gemm);
  const int64_t na = k > 0 ? (int64_t)(ta ? k : m) * lda : 0;
  const int64_t nb = k > 0 ? (int64_t)(tb ? n : k) * ldb : 0;
  const int64_t nc = (int64_t)(m - 1) * ldc + n;
  float *da = NULL, *db = NULL, *dc = NULL;
  STK_TRY(upload(0, a, na, &da));
  STK_TRY(upload(1, b, nb, &db));
  STK_TRY(upload(2, c, nc, &dc));
  if (kind == 1) {
    gemm_naive<<<blocks_for((int64_t)m * n), THREADS>>>(m, n, k, alpha, da, lda, ta, db, ldb, tb,
                                                        beta, dc, ldc);
    CK_LAUNCH("gemm_naive");
  } else if (k == 0) {
    gemm_naive<<<blocks_for((int64_t)m * n), THREADS>>>(m, n, 0, alpha, da, lda, ta, db, ldb, tb,
                                                        beta, dc, ldc);
    CK_LAUNCH("gemm_naive");
  } else {
    STK_TRY(gemm_dev(m, n, k, alpha, da, lda, ta, db, ldb, tb, beta, dc, ldc));
  }
  return download(c, dc, nc);
}

extern "C" int32_t stk_sgemm(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
                             int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                             int32_t ldb, float beta, int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                      ldc));
  LOCKED(sgemm_host(0, c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, ldc));
}

extern "C" int32_t stk_sgemm_naive(float* c, int32_t trans_a, int32_t trans_b, int32_t m,
                                   int32_t n, int32_t k, float alpha, const float* a,
                                   int32_t lda, const float* b, int32_t ldb, float beta,
                                   int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm_naive", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                      beta, ldc));
  LOCKED(sgemm_host(1, c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, ldc));
}

extern "C" int32_t stk_sgemm_blas(float* c, int32_t trans_a, int32_t trans_b, int32_t m,
                                  int32_t n, int32_t k, float alpha, const float* a,
                                  int32_t lda, const float* b, int32_t ldb, float beta,
                                  int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm_blas", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                      beta, ldc));
  LOCKED(sgemm_host(2, c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, ldc));
}

static int32_t matmul_dev(float* c, const float* a, const float* b, const float* bias,
                          int32_t batch, int32_t m, int32_t n, int32_t k, int64_t a_stride,
                          int64_t b_stride, int32_t ta, int32_t tb, int32_t activation) {
  const int64_t na = a_stride ? a_stride * (batch - 1) + (int64_t)m * k : (int64_t)m * k;
  const int64_t nb = b_stride ? b_stride * (batch - 1) + (int64_t)k * n : (int64_t)k * n;
  const int64_t nc = (int64_t)batch * m * n;
  float *da = NULL, *db = NULL, *dc = NULL, *dbias = NULL;
  STK_TRY(upload(0, a, na, &da));
  STK_TRY(upload(1, b, nb, &db));
  STK_TRY(buffer(2, (size_t)nc * sizeof(float), &dc));
  if (bias) STK_TRY(upload(3, bias, n, &dbias));
  for (int64_t i = 0; i < batch; i++) {
    float* ci = dc + i * (int64_t)m * n;
    STK_TRY(gemm_dev(m, n, k, 1.f, da + i * a_stride, ta ? m : k, ta, db + i * b_stride,
                     tb ? k : n, tb, 0.f, ci, n));
    if (bias || activation == STK_ACT_RELU) {
      bias_act<<<blocks_for((int64_t)m * n), THREADS>>>(ci, m, n, n, dbias,
                                                        activation == STK_ACT_RELU);
      CK_LAUNCH("bias_act");
    }
  }
  return download(c, dc, nc);
}

extern "C" int32_t stk_matmul(float* c, const float* a, const float* b, const float* bias,
                              int32_t batch, int32_t m, int32_t n, int32_t k, int64_t a_stride,
                              int64_t b_stride, int32_t trans_a, int32_t trans_b,
                              int32_t activation) {
  STK_TRY(check_matmul(c, a, b, batch, m, n, k, a_stride, b_stride, trans_a, trans_b,
                       activation));
  LOCKED(matmul_dev(c, a, b, bias, batch, m, n, k, a_stride, b_stride, trans_a, trans_b,
                    activation));
}

/* ---------------------------------------------------------------- convolutions */

/* The geometry on the device, as 64-bit values. */
struct geo {
  int64_t B, H, W, C, OH, OW, CO, KH, KW, SH, SW, PT, PL;
};

static geo geo_of(const stk_conv* g) {
  geo d = {g->batch,    g->in_h,     g->in_w,     g->in_c,     g->out_h,
           g->out_w,    g->out_c,    g->filter_h, g->filter_w, g->stride_h,
           g->stride_w, g->pad_top,  g->pad_left};
  return d;
}

/* cols [rows, KH KW C]: row q is output position m0 + q, column (kh, kw, c) its tap. */
__global__ void im2col(float* cols, const float* x, geo g, int64_t m0, int64_t rows) {
  const int64_t KK = g.KH * g.KW * g.C;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * KK;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = e / KK, t = e % KK;
    const int64_t m = m0 + q, b = m / (g.OH * g.OW), oh = (m / g.OW) % g.OH, ow = m % g.OW;
    const int64_t kh = t / (g.KW * g.C), kw = (t / g.C) % g.KW, c = t % g.C;
    const int64_t ih = oh * g.SH + kh - g.PT, iw = ow * g.SW + kw - g.PL;
    cols[e] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x[((b * g.H + ih) * g.W + iw) * g.C + c]
                                                         : 0.f;
  }
}

/* Rows of im2col per chunk. */
static int64_t chunk_of(const geo& g) {
  int64_t KK = g.KH * g.KW * g.C, M = g.B * g.OH * g.OW;
  int64_t rows = CHUNK_FLOATS / (KK > 0 ? KK : 1);
  if (rows < 1) rows = 1;
  return rows < M ? rows : M;
}

/* y = act(conv(x, filter) + bias) on device pointers; cols is scratch slot 5. */
static int32_t conv_dev(float* y, const float* x, const float* filter, const float* bias,
                        const geo& g, int relu) {
  const int64_t KK = g.KH * g.KW * g.C, M = g.B * g.OH * g.OW, rows = chunk_of(g);
  float* cols;
  STK_TRY(buffer(5, (size_t)(rows * KK) * sizeof(float), &cols));
  for (int64_t m0 = 0; m0 < M; m0 += rows) {
    const int64_t n = M - m0 < rows ? M - m0 : rows;
    im2col<<<blocks_for(n * KK), THREADS>>>(cols, x, g, m0, n);
    CK_LAUNCH("im2col");
    STK_TRY(gemm_dev(n, g.CO, KK, 1.f, cols, KK, 0, filter, g.CO, 0, 0.f, y + m0 * g.CO, g.CO));
    if (bias || relu) {
      bias_act<<<blocks_for(n * g.CO), THREADS>>>(y + m0 * g.CO, n, g.CO, g.CO, bias, relu);
      CK_LAUNCH("bias_act");
    }
  }
  return STK_OK;
}

static int32_t conv2d_host(float* y, const float* x, const float* filter, const float* bias,
                           const stk_conv* gc, int32_t activation) {
  const geo g = geo_of(gc);
  float *dx = NULL, *df = NULL, *dy = NULL, *db = NULL;
  STK_TRY(upload(0, x, g.B * g.H * g.W * g.C, &dx));
  STK_TRY(upload(1, filter, g.KH * g.KW * g.C * g.CO, &df));
  STK_TRY(buffer(2, (size_t)(g.B * g.OH * g.OW * g.CO) * sizeof(float), &dy));
  if (bias) STK_TRY(upload(3, bias, g.CO, &db));
  STK_TRY(conv_dev(dy, dx, df, db, g, activation == STK_ACT_RELU));
  return download(y, dy, g.B * g.OH * g.OW * g.CO);
}

extern "C" int32_t stk_conv2d(float* y, const float* x, const float* filter, const float* bias,
                              const stk_conv* g, int32_t activation) {
  const char* fn = "stk_conv2d";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_activation(fn, activation));
  STK_TRY(check_ptr(fn, "y", y));
  STK_TRY(check_ptr(fn, "x", x));
  STK_TRY(check_ptr(fn, "filter", filter));
  LOCKED(conv2d_host(y, x, filter, bias, g, activation));
}

/* dq [B, Hq, Wq, CO]: dy dilated by the strides, placed at (r0, c0); zeros elsewhere. */
__global__ void dilate(float* dq, const float* dy, geo g, int64_t Hq, int64_t Wq, int64_t r0,
                       int64_t c0) {
  const int64_t n = g.B * Hq * Wq * g.CO;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t co = e % g.CO, p = e / g.CO, w = p % Wq, h = (p / Wq) % Hq, b = p / (Wq * Hq);
    const int64_t dh = h - r0, dw = w - c0;
    float v = 0.f;
    if (dh >= 0 && dw >= 0 && dh % g.SH == 0 && dw % g.SW == 0 && dh / g.SH < g.OH &&
        dw / g.SW < g.OW)
      v = dy[((b * g.OH + dh / g.SH) * g.OW + dw / g.SW) * g.CO + co];
    dq[e] = v;
  }
}

/* ft [KH, KW, CO, C] = filter [KH-1-kh, KW-1-kw, c, co]: the filter turned by 180 degrees. */
__global__ void turn(float* ft, const float* f, geo g) {
  const int64_t n = g.KH * g.KW * g.C * g.CO;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = e % g.C, co = (e / g.C) % g.CO, kw = (e / (g.C * g.CO)) % g.KW;
    const int64_t kh = e / (g.C * g.CO * g.KW);
    ft[e] = f[(((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C + c) * g.CO + co];
  }
}

static int32_t backprop_input_host(float* dx, const float* dy, const float* filter,
                                   const stk_conv* gc) {
  const geo g = geo_of(gc);
  const int64_t Hq = g.H + g.KH - 1, Wq = g.W + g.KW - 1;
  float *ddy = NULL, *df = NULL, *dq = NULL, *ft = NULL, *ddx = NULL;
  STK_TRY(upload(0, dy, g.B * g.OH * g.OW * g.CO, &ddy));
  STK_TRY(upload(1, filter, g.KH * g.KW * g.C * g.CO, &df));
  STK_TRY(buffer(2, (size_t)(g.B * Hq * Wq * g.CO) * sizeof(float), &dq));
  STK_TRY(buffer(3, (size_t)(g.KH * g.KW * g.C * g.CO) * sizeof(float), &ft));
  STK_TRY(buffer(4, (size_t)(g.B * g.H * g.W * g.C) * sizeof(float), &ddx));
  dilate<<<blocks_for(g.B * Hq * Wq * g.CO), THREADS>>>(dq, ddy, g, Hq, Wq, g.KH - 1 - g.PT,
                                                         g.KW - 1 - g.PL);
  CK_LAUNCH("dilate");
  turn<<<blocks_for(g.KH * g.KW * g.C * g.CO), THREADS>>>(ft, df, g);
  CK_LAUNCH("turn");
  /* A stride-1, unpadded convolution of dq [B, Hq, Wq, CO] with ft, out [B, H, W, C]. */
  geo t = {g.B, Hq, Wq, g.CO, g.H, g.W, g.C, g.KH, g.KW, 1, 1, 0, 0};
  STK_TRY(conv_dev(ddx, dq, ft, NULL, t, 0));
  return download(dx, ddx, g.B * g.H * g.W * g.C);
}

extern "C" int32_t stk_conv2d_backprop_input(float* dx, const float* dy, const float* filter,
                                             const stk_conv* g) {
  const char* fn = "stk_conv2d_backprop_input";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_ptr(fn, "dx", dx));
  STK_TRY(check_ptr(fn, "dy", dy));
  STK_TRY(check_ptr(fn, "filter", filter));
  LOCKED(backprop_input_host(dx, dy, filter, g));
}

static int32_t backprop_filter_host(float* dfilter, const float* x, const float* dy,
                                    const stk_conv* gc) {
  const geo g = geo_of(gc);
  const int64_t KK = g.KH * g.KW * g.C, M = g.B * g.OH * g.OW, rows = chunk_of(g);
  float *dx = NULL, *ddy = NULL, *dw = NULL, *cols = NULL;
  STK_TRY(upload(0, x, g.B * g.H * g.W * g.C, &dx));
  STK_TRY(upload(1, dy, M * g.CO, &ddy));
  STK_TRY(buffer(2, (size_t)(KK * g.CO) * sizeof(float), &dw));
  STK_TRY(buffer(5, (size_t)(rows * KK) * sizeof(float), &cols));
  for (int64_t m0 = 0; m0 < M; m0 += rows) {
    const int64_t n = M - m0 < rows ? M - m0 : rows;
    im2col<<<blocks_for(n * KK), THREADS>>>(cols, dx, g, m0, n);
    CK_LAUNCH("im2col");
    /* dW [KK, CO] (+)= cols^T [KK, n] dy [n, CO] */
    STK_TRY(gemm_dev(KK, g.CO, n, 1.f, cols, KK, 1, ddy + m0 * g.CO, g.CO, 0, m0 ? 1.f : 0.f, dw,
                     g.CO));
  }
  return download(dfilter, dw, KK * g.CO);
}

extern "C" int32_t stk_conv2d_backprop_filter(float* dfilter, const float* x, const float* dy,
                                              const stk_conv* g) {
  const char* fn = "stk_conv2d_backprop_filter";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_ptr(fn, "dfilter", dfilter));
  STK_TRY(check_ptr(fn, "x", x));
  STK_TRY(check_ptr(fn, "dy", dy));
  LOCKED(backprop_filter_host(dfilter, x, dy, g));
}

/* ---------------------------------------------------------------- pooling */

/* The flat index in x of the first (row order) largest value above -inf of window
 * (b, oh, ow) in channel c, or -1 (NaN is passed over, as the CPU backend does). */
__device__ int64_t window_max(const float* x, const geo& g, int64_t b, int64_t oh, int64_t ow,
                              int64_t c, float* value) {
  const int64_t h0 = oh * g.SH - g.PT, w0 = ow * g.SW - g.PL;
  float m = -INFINITY;
  int64_t at = -1;
  for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.KH && ih < g.H; ih++) {
    for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.KW && iw < g.W; iw++) {
      const int64_t i = ((b * g.H + ih) * g.W + iw) * g.C + c;
      if (x[i] > m) m = x[i], at = i;
    }
  }
  *value = m;
  return at;
}

__global__ void max_pool_k(float* y, const float* x, geo g) {
  const int64_t n = g.B * g.OH * g.OW * g.C;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = e % g.C, ow = (e / g.C) % g.OW, oh = (e / (g.C * g.OW)) % g.OH;
    const int64_t b = e / (g.C * g.OW * g.OH);
    float m;
    window_max(x, g, b, oh, ow, c, &m);
    y[e] = m;
  }
}

/* dx[i] = sum of dy over the windows whose first largest value is x[i], in the windows'
 * row order (the order the CPU build adds them in). */
__global__ void max_pool_grad_k(float* dx, const float* dy, const float* x, geo g) {
  const int64_t n = g.B * g.H * g.W * g.C;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = e % g.C, iw = (e / g.C) % g.W, ih = (e / (g.C * g.W)) % g.H;
    const int64_t b = e / (g.C * g.W * g.H);
    /* Windows (oh, ow) holding (ih, iw): oh SH - PT <= ih < oh SH - PT + KH. */
    int64_t oh0 = (ih + g.PT - g.KH + 1 + g.SH - 1) / g.SH, oh1 = (ih + g.PT) / g.SH;
    int64_t ow0 = (iw + g.PL - g.KW + 1 + g.SW - 1) / g.SW, ow1 = (iw + g.PL) / g.SW;
    if (ih + g.PT - g.KH + 1 < 0) oh0 = 0;
    if (iw + g.PL - g.KW + 1 < 0) ow0 = 0;
    float s = 0.f;
    for (int64_t oh = oh0; oh <= oh1 && oh < g.OH; oh++) {
      for (int64_t ow = ow0; ow <= ow1 && ow < g.OW; ow++) {
        float m;
        if (window_max(x, g, b, oh, ow, c, &m) == e) s += dy[((b * g.OH + oh) * g.OW + ow) * g.C + c];
      }
    }
    dx[e] = s;
  }
}

static int32_t pool_host(float* out, const float* dy, const float* x, const stk_conv* gc,
                         int grad) {
  const geo g = geo_of(gc);
  const int64_t nx = g.B * g.H * g.W * g.C, ny = g.B * g.OH * g.OW * g.C;
  float *dx_ = NULL, *dy_ = NULL, *o = NULL;
  STK_TRY(upload(0, x, nx, &dx_));
  if (grad) {
    STK_TRY(upload(1, dy, ny, &dy_));
    STK_TRY(buffer(2, (size_t)nx * sizeof(float), &o));
    max_pool_grad_k<<<blocks_for(nx), THREADS>>>(o, dy_, dx_, g);
    CK_LAUNCH("max_pool_grad");
    return download(out, o, nx);
  }
  STK_TRY(buffer(2, (size_t)ny * sizeof(float), &o));
  max_pool_k<<<blocks_for(ny), THREADS>>>(o, dx_, g);
  CK_LAUNCH("max_pool");
  return download(out, o, ny);
}

extern "C" int32_t stk_max_pool(float* y, const float* x, const stk_conv* g) {
  const char* fn = "stk_max_pool";
  STK_TRY(check_geometry(fn, g, 1));
  STK_TRY(check_ptr(fn, "y", y));
  STK_TRY(check_ptr(fn, "x", x));
  LOCKED(pool_host(y, NULL, x, g, 0));
}

extern "C" int32_t stk_max_pool_grad(float* dx, const float* dy, const float* x,
                                     const stk_conv* g) {
  const char* fn = "stk_max_pool_grad";
  STK_TRY(check_geometry(fn, g, 1));
  STK_TRY(check_ptr(fn, "dx", dx));
  STK_TRY(check_ptr(fn, "dy", dy));
  STK_TRY(check_ptr(fn, "x", x));
  LOCKED(pool_host(dx, dy, x, g, 1));
}

/* ---------------------------------------------------------------- dropout, reductions, optimizer */

__global__ void dropout_k(float* mask, uint32_t state, int64_t n, uint64_t threshold,
                          float keep) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const uint32_t r = mulberry32(state + (uint32_t)(i + 1) * 0x6d2b79f5u);
    mask[i] = (uint64_t)r >= threshold ? keep : 0.f;
  }
}

static int32_t dropout_host(float* mask, uint32_t state, int64_t n, double rate) {
  float* dm = NULL;
  STK_TRY(buffer(0, (size_t)n * sizeof(float), &dm));
  dropout_k<<<blocks_for(n), THREADS>>>(dm, state, n, dropout_threshold(rate),
                                        (float)(1.0 / (1.0 - rate)));
  CK_LAUNCH("dropout");
  return download(mask, dm, n);
}

extern "C" int32_t stk_dropout_mask(float* mask, uint32_t state, int64_t n, double rate) {
  STK_TRY(check_dropout(mask, n, rate));
  if (n == 0) return STK_OK;
  LOCKED(dropout_host(mask, state, n, rate));
}

/* out[c] = sum over rows of x[r, c]: one block per column, a fixed-order tree in double. */
__global__ void sum_rows_k(float* out, const float* x, int64_t rows, int64_t cols) {
  __shared__ double part[THREADS];
  for (int64_t c = blockIdx.x; c < cols; c += gridDim.x) {
    double s = 0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) s += x[r * cols + c];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = THREADS / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[c] = (float)part[0];
    __syncthreads();
  }
}

__global__ void relu_mask_k(float* dz, const float* dy, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    dz[i] = y[i] > 0 ? dy[i] : 0.f;
}

static int32_t relu_bias_grad_host(float* dz, float* dbias, const float* dy, const float* y,
                                   int64_t rows, int32_t cols) {
  const int64_t n = rows * cols;
  float *ddy = NULL, *dyv = NULL, *ddz = NULL, *db = NULL;
  STK_TRY(upload(0, dy, n, &ddy));
  STK_TRY(upload(1, y, n, &dyv));
  STK_TRY(buffer(2, (size_t)n * sizeof(float), &ddz));
  STK_TRY(buffer(3, (size_t)cols * sizeof(float), &db));
  relu_mask_k<<<blocks_for(n), THREADS>>>(ddz, ddy, dyv, n);
  CK_LAUNCH("relu_mask");
  sum_rows_k<<<cols < 65535 ? cols : 65535, THREADS>>>(db, ddz, rows, cols);
  CK_LAUNCH("sum_rows");
  STK_TRY(download(dz, ddz, n));
  return download(dbias, db, cols);
}

extern "C" int32_t stk_relu_bias_grad(float* dz, float* dbias, const float* dy, const float* y,
                                      int64_t rows, int32_t cols) {
  STK_TRY(check_relu_bias_grad(dz, dbias, dy, y, rows, cols));
  LOCKED(relu_bias_grad_host(dz, dbias, dy, y, rows, cols));
}

/* On the host: a batch's logits are a few hundred values, a launch would cost more. A
 * refused SOFTTREE_CUBLAS is refused here too, as by every other entry point. */
extern "C" int32_t stk_softmax_xent(float* loss, float* dlogits, const float* logits,
                                    const int32_t* labels, int32_t rows, int32_t classes) {
  STK_TRY(check_softmax_xent(loss, dlogits, logits, labels, rows, classes));
  STK_TRY(check_cublas());
  softmax_xent(loss, dlogits, logits, labels, rows, classes);
  g_error[0] = 0;
  return STK_OK;
}

static int32_t sum_rows_host(float* out, const float* x, int64_t rows, int32_t cols) {
  float *dx = NULL, *dout = NULL;
  STK_TRY(upload(0, x, rows * cols, &dx));
  STK_TRY(buffer(1, (size_t)cols * sizeof(float), &dout));
  sum_rows_k<<<cols < 65535 ? cols : 65535, THREADS>>>(dout, dx, rows, cols);
  CK_LAUNCH("sum_rows");
  return download(out, dout, cols);
}

extern "C" int32_t stk_sum_rows(float* out, const float* x, int64_t rows, int32_t cols) {
  STK_TRY(check_sum_rows(out, x, rows, cols));
  LOCKED(sum_rows_host(out, x, rows, cols));
}

__global__ void adam_k(float* w_out, float* m, float* v, const float* w, const float* g,
                       int64_t n, float b1, float b2, float a1, float a2, float lr, float c1,
                       float c2, float eps) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    /* tf.train.adam's operations in its order, each rounded (no FMA: __fmul_rn/__fadd_rn). */
    const float mi = __fadd_rn(__fmul_rn(m[i], b1), __fmul_rn(g[i], a1));
    const float vi = __fadd_rn(__fmul_rn(v[i], b2), __fmul_rn(__fmul_rn(g[i], g[i]), a2));
    m[i] = mi;
    v[i] = vi;
    w_out[i] = __fsub_rn(w[i], __fmul_rn(lr, __fdiv_rn(__fdiv_rn(mi, c1),
                                                       __fadd_rn(__fsqrt_rn(__fdiv_rn(vi, c2)), eps))));
  }
}

static int32_t adam_host(float* w_out, float* m, float* v, const float* w, const float* g,
                         int64_t n, double b1, double b2, double lr, double c1, double c2,
                         double eps) {
  float *dm = NULL, *dv = NULL, *dw = NULL, *dg = NULL, *dout = NULL;
  STK_TRY(upload(0, m, n, &dm));
  STK_TRY(upload(1, v, n, &dv));
  STK_TRY(upload(2, w, n, &dw));
  STK_TRY(upload(3, g, n, &dg));
  STK_TRY(buffer(4, (size_t)n * sizeof(float), &dout));
  adam_k<<<blocks_for(n), THREADS>>>(dout, dm, dv, dw, dg, n, (float)b1, (float)b2,
                                     (float)(1 - b1), (float)(1 - b2), (float)lr, (float)c1,
                                     (float)c2, (float)eps);
  CK_LAUNCH("adam");
  STK_TRY(download(m, dm, n));
  STK_TRY(download(v, dv, n));
  return download(w_out, dout, n);
}

extern "C" int32_t stk_adam(float* w_out, float* m, float* v, const float* w, const float* g,
                            int64_t n, double beta1, double beta2, double lr, double c1,
                            double c2, double eps) {
  STK_TRY(check_adam(w_out, m, v, w, g, n, beta1, beta2, lr, c1, c2, eps));
  if (n == 0) return STK_OK;
  LOCKED(adam_host(w_out, m, v, w, g, n, beta1, beta2, lr, c1, c2, eps));
}
