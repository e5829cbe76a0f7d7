/*
 * sdt_cuda.cu — the CUDA build of the ABI in sdt.h.
 *
 * Computes exactly the reference maths of lib/backends/types.ts (restated in sdt.h) and
 * must agree with the tfjs backend (lib/backends/tfjs.ts) and with the CPU build
 * (sdt_cpu.c) within the tolerances of tests/backends_cuda_test.ts.
 *
 * Layout on the device: parameters w [I, F], b [I], phi [L, K], beta [1], their Adam
 * moments and the penalty's averages are resident, and so is the training set (x [N, F],
 * targets [N, K], dense). A call to sdt_train_samples uploads the order once and then only
 * queues kernels on the context's stream: no host round trip per step (the Adam bias
 * corrections are computed on the host, which counts the steps); the loss and penalty sums
 * accumulate on the device and come back once at the end.
 *
 * The two large products, x.w^T [B, I] and da^T x [I, F], go to cuBLAS, loaded at run time
 * with dlopen (there is no cuBLAS to link against on the build machines), or to a plain tiled
 * kernel of our own. SOFTTREE_CUBLAS chooses, once per process:
 *   unset or empty   cuBLAS from the loader's path (libcublas.so, .so.13, .so.12, .so.11),
 *                    else the own kernel;
 *   none             the own kernel;
 *   a path           that cuBLAS; when it cannot be loaded the library refuses to run
 *                    (sdt_probe and sdt_create fail with SDT_ERR_UNAVAILABLE naming the path)
 *                    instead of using another product.
 * sdt_build_info and sdt_probe say which product is in use and why. The context's stream is
 * a blocking one, so that the plain (default-stream) copies of the setters stay ordered with
 * the queued kernels. Everything else is our own kernels: routing, leaf softmax, loss,
 * penalty, the backward pass through the tree, reductions and Adam. Every sum is done in a
 * fixed order (no atomics), so a run is deterministic on a given GPU and library. Every
 * launch is checked (a refused launch is SDT_ERR_DEVICE naming the kernel); the argument
 * checks are sdt_common.h's, the same as the CPU build's.
 */
#include "sdt_common.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
#define THREADS 256

/* ---------------------------------------------------------------- errors */


#define CK(call)                                                                           \
  do {                                                                                     \
    cudaError_t e_ = (call);                                                               \
    if (e_ != cudaSuccess)                                                                 \
      return fail(e_ == cudaErrorMemoryAllocation ? SDT_ERR_MEMORY : SDT_ERR_DEVICE,       \
                  "CUDA call %s failed: %s", #call, cudaGetErrorString(e_));               \
  } while (0)
/* After a launch: SDT_ERR_DEVICE naming the kernel when it was refused (a bad shape, too
 * many resources) or an earlier asynchronous error surfaced. */
#define CK_LAUNCH(name)                                                                    \
  do {                                                                                     \
    cudaError_t e_ = cudaGetLastError();                                                   \
    if (e_ != cudaSuccess)                                                                 \
      return fail(SDT_ERR_DEVICE, "Launching the %s kernel failed: %s", name,              \
                  cudaGetErrorString(e_));                                                 \
  } while (0)

/* ---------------------------------------------------------------- cuBLAS via dlopen */

#define STR2(x) #x
#define STR(x) STR2(x)

typedef void* cublas_handle;
typedef int (*cublas_create_fn)(cublas_handle*);
typedef int (*cublas_destroy_fn)(cublas_handle);
typedef int (*cublas_set_stream_fn)(cublas_handle, cudaStream_t);
typedef int (*cublas_sgemm_fn)(cublas_handle, int, int, int, int, int, const float*,
                                const float*, int, const float*, int, const float*, float*,
                                int);
typedef int (*cublas_get_property_fn)(int, int*);
enum { CUBLAS_OP_N_ = 0, CUBLAS_OP_T_ = 1 };

/* The matrix product in use, decided once per process (see the header comment). */
static struct {
  void* lib;     /* the cuBLAS in use, or null: the own kernel */
  int refused;   /* SOFTTREE_CUBLAS names a library that cannot be used */
  char gemm[768]; /* which product and why, for sdt_build_info, sdt_probe and errors */
  char build_info[896];
  cublas_create_fn create;
  cublas_destroy_fn destroy;
  cublas_set_stream_fn set_stream;
  cublas_sgemm_fn sgemm;
} g_cublas;
static pthread_once_t g_cublas_once = PTHREAD_ONCE_INIT;

/* Open `name` as cuBLAS: 1 with g_cublas filled, else 0 with why in `why`. */
static int open_cublas(const char* name, char* why, size_t cap) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    snprintf(why, cap, "%s", e ? e : "dlopen failed");
    return 0;
  }
  cublas_create_fn create = (cublas_create_fn)dlsym(h, "cublasCreate_v2");
  cublas_destroy_fn destroy = (cublas_destroy_fn)dlsym(h, "cublasDestroy_v2");
  cublas_set_stream_fn set_stream = (cublas_set_stream_fn)dlsym(h, "cublasSetStream_v2");
  cublas_sgemm_fn sgemm = (cublas_sgemm_fn)dlsym(h, "cublasSgemm_v2");
  if (!create || !destroy || !set_stream || !sgemm) {
    snprintf(why, cap, "%s lacks cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2 or "
             "cublasSgemm_v2", name);
    dlclose(h);
    return 0;
  }
  g_cublas.lib = h, g_cublas.create = create, g_cublas.destroy = destroy;
  g_cublas.set_stream = set_stream, g_cublas.sgemm = sgemm;
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

/* SDT_ERR_UNAVAILABLE when SOFTTREE_CUBLAS names a cuBLAS that cannot be used. */
static int32_t check_cublas(void) {
  load_cublas();
  return g_cublas.refused ? fail(SDT_ERR_UNAVAILABLE, "%s", g_cublas.gemm) : SDT_OK;
}

/* ---------------------------------------------------------------- context */

struct sdt_ctx {
  int D, F, K, I, L, loss, learn_beta;
  double strength, decay, window, lr;
  cudaStream_t stream;
  cublas_handle blas;
  int64_t t, steps;
  /* parameters, Adam moments, gradients: w [I, F], b [I], phi [L, K], beta [1] */
  float *w, *b, *phi, *beta;
  float *mw, *vw, *mb, *vb, *mphi, *vphi, *mbeta, *vbeta;
  float *gw, *gb, *gphi;
  double* gbeta; /* [1] d objective / d beta, a double as in the CPU build */
  float *num, *den, *cnum, *cden; /* [I] */
  float *logq, *q;                /* [L, K] */
  int32_t* leaf_arg;              /* [L] */
  double* acc;                    /* [4]: loss sum, penalty sum, batch loss, batch penalty */
  /* resident training set */
  int32_t n;
  float *X, *T;
  int32_t* order;
  int64_t order_cap;
  /* batch scratch, capacity cap rows */
  int cap;
  float *xb, *tb, *a, *p, *P, *dP, *dpl, *v, *mix, *da;
  double *lossv, *dbetav;
  int32_t *pred1, *pred2, *maxleaf;
};

static void dfree(void* p) {
  if (p) cudaFree(p);
}

static int32_t dalloc(void* out, size_t bytes) {
  void** o = (void**)out;
  *o = NULL;
  cudaError_t e = cudaMalloc(o, bytes ? bytes : 4);
  if (e != cudaSuccess)
    return fail(SDT_ERR_MEMORY, "Cannot allocate %zu bytes on the GPU: %s", bytes,
                cudaGetErrorString(e));
  return cudaMemset(*o, 0, bytes ? bytes : 4) == cudaSuccess
             ? SDT_OK
             : fail(SDT_ERR_DEVICE, "cudaMemset failed");
}

extern "C" int32_t sdt_abi_version(void) { return SDT_ABI_VERSION; }
extern "C" const char* sdt_last_error(void) { return g_error; }

extern "C" const char* sdt_build_info(void) {
  load_cublas();
  return g_cublas.build_info;
}

static int32_t check_device(void) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    void* drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!drv) return fail(SDT_ERR_UNAVAILABLE, "no NVIDIA driver (libcuda.so.1 cannot be loaded)");
    dlclose(drv);
    return fail(SDT_ERR_UNAVAILABLE, "no usable NVIDIA GPU: %s", cudaGetErrorString(e));
  }
  if (count < 1) return fail(SDT_ERR_UNAVAILABLE, "no NVIDIA GPU is present");
  return SDT_OK;
}

extern "C" int32_t sdt_probe(char* info, int32_t cap) {
  g_error[0] = 0;
  SDT_TRY(check_probe(info, cap));
  SDT_TRY(check_cublas()); /* a refused SOFTTREE_CUBLAS is said before any device question */
  SDT_TRY(check_device());
  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  if (cap > 0)
    snprintf(info, (size_t)cap, "%s, sm_%d%d, GEMM: %s", prop.name, prop.major, prop.minor,
             g_cublas.gemm);
  return SDT_OK;
}

extern "C" void sdt_destroy(sdt_ctx* c) {
  if (!c) return;
  if (c->stream) cudaStreamSynchronize(c->stream);
  void* ps[] = {c->w,    c->b,     c->phi,  c->beta, c->mw,   c->vw,     c->mb,   c->vb,
                c->mphi, c->vphi,  c->mbeta, c->vbeta, c->gw, c->gb,     c->gphi, c->gbeta,
                c->num,  c->den,   c->cnum, c->cden, c->logq, c->q,      c->leaf_arg,
                c->acc,  c->X,     c->T,    c->order, c->xb,  c->tb,     c->a,    c->p,
                c->P,    c->dP,    c->dpl,  c->v,    c->mix,  c->da,     c->lossv, c->dbetav,
                c->pred1, c->pred2, c->maxleaf};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) dfree(ps[i]);
  if (c->blas && g_cublas.destroy) g_cublas.destroy(c->blas);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
}

extern "C" int32_t sdt_create(sdt_ctx** out, int32_t depth, int32_t features, int32_t classes,
                              int32_t loss_kind, int32_t learn_beta, double inv_temp,
                              double penalty_strength, double penalty_decay, double ema_window,
                              double learning_rate, int32_t threads) {
  (void)threads;
  if (out) *out = NULL;
  SDT_TRY(check_create(out, depth, features, classes, loss_kind, learn_beta, inv_temp,
                       penalty_strength, penalty_decay, ema_window, learning_rate, threads));
  SDT_TRY(check_cublas());
  SDT_TRY(check_device());
  sdt_ctx* c = (sdt_ctx*)calloc(1, sizeof *c);
  if (!c) return fail(SDT_ERR_MEMORY, "Cannot allocate a tree context");
  c->D = depth, c->F = features, c->K = classes, c->L = 1 << depth, c->I = c->L - 1;
  c->loss = loss_kind, c->learn_beta = learn_beta != 0;
  c->strength = penalty_strength, c->decay = penalty_decay, c->window = ema_window;
  c->lr = learning_rate;
  int32_t st = SDT_OK;
  size_t IF = (size_t)c->I * c->F * 4, I4 = (size_t)c->I * 4, LK = (size_t)c->L * c->K * 4;
#define AL(ptr, bytes) \
  if (st == SDT_OK) st = dalloc(&(ptr), (bytes))
  AL(c->w, IF); AL(c->mw, IF); AL(c->vw, IF); AL(c->gw, IF);
  AL(c->b, I4); AL(c->mb, I4); AL(c->vb, I4); AL(c->gb, I4);
  AL(c->phi, LK); AL(c->mphi, LK); AL(c->vphi, LK); AL(c->gphi, LK);
  AL(c->logq, LK); AL(c->q, LK); AL(c->leaf_arg, (size_t)c->L * 4);
  AL(c->beta, 4); AL(c->mbeta, 4); AL(c->vbeta, 4); AL(c->gbeta, sizeof(double));
  AL(c->num, I4); AL(c->den, I4); AL(c->cnum, I4); AL(c->cden, I4);
  AL(c->acc, 4 * sizeof(double));
#undef AL
  if (st == SDT_OK && cudaStreamCreate(&c->stream) != cudaSuccess)
    st = fail(SDT_ERR_DEVICE, "Cannot create a CUDA stream");
  if (st == SDT_OK) {
    float beta = (float)inv_temp;
    if (cudaMemcpy(c->beta, &beta, 4, cudaMemcpyHostToDevice) != cudaSuccess)
      st = fail(SDT_ERR_DEVICE, "Cannot set beta");
  }
  if (st == SDT_OK && g_cublas.lib) {
    /* No silent switch to the own kernel: a cuBLAS that loads but will not start is an error. */
    int r = g_cublas.create(&c->blas);
    if (r == 0) r = g_cublas.set_stream(c->blas, c->stream);
    if (r != 0)
      st = fail(SDT_ERR_DEVICE,
                "%s would not start (cuBLAS status %d); SOFTTREE_CUBLAS=none uses the own GEMM "
                "kernel instead",
                g_cublas.gemm, r);
  }
  if (st != SDT_OK) {
    sdt_destroy(c);
    return st;
  }
  *out = c;
  return SDT_OK;
}

static int32_t ensure_cap(sdt_ctx* c, int rows) {
  if (rows <= c->cap) return SDT_OK;
  int64_t grown = 2 * (int64_t)c->cap; /* doubling, in 64-bit: never past INT32_MAX rows */
  int cap = rows > grown ? rows : (int)(grown > INT32_MAX ? INT32_MAX : grown);
  if (cap < 64) cap = 64;
  float** fs[] = {&c->xb, &c->tb, &c->a, &c->p, &c->P, &c->dP, &c->dpl, &c->v, &c->mix, &c->da};
  for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) dfree(*fs[i]), *fs[i] = NULL;
  dfree(c->lossv), dfree(c->dbetav), dfree(c->pred1), dfree(c->pred2), dfree(c->maxleaf);
  c->lossv = c->dbetav = NULL;
  c->pred1 = c->pred2 = c->maxleaf = NULL;
  c->cap = 0;
  size_t C = cap, F = c->F, K = c->K, I = c->I, L = c->L;
  SDT_TRY(dalloc(&c->xb, C * F * 4));
  SDT_TRY(dalloc(&c->tb, C * K * 4));
  SDT_TRY(dalloc(&c->a, C * I * 4));
  SDT_TRY(dalloc(&c->p, C * I * 4));
  SDT_TRY(dalloc(&c->P, C * (I + L) * 4));
  SDT_TRY(dalloc(&c->dP, C * (I + L) * 4));
  SDT_TRY(dalloc(&c->dpl, C * L * 4));
  SDT_TRY(dalloc(&c->v, C * K * 4));
  SDT_TRY(dalloc(&c->mix, C * K * 4));
  SDT_TRY(dalloc(&c->da, C * I * 4));
  SDT_TRY(dalloc(&c->lossv, C * 8));
  SDT_TRY(dalloc(&c->dbetav, C * 8));
  SDT_TRY(dalloc(&c->pred1, C * 4));
  SDT_TRY(dalloc(&c->pred2, C * 4));
  SDT_TRY(dalloc(&c->maxleaf, C * 4));
  c->cap = cap;
  return SDT_OK;
}

extern "C" int32_t sdt_set_params(sdt_ctx* c, const float* w, const float* b, const float* phi,
                                  float beta) {
  SDT_TRY(check_set_params(c, w, b, phi, beta));
  size_t IF = (size_t)c->I * c->F * 4, I4 = (size_t)c->I * 4, LK = (size_t)c->L * c->K * 4;
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaMemcpy(c->w, w, IF, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c->b, b, I4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c->phi, phi, LK, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c->beta, &beta, 4, cudaMemcpyHostToDevice));
  CK(cudaMemset(c->mw, 0, IF));
  CK(cudaMemset(c->vw, 0, IF));
  CK(cudaMemset(c->mb, 0, I4));
  CK(cudaMemset(c->vb, 0, I4));
  CK(cudaMemset(c->mphi, 0, LK));
  CK(cudaMemset(c->vphi, 0, LK));
  CK(cudaMemset(c->mbeta, 0, 4));
  CK(cudaMemset(c->vbeta, 0, 4));
  c->t = 0;
  return SDT_OK;
}

extern "C" int32_t sdt_get_params(float* w, float* b, float* phi, float* beta,
                                  const sdt_ctx* c) {
  SDT_TRY(check_get_params(w, b, phi, beta, c));
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaMemcpy(w, c->w, (size_t)c->I * c->F * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(b, c->b, (size_t)c->I * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(phi, c->phi, (size_t)c->L * c->K * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(beta, c->beta, 4, cudaMemcpyDeviceToHost));
  return SDT_OK;
}

extern "C" int32_t sdt_set_penalty(sdt_ctx* c, const float* num, const float* den,
                                   int64_t steps) {
  SDT_TRY(check_set_penalty(c, num, den, steps));
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaMemcpy(c->num, num, (size_t)c->I * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c->den, den, (size_t)c->I * 4, cudaMemcpyHostToDevice));
  c->steps = steps;
  return SDT_OK;
}

extern "C" int32_t sdt_get_penalty(float* num, float* den, int64_t* steps, const sdt_ctx* c) {
  SDT_TRY(check_get_penalty(num, den, steps, c));
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaMemcpy(num, c->num, (size_t)c->I * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(den, c->den, (size_t)c->I * 4, cudaMemcpyDeviceToHost));
  *steps = c->steps;
  return SDT_OK;
}

extern "C" int32_t sdt_set_beta(sdt_ctx* c, float beta) {
  SDT_TRY(check_set_beta(c, beta));
  CK(cudaMemcpy(c->beta, &beta, 4, cudaMemcpyHostToDevice));
  return SDT_OK;
}

/* Adam's moments in the parameters' layout, m [P] and v [P] with P = I*F + I + L*K + 1:
 * w [I, F], b [I], phi [L, K], beta, one after another (on the device: four arrays each). */
extern "C" int32_t sdt_get_adam(float* m, float* v, int64_t* t, const sdt_ctx* c) {
  SDT_TRY(check_get_adam(m, v, t, c));
  size_t IF = (size_t)c->I * c->F, I = c->I, LK = (size_t)c->L * c->K;
  CK(cudaStreamSynchronize(c->stream));
  const float* src[2][4] = {{c->mw, c->mb, c->mphi, c->mbeta}, {c->vw, c->vb, c->vphi, c->vbeta}};
  float* dst[2] = {m, v};
  const size_t len[4] = {IF, I, LK, 1};
  for (int k = 0; k < 2; k++)
    for (size_t a = 0, at = 0; a < 4; at += len[a], a++)
      CK(cudaMemcpy(dst[k] + at, src[k][a], len[a] * 4, cudaMemcpyDeviceToHost));
  *t = c->t;
  return SDT_OK;
}

extern "C" int32_t sdt_set_adam(sdt_ctx* c, const float* m, const float* v, int64_t t) {
  SDT_TRY(check_set_adam(c, m, v, t));
  size_t IF = (size_t)c->I * c->F, I = c->I, LK = (size_t)c->L * c->K;
  CK(cudaStreamSynchronize(c->stream));
  float* dst[2][4] = {{c->mw, c->mb, c->mphi, c->mbeta}, {c->vw, c->vb, c->vphi, c->vbeta}};
  const float* src[2] = {m, v};
  const size_t len[4] = {IF, I, LK, 1};
  for (int k = 0; k < 2; k++)
    for (size_t a = 0, at = 0; a < 4; at += len[a], a++)
      CK(cudaMemcpy(dst[k][a], src[k] + at, len[a] * 4, cudaMemcpyHostToDevice));
  c->t = t;
  return SDT_OK;
}

extern "C" int32_t sdt_set_learning_rate(sdt_ctx* c, double lr) {
  SDT_TRY(check_set_learning_rate(c, lr));
  c->lr = lr;
  return SDT_OK;
}

extern "C" int32_t sdt_set_train_data(sdt_ctx* c, const float* x, const float* targets,
                                      int32_t n) {
  SDT_TRY(check_set_train_data(c, x, targets, n, c ? c->F : 0, c ? c->K : 0));
  CK(cudaStreamSynchronize(c->stream));
  dfree(c->X), dfree(c->T);
  c->X = c->T = NULL, c->n = 0;
  SDT_TRY(dalloc(&c->X, (size_t)n * c->F * 4));
  SDT_TRY(dalloc(&c->T, (size_t)n * c->K * 4));
  CK(cudaMemcpy(c->X, x, (size_t)n * c->F * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c->T, targets, (size_t)n * c->K * 4, cudaMemcpyHostToDevice));
  c->n = n;
  return SDT_OK;
}

/* ---------------------------------------------------------------- kernels */

/* A deterministic block sum (fixed tree order); every thread gets the total. */
__device__ double block_sum(double v, double* sh) {
  int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

/*
 * Row-major C [M, N] = op(A) [M, Kd] op(B) [Kd, N]; 16 x 16 tiles. Row tiles go on grid.x and
 * column tiles on grid.y (sdt_gemm_grid in sdt_common.h); a block loops over every tile
 * (row tile blockIdx.x + i gridDim.x, column tile blockIdx.y + j gridDim.y) so that a batch of
 * millions of rows, or a grid capped at the hardware's limits, is still covered. The loop
 * bounds are the same for every thread of a block, so the barriers inside are safe.
 */
#define TILE 16
__global__ void gemm_kernel(int ta, int tb, int M, int N, int Kd, const float* A, int lda,
                            const float* B, int ldb, float* C, int ldc) {
  __shared__ float As[TILE][TILE + 1], Bs[TILE][TILE + 1];
  const int64_t row_tiles = sdt_tiles(M, TILE), col_tiles = sdt_tiles(N, TILE);
  for (int64_t tj = blockIdx.y; tj < col_tiles; tj += gridDim.y) {
    for (int64_t ti = blockIdx.x; ti < row_tiles; ti += gridDim.x) {
      const int64_t row = ti * TILE + threadIdx.y, col = tj * TILE + threadIdx.x;
      float acc = 0;
      for (int k0 = 0; k0 < Kd; k0 += TILE) {
        int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        As[threadIdx.y][threadIdx.x] =
            row < M && ka < Kd ? (ta ? A[(size_t)ka * lda + row] : A[(size_t)row * lda + ka])
                               : 0.f;
        Bs[threadIdx.y][threadIdx.x] =
            kb < Kd && col < N ? (tb ? B[(size_t)col * ldb + kb] : B[(size_t)kb * ldb + col])
                               : 0.f;
        __syncthreads();
        for (int k = 0; k < TILE; k++) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
        __syncthreads();
      }
      if (row < M && col < N) C[(size_t)row * ldc + col] = acc;
    }
  }
}

static int32_t gemm(sdt_ctx* c, int ta, int tb, int M, int N, int Kd, const float* A, int lda,
                    const float* B, int ldb, float* C, int ldc) {
  if (c->blas) {
    /* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. */
    const float one = 1.f, zero = 0.f;
    int r = g_cublas.sgemm(c->blas, tb ? CUBLAS_OP_T_ : CUBLAS_OP_N_,
                           ta ? CUBLAS_OP_T_ : CUBLAS_OP_N_, N, M, Kd, &one, B, ldb, A, lda,
                           &zero, C, ldc);
    if (r != 0) return fail(SDT_ERR_DEVICE, "cublasSgemm failed with status %d", r);
    return SDT_OK;
  }
  const sdt_grid2 g = sdt_gemm_grid(M, N, TILE);
  dim3 block(TILE, TILE), grid(g.x, g.y);
  gemm_kernel<<<grid, block, 0, c->stream>>>(ta, tb, M, N, Kd, A, lda, B, ldb, C, ldc);
  CK_LAUNCH("gemm");
  return SDT_OK;
}

__global__ void gather_kernel(float* xb, float* tb, const float* X, const float* T,
                              const int32_t* order, int F, int K) {
  int s = blockIdx.x;
  size_t r = (size_t)order[s];
  for (int j = threadIdx.x; j < F; j += blockDim.x) xb[(size_t)s * F + j] = X[r * F + j];
  for (int k = threadIdx.x; k < K; k += blockDim.x) tb[(size_t)s * K + k] = T[r * K + k];
}

/* logq, q = log_softmax(phi), softmax(phi); leaf_arg = argmax per leaf. One thread a leaf. */
__global__ void leaf_kernel(float* logq, float* q, int32_t* arg, const float* phi, int L,
                            int K, int loss_kind) {
  int l = blockIdx.x * blockDim.x + threadIdx.x;
  if (l >= L) return;
  const float* ph = phi + (size_t)l * K;
  if (loss_kind >= SDT_LOSS_SQ_EXPECTED) { /* regression: the leaves hold values */
    for (int k = 0; k < K; k++) q[(size_t)l * K + k] = ph[k], logq[(size_t)l * K + k] = 0;
    arg[l] = 0;
    return;
  }
  float mx = ph[0];
  int a = 0;
  for (int k = 1; k < K; k++)
    if (ph[k] > mx) mx = ph[k], a = k;
  double se = 0;
  for (int k = 0; k < K; k++) se += exp((double)ph[k] - mx);
  float lse = (float)(mx + log(se));
  for (int k = 0; k < K; k++) {
    logq[(size_t)l * K + k] = ph[k] - lse;
    q[(size_t)l * K + k] = expf(ph[k] - lse);
  }
  arg[l] = a;
}

/*
 * One block a sample: a [s, I] += b (x.w + b, kept for d/dbeta), p = sigmoid(beta a),
 * path probabilities P [s, I + L] level by level, the mixture [s, K], and with targets the
 * loss (lossv[s]), d objective / d P^l (dpl [s, L]) and v [s, K] for the phi gradient.
 */
__global__ void route_kernel(float* a, float* p, float* P, float* mix, float* dpl, float* v,
                             double* lossv, const float* b, const float* beta_p,
                             const float* logq, const float* q, const float* T, int D, int K,
                             int loss_kind, float invB) {
  __shared__ double sh[THREADS];
  const int s = blockIdx.x, I = (1 << D) - 1, L = I + 1, tid = threadIdx.x, bd = blockDim.x;
  const float beta = *beta_p;
  float* as = a + (size_t)s * I;
  float* ps = p + (size_t)s * I;
  float* Ps = P + (size_t)s * (I + L);
  for (int n = tid; n < I; n += bd) {
    float an = as[n] + b[n];
    as[n] = an;
    ps[n] = 1.0f / (1.0f + expf(-(beta * an)));
  }
  if (tid == 0) Ps[0] = 1.0f;
  __syncthreads();
  for (int d = 0; d < D; d++) {
    int start = (1 << d) - 1, cnt = 1 << d;
    for (int j = tid; j < cnt; j += bd) {
      int n = start + j;
      float Pn = Ps[n], pn = ps[n];
      Ps[2 * n + 1] = Pn * (1.0f - pn);
      Ps[2 * n + 2] = Pn * pn;
    }
    __syncthreads();
  }
  const float* leaf = Ps + I;
  float* ms = mix + (size_t)s * K;
  for (int k = tid; k < K; k += bd) {
    float m = 0;
    for (int l = 0; l < L; l++) m += leaf[l] * q[(size_t)l * K + k];
    ms[k] = m;
  }
  if (!T) return;
  const float* Ts = T + (size_t)s * K;
  float* vs = v + (size_t)s * K;
  float* dps = dpl + (size_t)s * L;
  double part = 0;
  __syncthreads();
  if (loss_kind == SDT_LOSS_SQ_EXPECTED) {
    for (int l = tid; l < L; l += bd) {
      const float* ql = q + (size_t)l * K;
      float cost = 0;
      for (int k = 0; k < K; k++) cost += (ql[k] - Ts[k]) * (ql[k] - Ts[k]);
      part += (double)leaf[l] * cost;
      dps[l] = cost * invB;
    }
    for (int k = tid; k < K; k += bd) vs[k] = Ts[k];
  } else if (loss_kind == SDT_LOSS_SQ_MIXTURE) {
    for (int k = tid; k < K; k += bd) {
      float e = ms[k] - Ts[k];
      part += (double)e * e;
      vs[k] = -2.0f * e;
    }
    __syncthreads();
    for (int l = tid; l < L; l += bd) {
      float g = 0;
      for (int k = 0; k < K; k++) g += vs[k] * q[(size_t)l * K + k];
      dps[l] = -g * invB;
    }
  } else if (loss_kind == SDT_LOSS_EXPECTED) {
    for (int l = tid; l < L; l += bd) {
      const float* lq = logq + (size_t)l * K;
      float cost = 0;
      for (int k = 0; k < K; k++) cost -= Ts[k] * lq[k];
      part += (double)leaf[l] * cost;
      dps[l] = cost * invB;
    }
    for (int k = tid; k < K; k += bd) vs[k] = Ts[k];
  } else {
    for (int k = tid; k < K; k += bd) {
      float m = ms[k];
      part -= (double)Ts[k] * logf(m > MIX_EPS ? m : MIX_EPS);
      vs[k] = m >= MIX_EPS ? Ts[k] / m : 0.0f;
    }
    __syncthreads();
    for (int l = tid; l < L; l += bd) {
      float g = 0;
      for (int k = 0; k < K; k++) g += vs[k] * q[(size_t)l * K + k];
      dps[l] = -g * invB;
    }
  }
  double tot = block_sum(part, sh);
  if (tid == 0) lossv[s] = tot;
}

/*
 * One block: the penalty's smoothed averages, alpha, C, and the per-sample gradient factors
 * cnum (of P_n p_n) and cden (of P_n). acc[3] = C; with commit, num/den = S and acc[1] += C.
 */
__global__ void penalty_kernel(float* num, float* den, float* cnum, float* cden, double* acc,
                               const float* p, const float* P, int B, int D, int steps_zero,
                               double window, double strength, double decay, int commit) {
  __shared__ double sh[THREADS];
  const int I = (1 << D) - 1, L = I + 1;
  const double lo = (double)(float)ALPHA_EPS, hi = (double)(float)(1.0 - ALPHA_EPS);
  double part = 0;
  for (int n = threadIdx.x; n < I; n += blockDim.x) {
    double sn = 0, sd = 0;
    for (int s = 0; s < B; s++) {
      float Pn = P[(size_t)s * (I + L) + n], pn = p[(size_t)s * I + n];
      sn += (double)(Pn * pn), sd += (double)Pn;
    }
    int d = 31 - __clz(n + 1);
    double lam = steps_zero ? 1.0 : fmin(1.0, B / (window * ldexp(1.0, d)));
    double Sn = (1 - lam) * num[n] + lam * (sn / B), Sd = (1 - lam) * den[n] + lam * (sd / B);
    double deneff = Sd > DEN_EPS ? Sd : DEN_EPS;
    double alpha = Sn / deneff;
    int clamped = !(alpha >= lo && alpha <= hi);
    double ac = alpha < lo ? lo : alpha > hi ? hi : alpha;
    double coef = strength * pow(decay, (double)d);
    part -= coef * (0.5 * log(ac) + 0.5 * log(1 - ac));
    double ga = clamped ? 0.0 : -coef * 0.5 * (1.0 / ac - 1.0 / (1.0 - ac));
    double dSn = ga / deneff, dSd = Sd >= DEN_EPS ? -ga * Sn / (deneff * deneff) : 0.0;
    cnum[n] = (float)(lam * dSn / B);
    cden[n] = (float)(lam * dSd / B);
    if (commit) num[n] = (float)Sn, den[n] = (float)Sd;
  }
  double C = block_sum(part, sh);
  if (threadIdx.x == 0) {
    acc[3] = C;
    if (commit) acc[1] += C;
  }
}

/* One block a sample: back-propagate dpl through the tree into da [s, I], dbetav[s]. */
__global__ void backward_kernel(float* da, double* dbetav, float* dP, const float* dpl,
                                const float* a, const float* p, const float* P,
                                const float* cnum, const float* cden, const float* beta_p,
                                int D) {
  __shared__ double sh[THREADS];
  const int s = blockIdx.x, I = (1 << D) - 1, L = I + 1, tid = threadIdx.x, bd = blockDim.x;
  const float beta = *beta_p;
  float* dPs = dP + (size_t)s * (I + L);
  const float* ps = p + (size_t)s * I;
  const float* Ps = P + (size_t)s * (I + L);
  const float* as = a + (size_t)s * I;
  for (int l = tid; l < L; l += bd) dPs[I + l] = dpl[(size_t)s * L + l];
  __syncthreads();
  double part = 0;
  for (int d = D - 1; d >= 0; d--) {
    int start = (1 << d) - 1, cnt = 1 << d;
    for (int j = tid; j < cnt; j += bd) {
      int n = start + j;
      float dl = dPs[2 * n + 1], dr = dPs[2 * n + 2], pn = ps[n], Pn = Ps[n];
      float dp = Pn * (dr - dl) + cnum[n] * Pn;
      dPs[n] = dl * (1.0f - pn) + dr * pn + cnum[n] * pn + cden[n];
      float dz = dp * pn * (1.0f - pn);
      da[(size_t)s * I + n] = dz * beta;
      part += (double)dz * as[n];
    }
    __syncthreads();
  }
  double tot = block_sum(part, sh);
  if (tid == 0) dbetav[s] = tot;
}

/* gb[n] = sum_s da[s, n]: one thread a node. */
__global__ void bias_grad_kernel(float* gb, const float* da, int B, int I) {
  int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= I) return;
  float g = 0;
  for (int s = 0; s < B; s++) g += da[(size_t)s * I + n];
  gb[n] = g;
}

/* One block: gbeta = sum_s dbetav; acc[2] = mean loss; with commit acc[0] += loss sum. */
__global__ void batch_sums_kernel(double* gbeta, double* acc, const double* dbetav,
                                  const double* lossv, int B, int commit) {
  __shared__ double sh[THREADS];
  double gb = 0, ls = 0;
  for (int s = threadIdx.x; s < B; s += blockDim.x) gb += dbetav[s], ls += lossv[s];
  gb = block_sum(gb, sh);
  ls = block_sum(ls, sh);
  if (threadIdx.x == 0) {
    *gbeta = gb;
    acc[2] = ls / B;
    if (commit) acc[0] += ls;
  }
}

/* gphi [L, K]: one thread a leaf (see sdt_cpu.c phi_grad). */
__global__ void phi_grad_kernel(float* gphi, const float* q, const float* P, const float* v,
                                int B, int D, int K, int loss_kind, float invB) {
  const int I = (1 << D) - 1, L = I + 1;
  int l = blockIdx.x * blockDim.x + threadIdx.x;
  if (l >= L) return;
  float* out = gphi + (size_t)l * K;
  const float* ql = q + (size_t)l * K;
  for (int k = 0; k < K; k++) out[k] = 0;
  float u = 0;
  for (int s = 0; s < B; s++) {
    float pl = P[(size_t)s * (I + L) + I + l];
    const float* vs = v + (size_t)s * K;
    float sv = 0;
    for (int k = 0; k < K; k++) out[k] += pl * vs[k], sv += vs[k];
    u += loss_kind == SDT_LOSS_SQ_EXPECTED ? pl : pl * sv;
  }
  if (loss_kind == SDT_LOSS_SQ_EXPECTED) {
    for (int k = 0; k < K; k++) out[k] = 2.0f * (ql[k] * u - out[k]) * invB;
  } else if (loss_kind == SDT_LOSS_SQ_MIXTURE) {
    for (int k = 0; k < K; k++) out[k] = -out[k] * invB;
  } else if (loss_kind == SDT_LOSS_EXPECTED) {
    for (int k = 0; k < K; k++) out[k] = (ql[k] * u - out[k]) * invB;
  } else {
    float dot = 0;
    for (int k = 0; k < K; k++) dot += -out[k] * invB * ql[k];
    for (int k = 0; k < K; k++) out[k] = ql[k] * (-out[k] * invB - dot);
  }
}

/* One Adam update of w with gradient g (the CPU build's adam_vec, element by element). */
__device__ inline void adam_update(float* w, float* m, float* v, float g, float lr, float bc1,
                                   float bc2) {
  float mi = ADAM_B1 * *m + (1.0f - ADAM_B1) * g;
  float vi = ADAM_B2 * *v + (1.0f - ADAM_B2) * (g * g);
  *m = mi, *v = vi;
  *w -= lr * (mi / bc1) / (sqrtf(vi / bc2) + ADAM_EPS);
}

__global__ void adam_kernel(float* w, float* m, float* v, const float* g, size_t n, float lr,
                            float bc1, float bc2) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  adam_update(w + i, m + i, v + i, g[i], lr, bc1, bc2);
}

/* Adam on the learned beta: its gradient is a double, rounded to float as the CPU build does. */
__global__ void adam_beta_kernel(float* beta, float* m, float* v, const double* g, float lr,
                                 float bc1, float bc2) {
  if (blockIdx.x == 0 && threadIdx.x == 0) adam_update(beta, m, v, (float)*g, lr, bc1, bc2);
}

/* One thread a sample: max leaf, its class, and the mixture's class. */
__global__ void predict_kernel(int32_t* pred1, int32_t* pred2, int32_t* maxleaf,
                               const float* P, const float* mix, const int32_t* leaf_arg,
                               int B, int D, int K) {
  int s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= B) return;
  const int I = (1 << D) - 1, L = I + 1;
  const float* leaf = P + (size_t)s * (I + L) + I;
  int best = 0;
  for (int l = 1; l < L; l++)
    if (leaf[l] > leaf[best]) best = l;
  const float* ms = mix + (size_t)s * K;
  int bk = 0;
  for (int k = 1; k < K; k++)
    if (ms[k] > ms[bk]) bk = k;
  maxleaf[s] = best, pred1[s] = leaf_arg[best], pred2[s] = bk;
}

/* ---------------------------------------------------------------- batch pipeline */

static unsigned blocks(size_t n) { return sdt_blocks_1d((int64_t)n, THREADS); }

/* Forward the B rows in xb (targets in tb when with_targets); gradients when want_grad. */
static int32_t batch_objective(sdt_ctx* c, int B, int with_targets, int want_grad,
                               int commit) {
  const int I = c->I, L = c->L, K = c->K, F = c->F;
  const float invB = 1.0f / (float)B;
  leaf_kernel<<<blocks(L), THREADS, 0, c->stream>>>(c->logq, c->q, c->leaf_arg, c->phi, L, K,
                                                  c->loss);
  CK_LAUNCH("leaf");
  SDT_TRY(gemm(c, 0, 1, B, I, F, c->xb, F, c->w, F, c->a, I)); /* a = xb w^T */
  route_kernel<<<B, THREADS, 0, c->stream>>>(c->a, c->p, c->P, c->mix, c->dpl, c->v, c->lossv,
                                             c->b, c->beta, c->logq, c->q,
                                             with_targets ? c->tb : NULL, c->D, K, c->loss,
                                             invB);
  CK_LAUNCH("route");
  if (!with_targets) return SDT_OK;
  penalty_kernel<<<1, THREADS, 0, c->stream>>>(c->num, c->den, c->cnum, c->cden, c->acc, c->p,
                                               c->P, B, c->D, c->steps == 0, c->window,
                                               c->strength, c->decay, commit);
  CK_LAUNCH("penalty");
  if (!want_grad) return SDT_OK;
  backward_kernel<<<B, THREADS, 0, c->stream>>>(c->da, c->dbetav, c->dP, c->dpl, c->a, c->p,
                                                c->P, c->cnum, c->cden, c->beta, c->D);
  CK_LAUNCH("backward");
  SDT_TRY(gemm(c, 1, 0, I, F, B, c->da, I, c->xb, F, c->gw, F)); /* gw = da^T xb */
  bias_grad_kernel<<<blocks(I), THREADS, 0, c->stream>>>(c->gb, c->da, B, I);
  CK_LAUNCH("bias gradient");
  batch_sums_kernel<<<1, THREADS, 0, c->stream>>>(c->gbeta, c->acc, c->dbetav, c->lossv, B,
                                                  commit);
  CK_LAUNCH("batch sums");
  phi_grad_kernel<<<blocks(L), THREADS, 0, c->stream>>>(c->gphi, c->q, c->P, c->v, B, c->D, K,
                                                        c->loss, invB);
  CK_LAUNCH("phi gradient");
  return SDT_OK;
}

static int32_t adam_step(sdt_ctx* c) {
  c->t++;
  const float bc1 = (float)(1.0 - pow(ADAM_B1, (double)c->t));
  const float bc2 = (float)(1.0 - pow(ADAM_B2, (double)c->t));
  const float lr = (float)c->lr;
  size_t IF = (size_t)c->I * c->F, LK = (size_t)c->L * c->K;
  adam_kernel<<<blocks(IF), THREADS, 0, c->stream>>>(c->w, c->mw, c->vw, c->gw, IF, lr, bc1,
                                                     bc2);
  CK_LAUNCH("Adam (w)");
  adam_kernel<<<blocks(c->I), THREADS, 0, c->stream>>>(c->b, c->mb, c->vb, c->gb, c->I, lr,
                                                       bc1, bc2);
  CK_LAUNCH("Adam (b)");
  adam_kernel<<<blocks(LK), THREADS, 0, c->stream>>>(c->phi, c->mphi, c->vphi, c->gphi, LK, lr,
                                                     bc1, bc2);
  CK_LAUNCH("Adam (phi)");
  if (c->learn_beta) {
    adam_beta_kernel<<<1, 1, 0, c->stream>>>(c->beta, c->mbeta, c->vbeta, c->gbeta, lr, bc1,
                                             bc2);
    CK_LAUNCH("Adam (beta)");
  }
  return SDT_OK;
}

/* ---------------------------------------------------------------- API */

extern "C" int32_t sdt_train_samples(double* loss_sum, double* penalty_sum, int32_t* batches,
                                     sdt_ctx* c, const int32_t* order, int32_t n,
                                     int32_t batch_size) {
  SDT_TRY(check_train_samples(loss_sum, penalty_sum, batches, c, order, n, batch_size,
                              c ? c->n : 0));
  SDT_TRY(ensure_cap(c, batch_size < n ? batch_size : (n > 0 ? n : 1)));
  if (n > c->order_cap) {
    dfree(c->order);
    c->order = NULL, c->order_cap = 0;
    SDT_TRY(dalloc(&c->order, (size_t)n * 4));
    c->order_cap = n;
  }
  CK(cudaMemcpyAsync(c->order, order, (size_t)n * 4, cudaMemcpyHostToDevice, c->stream));
  CK(cudaMemsetAsync(c->acc, 0, 2 * sizeof(double), c->stream));
  int32_t nb = 0;
  for (int32_t i0 = 0; i0 < n; i0 += batch_size) {
    int B = n - i0 < batch_size ? n - i0 : batch_size;
    gather_kernel<<<B, THREADS, 0, c->stream>>>(c->xb, c->tb, c->X, c->T, c->order + i0, c->F,
                                                c->K);
    CK_LAUNCH("gather");
    SDT_TRY(batch_objective(c, B, 1, 1, 1));
    SDT_TRY(adam_step(c));
    c->steps++, nb++;
  }
  double acc[2];
  CK(cudaMemcpyAsync(acc, c->acc, sizeof acc, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaStreamSynchronize(c->stream));
  *loss_sum = acc[0], *penalty_sum = acc[1], *batches = nb;
  return SDT_OK;
}

static int32_t upload_batch(sdt_ctx* c, const float* x, const float* targets, int B) {
  SDT_TRY(ensure_cap(c, B));
  CK(cudaMemcpyAsync(c->xb, x, (size_t)B * c->F * 4, cudaMemcpyHostToDevice, c->stream));
  if (targets)
    CK(cudaMemcpyAsync(c->tb, targets, (size_t)B * c->K * 4, cudaMemcpyHostToDevice,
                       c->stream));
  return SDT_OK;
}

extern "C" int32_t sdt_train_step(double* loss, double* penalty, sdt_ctx* c, const float* x,
                                  const float* targets, int32_t batch) {
  SDT_TRY(check_train_step(loss, penalty, c));
  SDT_TRY(check_batch("sdt_train_step", x, targets, batch, c->F, c->K));
  SDT_TRY(upload_batch(c, x, targets, batch));
  SDT_TRY(batch_objective(c, batch, 1, 1, 1));
  SDT_TRY(adam_step(c));
  c->steps++;
  double acc[4];
  CK(cudaMemcpyAsync(acc, c->acc, sizeof acc, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaStreamSynchronize(c->stream));
  *loss = acc[2], *penalty = acc[3];
  return SDT_OK;
}

extern "C" int32_t sdt_gradients(float* dw, float* db, float* dphi, double* dbeta, double* loss,
                                 double* penalty, sdt_ctx* c, const float* x,
                                 const float* targets, int32_t batch) {
  SDT_TRY(check_gradients(dw, db, dphi, dbeta, loss, penalty, c));
  SDT_TRY(check_batch("sdt_gradients", x, targets, batch, c->F, c->K));
  SDT_TRY(upload_batch(c, x, targets, batch));
  SDT_TRY(batch_objective(c, batch, 1, 1, 0));
  double acc[4];
  double gbeta;
  CK(cudaMemcpyAsync(acc, c->acc, sizeof acc, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaMemcpyAsync(&gbeta, c->gbeta, sizeof gbeta, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaMemcpyAsync(dw, c->gw, (size_t)c->I * c->F * 4, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaMemcpyAsync(db, c->gb, (size_t)c->I * 4, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaMemcpyAsync(dphi, c->gphi, (size_t)c->L * c->K * 4, cudaMemcpyDeviceToHost,
                     c->stream));
  CK(cudaStreamSynchronize(c->stream));
  *loss = acc[2], *penalty = acc[3], *dbeta = gbeta;
  return SDT_OK;
}

/* Forward rows [r0, r0 + B) of x; copy the requested outputs back. */
static int32_t forward_chunk(sdt_ctx* c, const float* x, int B, float* inner, float* leaf,
                             float* mixture, int32_t* p1, int32_t* p2, int32_t* ml) {
  const int I = c->I, L = c->L, K = c->K;
  SDT_TRY(upload_batch(c, x, NULL, B));
  SDT_TRY(batch_objective(c, B, 0, 0, 0));
  predict_kernel<<<blocks(B), THREADS, 0, c->stream>>>(c->pred1, c->pred2, c->maxleaf, c->P,
                                                       c->mix, c->leaf_arg, B, c->D, K);
  CK_LAUNCH("predict");
  if (inner)
    CK(cudaMemcpyAsync(inner, c->p, (size_t)B * I * 4, cudaMemcpyDeviceToHost, c->stream));
  if (leaf)
    CK(cudaMemcpy2DAsync(leaf, (size_t)L * 4, c->P + I, (size_t)(I + L) * 4, (size_t)L * 4, B,
                         cudaMemcpyDeviceToHost, c->stream));
  if (mixture)
    CK(cudaMemcpyAsync(mixture, c->mix, (size_t)B * K * 4, cudaMemcpyDeviceToHost, c->stream));
  if (p1) CK(cudaMemcpyAsync(p1, c->pred1, (size_t)B * 4, cudaMemcpyDeviceToHost, c->stream));
  if (p2) CK(cudaMemcpyAsync(p2, c->pred2, (size_t)B * 4, cudaMemcpyDeviceToHost, c->stream));
  if (ml) CK(cudaMemcpyAsync(ml, c->maxleaf, (size_t)B * 4, cudaMemcpyDeviceToHost, c->stream));
  CK(cudaStreamSynchronize(c->stream));
  return SDT_OK;
}

extern "C" int32_t sdt_forward(float* inner, float* leaf, float* mixture, int32_t* pred_max_leaf,
                               int32_t* pred_mixture, int32_t* max_leaf, sdt_ctx* c,
                               const float* x, int32_t n) {
  SDT_TRY(check_forward(c, x, n, c ? c->F : 0));
  for (int32_t r0 = 0; r0 < n; r0 += CHUNK) {
    int B = n - r0 < CHUNK ? n - r0 : CHUNK;
    size_t r = (size_t)r0;
    SDT_TRY(forward_chunk(c, x + r * c->F, B, inner ? inner + r * c->I : NULL,
                       leaf ? leaf + r * c->L : NULL, mixture ? mixture + r * c->K : NULL,
                       pred_max_leaf ? pred_max_leaf + r : NULL,
                       pred_mixture ? pred_mixture + r : NULL, max_leaf ? max_leaf + r : NULL));
  }
  return SDT_OK;
}

extern "C" int32_t sdt_evaluate(double* accuracy_max_leaf, double* accuracy_mixture,
                                int32_t* pred_max_leaf, int32_t* pred_mixture, sdt_ctx* c,
                                const float* x, const int32_t* labels, int32_t n) {
  SDT_TRY(check_evaluate(accuracy_max_leaf, accuracy_mixture, c, x, labels, n,
                         c ? c->F : 0));
  if (c->loss >= SDT_LOSS_SQ_EXPECTED)
    return fail(SDT_ERR_STATE, "sdt_evaluate: a regression tree has no classes (use sdt_forward)");
  int32_t* p1 = (int32_t*)malloc((size_t)CHUNK * 4);
  int32_t* p2 = (int32_t*)malloc((size_t)CHUNK * 4);
  if (!p1 || !p2) {
    free(p1), free(p2);
    return fail(SDT_ERR_MEMORY, "Cannot allocate prediction buffers");
  }
  int64_t ok1 = 0, ok2 = 0;
  int32_t st = SDT_OK;
  for (int32_t r0 = 0; r0 < n && st == SDT_OK; r0 += CHUNK) {
    int B = n - r0 < CHUNK ? n - r0 : CHUNK;
    st = forward_chunk(c, x + (size_t)r0 * c->F, B, NULL, NULL, NULL, p1, p2, NULL);
    for (int s = 0; st == SDT_OK && s < B; s++) {
      ok1 += p1[s] == labels[r0 + s], ok2 += p2[s] == labels[r0 + s];
      if (pred_max_leaf) pred_max_leaf[r0 + s] = p1[s];
      if (pred_mixture) pred_mixture[r0 + s] = p2[s];
    }
  }
  free(p1), free(p2);
  if (st != SDT_OK) return st;
  *accuracy_max_leaf = (double)ok1 / n, *accuracy_mixture = (double)ok2 / n;
  return SDT_OK;
}
