/*
 * sdt_cpu.c — the CPU build of the ABI in sdt.h (gcc, OpenMP).
 *
 * Computes exactly the reference maths of lib/backends/types.ts (restated in sdt.h) and
 * must agree with the tfjs backend (lib/backends/tfjs.ts) within the tolerances of
 * tests/backends_native_test.ts. Gradients are written by hand; the parity suite checks
 * them against tfjs's autodiff and against finite differences.
 *
 * Why it is fast on two cores:
 * - Inputs are kept as sparse rows (MNIST is ~80% zero pixels): x . w and the w-gradient
 *   touch only a row's non-zero features. The resident training set is converted to CSR
 *   once; batches passed in dense are converted on the fly (a cheap scan).
 * - The filters are stored feature-major, wT [F, Ip] with Ip = I rounded up to 8, so that
 *   one non-zero feature updates a contiguous run of nodes: the inner loops are 8-wide
 *   vector FMAs (GCC vector extensions), blocked by 64 nodes so that a block of wT stays
 *   in cache while the batch streams past it. Padding nodes have zero weights and zero
 *   gradients, so Adam leaves them at zero.
 * - Adam is one dense, vectorised pass (no lazy tricks: exactness first).
 * - OpenMP splits large work by node blocks, features or samples, never by splitting a
 *   sum: every number is summed in the same order whatever the thread count, so results
 *   are deterministic (and identical across thread counts).
 */
#include "sdt_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows per chunk when forwarding or evaluating a large split. */
#define CHUNK 1024
/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PAR_WORK 4e6

typedef float v8f __attribute__((vector_size(32)));

static inline v8f ld8(const float* p) {
  v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void st8(float* p, v8f v) { memcpy(p, &v, sizeof v); }

/* ---------------------------------------------------------------- errors */


int32_t sdt_abi_version(void) { return SDT_ABI_VERSION; }
const char* sdt_last_error(void) { return g_error; }

#define STR2(x) #x
#define STR(x) STR2(x)
#if defined(__AVX512F__)
#define SIMD_NAME "avx512"
#elif defined(__AVX2__)
#define SIMD_NAME "avx2"
#elif defined(__AVX__)
#define SIMD_NAME "avx"
#else
#define SIMD_NAME "sse"
#endif
#ifdef _OPENMP
#define OMP_NAME ", openmp"
#else
#define OMP_NAME ""
#endif

/* The CPU level the library was compiled for (ffi/build.ts passes -march's value). */
#ifdef SOFTTREE_TARGET
#define TARGET_NAME SOFTTREE_TARGET ", "
#else
#define TARGET_NAME ""
#endif
#ifdef __clang__
#define CC_NAME "clang " STR(__clang_major__) "." STR(__clang_minor__)
#else
#define CC_NAME "gcc " STR(__GNUC__) "." STR(__GNUC_MINOR__)
#endif

const char* sdt_build_info(void) {
  return "cpu (" CC_NAME ", " TARGET_NAME SIMD_NAME OMP_NAME ")";
}

int32_t sdt_probe(char* info, int32_t cap) {
  SDT_TRY(check_probe(info, cap));
  if (cap > 0) snprintf(info, (size_t)cap, "%s", sdt_build_info());
  g_error[0] = 0;
  return SDT_OK;
}

/* ---------------------------------------------------------------- context */

struct sdt_ctx {
  int D, F, K, I, L, Ip, loss, learn_beta, threads;
  double strength, decay, window, lr;
  float beta;
  float* wT;  /* [F, Ip] */
  float* b;   /* [Ip] */
  float* phi; /* [L, K] */
  /* Adam */
  float *mw, *vw, *mb, *vb, *mphi, *vphi;
  float mbeta, vbeta;
  int64_t t;
  /* penalty */
  float *num, *den; /* [I] */
  int64_t steps;
  double *snum, *sden; /* [I] this batch's smoothed averages */
  float *cnum, *cden;  /* [I] d objective / d (P_n p_n), d objective / d P_n, per sample */
  /* gradients */
  float *gw, *gb, *gphi; /* [F, Ip], [Ip], [L, K] */
  double gbeta;
  /* leaf tables */
  float *logq, *q; /* [L, K] */
  int32_t* leaf_arg; /* [L] argmax_k Q^l_k */
  /* resident training set (CSR) */
  int32_t n;
  int64_t* rowptr; /* [N + 1] */
  int32_t* col;
  float* val;
  float* tgt; /* [N, K] */
  /* batch scratch, capacity cap rows */
  int cap;
  float *a, *p, *P, *da; /* [cap, Ip], [cap, Ip], [cap, I + L], [cap, Ip] */
  float *mix, *v;        /* [cap, K] */
  float* dpleaf;         /* [cap, L] */
  double *lossv, *dbetav; /* [cap] */
  const int32_t** rc;
  const float** rv;
  int32_t* rn;
  const float** rt;
  float* dpbuf; /* [threads, I + L] */
  /* on-the-fly CSR of a dense batch */
  int64_t tcap;
  int32_t* tcol;
  float* tval;
};

static void* xalloc(size_t bytes) {
  size_t n = (bytes + 63) / 64 * 64;
  if (n == 0) n = 64;
  void* p = aligned_alloc(64, n);
  if (p) memset(p, 0, n);
  return p;
}

static int nthreads(const sdt_ctx* c) { return c->threads; }

static int depth_of(int n) {
  int d = 0;
  while ((2 << d) - 1 <= n) d++;
  return d;
}

static int32_t ensure_cap(sdt_ctx* c, int rows) {
  if (rows <= c->cap) return SDT_OK;
  int64_t grown = 2 * (int64_t)c->cap; /* doubling, in 64-bit: never past INT32_MAX rows */
  int cap = rows > grown ? rows : (int)(grown > INT32_MAX ? INT32_MAX : grown);
  if (cap < 64) cap = 64;
  size_t Ip = (size_t)c->Ip, IL = (size_t)(c->I + c->L), K = (size_t)c->K, L = (size_t)c->L;
  free(c->a), free(c->p), free(c->P), free(c->da), free(c->mix), free(c->v);
  free(c->dpleaf), free(c->lossv), free(c->dbetav), free((void*)c->rc), free((void*)c->rv);
  free(c->rn), free((void*)c->rt);
  c->a = xalloc(cap * Ip * 4), c->p = xalloc(cap * Ip * 4), c->P = xalloc(cap * IL * 4);
  c->da = xalloc(cap * Ip * 4), c->mix = xalloc(cap * K * 4), c->v = xalloc(cap * K * 4);
  c->dpleaf = xalloc(cap * L * 4), c->lossv = xalloc(cap * 8), c->dbetav = xalloc(cap * 8);
  c->rc = xalloc(cap * sizeof(void*)), c->rv = xalloc(cap * sizeof(void*));
  c->rn = xalloc(cap * 4), c->rt = xalloc(cap * sizeof(void*));
  c->cap = cap;
  if (!c->a || !c->p || !c->P || !c->da || !c->mix || !c->v || !c->dpleaf || !c->lossv ||
      !c->dbetav || !c->rc || !c->rv || !c->rn || !c->rt) {
    c->cap = 0;
    return fail(SDT_ERR_MEMORY, "Cannot allocate scratch for a batch of %d rows", rows);
  }
  return SDT_OK;
}

static int32_t ensure_tmp(sdt_ctx* c, int64_t nnz) {
  if (nnz <= c->tcap) return SDT_OK;
  free(c->tcol), free(c->tval);
  int64_t cap = nnz > 2 * c->tcap ? nnz : 2 * c->tcap;
  c->tcol = xalloc((size_t)cap * 4), c->tval = xalloc((size_t)cap * 4);
  c->tcap = cap;
  if (!c->tcol || !c->tval) {
    c->tcap = 0;
    return fail(SDT_ERR_MEMORY, "Cannot allocate %lld non-zero entries", (long long)nnz);
  }
  return SDT_OK;
}

void sdt_destroy(sdt_ctx* c) {
  if (!c) return;
  void* ps[] = {c->wT,     c->b,     c->phi,  c->mw,   c->vw,     c->mb,          c->vb,
                c->mphi,   c->vphi,  c->num,  c->den,  c->snum,   c->sden,        c->cnum,
                c->cden,   c->gw,    c->gb,   c->gphi, c->logq,   c->q,           c->leaf_arg,
                c->rowptr, c->col,   c->val,  c->tgt,  c->a,      c->p,           c->P,
                c->da,     c->mix,   c->v,    c->dpleaf, c->lossv, c->dbetav,     (void*)c->rc,
                (void*)c->rv, c->rn, (void*)c->rt, c->dpbuf, c->tcol, c->tval};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
  free(c);
}

int32_t sdt_create(sdt_ctx** out, int32_t depth, int32_t features, int32_t classes,
                   int32_t loss_kind, int32_t learn_beta, double inv_temp,
                   double penalty_strength, double penalty_decay, double ema_window,
                   double learning_rate, int32_t threads) {
  if (out) *out = NULL;
  SDT_TRY(check_create(out, depth, features, classes, loss_kind, learn_beta, inv_temp,
                       penalty_strength, penalty_decay, ema_window, learning_rate, threads));
  sdt_ctx* c = calloc(1, sizeof *c);
  if (!c) return fail(SDT_ERR_MEMORY, "Cannot allocate a tree context");
  c->D = depth, c->F = features, c->K = classes, c->L = 1 << depth, c->I = c->L - 1;
  c->Ip = (c->I + 7) / 8 * 8;
  c->loss = loss_kind, c->learn_beta = learn_beta != 0;
  c->strength = penalty_strength, c->decay = penalty_decay, c->window = ema_window;
  c->lr = learning_rate, c->beta = (float)inv_temp;
#ifdef _OPENMP
  c->threads = threads > 0 ? threads : omp_get_num_procs();
#else
  c->threads = 1;
  (void)threads;
#endif
  size_t FI = (size_t)c->F * c->Ip, Ip = c->Ip, LK = (size_t)c->L * c->K, I = c->I;
  c->wT = xalloc(FI * 4), c->mw = xalloc(FI * 4), c->vw = xalloc(FI * 4);
  c->gw = xalloc(FI * 4);
  c->b = xalloc(Ip * 4), c->mb = xalloc(Ip * 4), c->vb = xalloc(Ip * 4), c->gb = xalloc(Ip * 4);
  c->phi = xalloc(LK * 4), c->mphi = xalloc(LK * 4), c->vphi = xalloc(LK * 4);
  c->gphi = xalloc(LK * 4), c->logq = xalloc(LK * 4), c->q = xalloc(LK * 4);
  c->leaf_arg = xalloc((size_t)c->L * 4);
  c->num = xalloc(I * 4), c->den = xalloc(I * 4), c->cnum = xalloc(I * 4);
  c->cden = xalloc(I * 4);
  c->snum = xalloc(I * 8), c->sden = xalloc(I * 8);
  c->dpbuf = xalloc((size_t)c->threads * (c->I + c->L) * 4);
  if (!c->wT || !c->mw || !c->vw || !c->gw || !c->b || !c->mb || !c->vb || !c->gb || !c->phi ||
      !c->mphi || !c->vphi || !c->gphi || !c->logq || !c->q || !c->leaf_arg || !c->num ||
      !c->den || !c->cnum || !c->cden || !c->snum || !c->sden || !c->dpbuf) {
    sdt_destroy(c);
    return fail(SDT_ERR_MEMORY, "Cannot allocate a tree of depth %d over %d features", depth,
                features);
  }
  *out = c;
  return SDT_OK;
}

int32_t sdt_set_params(sdt_ctx* c, const float* w, const float* b, const float* phi,
                       float beta) {
  SDT_TRY(check_set_params(c, w, b, phi, beta));
  size_t F = c->F, Ip = c->Ip, I = c->I, LK = (size_t)c->L * c->K;
  for (size_t n = 0; n < I; n++)
    for (size_t j = 0; j < F; j++) c->wT[j * Ip + n] = w[n * F + j];
  memcpy(c->b, b, I * 4);
  memcpy(c->phi, phi, LK * 4);
  c->beta = beta;
  memset(c->mw, 0, F * Ip * 4), memset(c->vw, 0, F * Ip * 4);
  memset(c->mb, 0, Ip * 4), memset(c->vb, 0, Ip * 4);
  memset(c->mphi, 0, LK * 4), memset(c->vphi, 0, LK * 4);
  c->mbeta = c->vbeta = 0, c->t = 0;
  return SDT_OK;
}

int32_t sdt_get_params(float* w, float* b, float* phi, float* beta, const sdt_ctx* c) {
  SDT_TRY(check_get_params(w, b, phi, beta, c));
  size_t F = c->F, Ip = c->Ip, I = c->I;
  for (size_t n = 0; n < I; n++)
    for (size_t j = 0; j < F; j++) w[n * F + j] = c->wT[j * Ip + n];
  memcpy(b, c->b, I * 4);
  memcpy(phi, c->phi, (size_t)c->L * c->K * 4);
  *beta = c->beta;
  return SDT_OK;
}

int32_t sdt_set_penalty(sdt_ctx* c, const float* num, const float* den, int64_t steps) {
  SDT_TRY(check_set_penalty(c, num, den, steps));
  memcpy(c->num, num, (size_t)c->I * 4);
  memcpy(c->den, den, (size_t)c->I * 4);
  c->steps = steps;
  return SDT_OK;
}

int32_t sdt_get_penalty(float* num, float* den, int64_t* steps, const sdt_ctx* c) {
  SDT_TRY(check_get_penalty(num, den, steps, c));
  memcpy(num, c->num, (size_t)c->I * 4);
  memcpy(den, c->den, (size_t)c->I * 4);
  *steps = c->steps;
  return SDT_OK;
}

int32_t sdt_set_beta(sdt_ctx* c, float beta) {
  SDT_TRY(check_set_beta(c, beta));
  c->beta = beta;
  return SDT_OK;
}

/* Adam's moments in the parameters' layout: w [I, F] (stored transposed as wT [F, Ip]), b [I],
 * phi [L, K], beta. `out` copies the context's moments into m and v, else the other way. */
static void adam_copy(sdt_ctx* c, float* m, float* v, int out) {
  size_t F = c->F, Ip = c->Ip, I = c->I, LK = (size_t)c->L * c->K;
  float* mb = m + I * F;
  float* vb = v + I * F;
  for (size_t n = 0; n < I; n++)
    for (size_t j = 0; j < F; j++) {
      if (out) m[n * F + j] = c->mw[j * Ip + n], v[n * F + j] = c->vw[j * Ip + n];
      else c->mw[j * Ip + n] = m[n * F + j], c->vw[j * Ip + n] = v[n * F + j];
    }
  if (out) {
    memcpy(mb, c->mb, I * 4), memcpy(vb, c->vb, I * 4);
    memcpy(mb + I, c->mphi, LK * 4), memcpy(vb + I, c->vphi, LK * 4);
    mb[I + LK] = c->mbeta, vb[I + LK] = c->vbeta;
  } else {
    memcpy(c->mb, mb, I * 4), memcpy(c->vb, vb, I * 4);
    memcpy(c->mphi, mb + I, LK * 4), memcpy(c->vphi, vb + I, LK * 4);
    c->mbeta = mb[I + LK], c->vbeta = vb[I + LK];
  }
}

int32_t sdt_get_adam(float* m, float* v, int64_t* t, const sdt_ctx* c) {
  SDT_TRY(check_get_adam(m, v, t, c));
  adam_copy((sdt_ctx*)c, m, v, 1);
  *t = c->t;
  return SDT_OK;
}

int32_t sdt_set_adam(sdt_ctx* c, const float* m, const float* v, int64_t t) {
  SDT_TRY(check_set_adam(c, m, v, t));
  adam_copy(c, (float*)m, (float*)v, 0);
  c->t = t;
  return SDT_OK;
}

int32_t sdt_set_learning_rate(sdt_ctx* c, double lr) {
  SDT_TRY(check_set_learning_rate(c, lr));
  c->lr = lr;
  return SDT_OK;
}

int32_t sdt_set_train_data(sdt_ctx* c, const float* x, const float* targets, int32_t n) {
  SDT_TRY(check_set_train_data(c, x, targets, n, c ? c->F : 0, c ? c->K : 0));
  size_t F = c->F, K = c->K;
  int64_t nnz = 0;
  for (size_t i = 0; i < (size_t)n * F; i++) nnz += x[i] != 0.0f;
  free(c->rowptr), free(c->col), free(c->val), free(c->tgt);
  c->rowptr = xalloc(((size_t)n + 1) * 8);
  c->col = xalloc((size_t)nnz * 4), c->val = xalloc((size_t)nnz * 4);
  c->tgt = xalloc((size_t)n * K * 4);
  c->n = 0;
  if (!c->rowptr || !c->col || !c->val || !c->tgt)
    return fail(SDT_ERR_MEMORY, "Cannot keep a training set of %d rows resident", n);
  int64_t e = 0;
  for (size_t r = 0; r < (size_t)n; r++) {
    c->rowptr[r] = e;
    for (size_t j = 0; j < F; j++) {
      float v = x[r * F + j];
      if (v != 0.0f) c->col[e] = (int32_t)j, c->val[e] = v, e++;
    }
  }
  c->rowptr[n] = e;
  memcpy(c->tgt, targets, (size_t)n * K * 4);
  c->n = n;
  return SDT_OK;
}

/* ---------------------------------------------------------------- kernels */

/* out[0 .. 8NV) = bias + sum_e val[e] W[col[e], 0 .. 8NV) (W rows of stride Ip). */
static inline __attribute__((always_inline)) void fwd_kernel(
    float* restrict out, const float* restrict W, size_t Ip, const float* restrict bias,
    const int32_t* restrict col, const float* restrict val, int nnz, const int NV) {
  v8f acc[8];
  for (int q = 0; q < NV; q++) acc[q] = ld8(bias + 8 * q);
  for (int e = 0; e < nnz; e++) {
    const float* w = W + (size_t)col[e] * Ip;
    const float x = val[e];
    for (int q = 0; q < NV; q++) acc[q] += x * ld8(w + 8 * q);
  }
  for (int q = 0; q < NV; q++) st8(out + 8 * q, acc[q]);
}

/* G[col[e], 0 .. 8NV) += val[e] d[0 .. 8NV) for every e. */
static inline __attribute__((always_inline)) void grad_kernel(
    float* restrict G, size_t Ip, const float* restrict d, const int32_t* restrict col,
    const float* restrict val, int nnz, const int NV) {
  v8f dv[8];
  for (int q = 0; q < NV; q++) dv[q] = ld8(d + 8 * q);
  for (int e = 0; e < nnz; e++) {
    float* g = G + (size_t)col[e] * Ip;
    const float x = val[e];
    for (int q = 0; q < NV; q++) st8(g + 8 * q, ld8(g + 8 * q) + x * dv[q]);
  }
}

static int block_vectors(const sdt_ctx* c) { return c->Ip >= 64 ? 8 : c->Ip / 8; }

static void fwd_block(sdt_ctx* c, int s, int blk, int NV) {
  size_t n0 = (size_t)blk * 8 * NV, Ip = c->Ip;
  float* out = c->a + (size_t)s * Ip + n0;
  const float* W = c->wT + n0;
  const float* bias = c->b + n0;
  switch (NV) {
    case 8: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 8); break;
    case 4: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 4); break;
    case 2: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 2); break;
    default: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 1); break;
  }
}

static void grad_block(sdt_ctx* c, int s, int blk, int NV, int e0, int e1) {
  size_t n0 = (size_t)blk * 8 * NV, Ip = c->Ip;
  const float* d = c->da + (size_t)s * Ip + n0;
  float* G = c->gw + n0;
  const int32_t* col = c->rc[s] + e0;
  const float* val = c->rv[s] + e0;
  int nnz = e1 - e0;
  switch (NV) {
    case 8: grad_kernel(G, Ip, d, col, val, nnz, 8); break;
    case 4: grad_kernel(G, Ip, d, col, val, nnz, 4); break;
    case 2: grad_kernel(G, Ip, d, col, val, nnz, 2); break;
    default: grad_kernel(G, Ip, d, col, val, nnz, 1); break;
  }
}

static double batch_nnz(const sdt_ctx* c, int B) {
  double s = 0;
  for (int i = 0; i < B; i++) s += c->rn[i];
  return s;
}

/* a [B, Ip] = x . w + b for the batch in rc/rv/rn. */
static void forward_linear(sdt_ctx* c, int B) {
  int NV = block_vectors(c), nb = c->Ip / (8 * NV), nt = nthreads(c);
  int par = nt > 1 && batch_nnz(c, B) * c->Ip > PAR_WORK;
  if (!par) {
    for (int s = 0; s < B; s++)
      for (int k = 0; k < nb; k++) fwd_block(c, s, k, NV);
  } else if (nb >= nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int k = 0; k < nb; k++)
      for (int s = 0; s < B; s++) fwd_block(c, s, k, NV);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int s = 0; s < B; s++)
      for (int k = 0; k < nb; k++) fwd_block(c, s, k, NV);
  }
}

static int lower_bound(const int32_t* a, int n, int32_t key) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* gw [F, Ip] = sum_s x_s da_s^T, each entry summed over s in order. */
static void backward_linear(sdt_ctx* c, int B) {
  int NV = block_vectors(c), nb = c->Ip / (8 * NV), nt = nthreads(c);
  memset(c->gw, 0, (size_t)c->F * c->Ip * 4);
  int par = nt > 1 && batch_nnz(c, B) * c->Ip > PAR_WORK;
  if (!par) {
    for (int s = 0; s < B; s++)
      for (int k = 0; k < nb; k++) grad_block(c, s, k, NV, 0, c->rn[s]);
  } else if (nb >= nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int k = 0; k < nb; k++)
      for (int s = 0; s < B; s++) grad_block(c, s, k, NV, 0, c->rn[s]);
  } else {
    /* Few node blocks: split the features instead (rows of gw are disjoint). */
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
      int t = 0, T = 1;
#endif
      int32_t f0 = (int32_t)((int64_t)c->F * t / T), f1 = (int32_t)((int64_t)c->F * (t + 1) / T);
      for (int s = 0; s < B; s++) {
        int e0 = lower_bound(c->rc[s], c->rn[s], f0), e1 = lower_bound(c->rc[s], c->rn[s], f1);
        if (e1 > e0)
          for (int k = 0; k < nb; k++) grad_block(c, s, k, NV, e0, e1);
      }
    }
  }
}

/* logq, q = log_softmax(phi), softmax(phi); leaf_arg = argmax per leaf. */
static void leaf_tables(sdt_ctx* c) {
  int K = c->K;
  for (int l = 0; l < c->L; l++) {
    const float* ph = c->phi + (size_t)l * K;
    float mx = ph[0];
    int arg = 0;
    for (int k = 1; k < K; k++)
      if (ph[k] > mx) mx = ph[k], arg = k;
    double se = 0;
    for (int k = 0; k < K; k++) se += exp((double)ph[k] - mx);
    float lse = (float)(mx + log(se));
    for (int k = 0; k < K; k++) {
      c->logq[(size_t)l * K + k] = ph[k] - lse;
      c->q[(size_t)l * K + k] = expf(ph[k] - lse);
    }
    c->leaf_arg[l] = arg;
  }
}

/* p [s, I], P [s, I + L] and the mixture [s, K] from a [s, Ip]. */
static void route_row(sdt_ctx* c, int s) {
  int I = c->I, L = c->L, K = c->K;
  const float* a = c->a + (size_t)s * c->Ip;
  float* p = c->p + (size_t)s * c->Ip;
  float* P = c->P + (size_t)s * (I + L);
  float* mix = c->mix + (size_t)s * K;
  const float beta = c->beta;
  for (int n = 0; n < I; n++) p[n] = 1.0f / (1.0f + expf(-(beta * a[n])));
  P[0] = 1.0f;
  for (int n = 0; n < I; n++) {
    P[2 * n + 1] = P[n] * (1.0f - p[n]);
    P[2 * n + 2] = P[n] * p[n];
  }
  const float* leaf = P + I;
  for (int k = 0; k < K; k++) mix[k] = 0;
  for (int l = 0; l < L; l++) {
    const float pl = leaf[l], *q = c->q + (size_t)l * K;
    for (int k = 0; k < K; k++) mix[k] += pl * q[k];
  }
}

/* L(x) of row s; with want_grad also d objective / d P^l into dpleaf and v (see phi grad). */
static void loss_row(sdt_ctx* c, int s, int B, int want_grad) {
  int I = c->I, L = c->L, K = c->K;
  const float* leaf = c->P + (size_t)s * (I + L) + I;
  const float* T = c->rt[s];
  const float* mix = c->mix + (size_t)s * K;
  float* dpl = c->dpleaf + (size_t)s * L;
  float* v = c->v + (size_t)s * K;
  const float invB = 1.0f / (float)B;
  double loss = 0;
  if (c->loss == SDT_LOSS_EXPECTED) {
    for (int l = 0; l < L; l++) {
      const float* lq = c->logq + (size_t)l * K;
      float cost = 0;
      for (int k = 0; k < K; k++) cost -= T[k] * lq[k];
      loss += (double)leaf[l] * cost;
      if (want_grad) dpl[l] = cost * invB;
    }
    if (want_grad)
      for (int k = 0; k < K; k++) v[k] = T[k];
  } else {
    for (int k = 0; k < K; k++) {
      float m = mix[k] > MIX_EPS ? mix[k] : MIX_EPS;
      loss -= (double)T[k] * logf(m);
      v[k] = mix[k] >= MIX_EPS ? T[k] / mix[k] : 0.0f;
    }
    if (want_grad)
      for (int l = 0; l < L; l++) {
        const float* q = c->q + (size_t)l * K;
        float g = 0;
        for (int k = 0; k < K; k++) g += v[k] * q[k];
        dpl[l] = -g * invB;
      }
  }
  c->lossv[s] = loss;
}

/* Penalty C of the batch; fills snum/sden and the per-sample gradient factors cnum/cden. */
static double penalty_prepare(sdt_ctx* c, int B) {
  int I = c->I, L = c->L;
  for (int n = 0; n < I; n++) c->snum[n] = 0, c->sden[n] = 0;
  for (int s = 0; s < B; s++) {
    const float* P = c->P + (size_t)s * (I + L);
    const float* p = c->p + (size_t)s * c->Ip;
    for (int n = 0; n < I; n++) {
      c->snum[n] += (double)(P[n] * p[n]);
      c->sden[n] += (double)P[n];
    }
  }
  const double lo = (double)(float)ALPHA_EPS, hi = (double)(float)(1.0 - ALPHA_EPS);
  double C = 0;
  for (int n = 0; n < I; n++) {
    int d = depth_of(n);
    double mnum = c->snum[n] / B, mden = c->sden[n] / B;
    double lam = c->steps == 0 ? 1.0 : fmin(1.0, B / (c->window * ldexp(1.0, d)));
    double Sn = (1 - lam) * c->num[n] + lam * mnum, Sd = (1 - lam) * c->den[n] + lam * mden;
    c->snum[n] = Sn, c->sden[n] = Sd;
    double deneff = Sd > DEN_EPS ? Sd : DEN_EPS;
    double alpha = Sn / deneff;
    int clamped = !(alpha >= lo && alpha <= hi);
    double ac = alpha < lo ? lo : alpha > hi ? hi : alpha;
    double coef = c->strength * pow(c->decay, d);
    C -= coef * (0.5 * log(ac) + 0.5 * log(1 - ac));
    double ga = clamped ? 0.0 : -coef * 0.5 * (1.0 / ac - 1.0 / (1.0 - ac));
    double dSn = ga / deneff, dSd = Sd >= DEN_EPS ? -ga * Sn / (deneff * deneff) : 0.0;
    c->cnum[n] = (float)(lam * dSn / B);
    c->cden[n] = (float)(lam * dSd / B);
  }
  return C;
}

/* Back-propagate row s from dpleaf through the tree into da [s, Ip] and dbetav[s]. */
static void backward_row(sdt_ctx* c, int s, float* dP) {
  int I = c->I, L = c->L, Ip = c->Ip;
  const float* a = c->a + (size_t)s * Ip;
  const float* p = c->p + (size_t)s * Ip;
  const float* P = c->P + (size_t)s * (I + L);
  float* da = c->da + (size_t)s * Ip;
  memcpy(dP + I, c->dpleaf + (size_t)s * L, (size_t)L * 4);
  const float beta = c->beta;
  double db = 0;
  for (int n = I - 1; n >= 0; n--) {
    const float dl = dP[2 * n + 1], dr = dP[2 * n + 2], pn = p[n], Pn = P[n];
    const float dp = Pn * (dr - dl) + c->cnum[n] * Pn;
    dP[n] = dl * (1.0f - pn) + dr * pn + c->cnum[n] * pn + c->cden[n];
    const float dz = dp * pn * (1.0f - pn);
    da[n] = dz * beta;
    db += (double)dz * a[n];
  }
  for (int n = I; n < Ip; n++) da[n] = 0;
  c->dbetav[s] = db;
}

static void phi_grad(sdt_ctx* c, int B) {
  int I = c->I, L = c->L, K = c->K;
  const float invB = 1.0f / (float)B;
  int par = nthreads(c) > 1 && (double)B * L * K > PAR_WORK;
#pragma omp parallel for num_threads(nthreads(c)) schedule(static) if (par)
  for (int l = 0; l < L; l++) {
    float g[1024], u = 0;
    float* G = K <= 1024 ? g : NULL;
    float* out = c->gphi + (size_t)l * K;
    const float* q = c->q + (size_t)l * K;
    if (!G) G = out; /* very many classes: accumulate in place */
    for (int k = 0; k < K; k++) G[k] = 0;
    for (int s = 0; s < B; s++) {
      const float pl = c->P[(size_t)s * (I + L) + I + l];
      const float* v = c->v + (size_t)s * K;
      float sv = 0;
      for (int k = 0; k < K; k++) G[k] += pl * v[k], sv += v[k];
      u += pl * sv;
    }
    if (c->loss == SDT_LOSS_EXPECTED) {
      /* d/dphi_lj = mean_x P^l (Q_lj sum_k T_k - T_j) */
      for (int k = 0; k < K; k++) out[k] = (q[k] * u - G[k]) * invB;
    } else {
      /* dQ_lk = -mean_x P^l T_k / M_k; softmax backward */
      float dot = 0;
      for (int k = 0; k < K; k++) dot += -G[k] * invB * q[k];
      for (int k = 0; k < K; k++) out[k] = q[k] * (-G[k] * invB - dot);
    }
  }
}

/* Loss, penalty and (with want_grad) gradients of the batch in rc/rv/rn/rt. */
static void batch_objective(sdt_ctx* c, int B, int want_grad, double* loss, double* penalty) {
  int I = c->I, L = c->L, K = c->K, nt = nthreads(c);
  leaf_tables(c);
  forward_linear(c, B);
  int par = nt > 1 && (double)B * (I + (double)L * K) > PAR_WORK;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
  for (int s = 0; s < B; s++) {
    route_row(c, s);
    loss_row(c, s, B, want_grad);
  }
  double ls = 0;
  for (int s = 0; s < B; s++) ls += c->lossv[s];
  *loss = ls / B;
  *penalty = penalty_prepare(c, B);
  if (!want_grad) return;
#pragma omp parallel num_threads(nt) if (par)
  {
#ifdef _OPENMP
    float* dP = c->dpbuf + (size_t)omp_get_thread_num() * (I + L);
#else
    float* dP = c->dpbuf;
#endif
#pragma omp for schedule(static)
    for (int s = 0; s < B; s++) backward_row(c, s, dP);
  }
  backward_linear(c, B);
  int Ip = c->Ip;
  for (int n = 0; n < Ip; n++) c->gb[n] = 0;
  double gbeta = 0;
  for (int s = 0; s < B; s++) {
    const float* da = c->da + (size_t)s * Ip;
    for (int n = 0; n < Ip; n++) c->gb[n] += da[n];
    gbeta += c->dbetav[s];
  }
  c->gbeta = gbeta;
  phi_grad(c, B);
}

static void adam_vec(float* restrict w, float* restrict m, float* restrict v,
                     const float* restrict g, size_t n, float lr, float bc1, float bc2) {
  for (size_t i = 0; i < n; i++) {
    const float mi = ADAM_B1 * m[i] + (1.0f - ADAM_B1) * g[i];
    const float vi = ADAM_B2 * v[i] + (1.0f - ADAM_B2) * (g[i] * g[i]);
    m[i] = mi, v[i] = vi;
    w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + ADAM_EPS);
  }
}

static void adam_step(sdt_ctx* c) {
  c->t++;
  const float bc1 = (float)(1.0 - pow(ADAM_B1, (double)c->t));
  const float bc2 = (float)(1.0 - pow(ADAM_B2, (double)c->t));
  const float lr = (float)c->lr;
  size_t FI = (size_t)c->F * c->Ip;
  int nt = nthreads(c);
  if (nt > 1 && FI > (size_t)PAR_WORK) {
    size_t chunk = (FI / nt + 63) / 64 * 64;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
      size_t i0 = (size_t)t * chunk, i1 = i0 + chunk < FI ? i0 + chunk : FI;
      if (i0 < i1) adam_vec(c->wT + i0, c->mw + i0, c->vw + i0, c->gw + i0, i1 - i0, lr, bc1, bc2);
    }
  } else {
    adam_vec(c->wT, c->mw, c->vw, c->gw, FI, lr, bc1, bc2);
  }
  adam_vec(c->b, c->mb, c->vb, c->gb, (size_t)c->I, lr, bc1, bc2);
  adam_vec(c->phi, c->mphi, c->vphi, c->gphi, (size_t)c->L * c->K, lr, bc1, bc2);
  if (c->learn_beta) {
    float g = (float)c->gbeta;
    adam_vec(&c->beta, &c->mbeta, &c->vbeta, &g, 1, lr, bc1, bc2);
  }
}

static void penalty_commit(sdt_ctx* c) {
  for (int n = 0; n < c->I; n++) c->num[n] = (float)c->snum[n], c->den[n] = (float)c->sden[n];
  c->steps++;
}

/* Point rc/rv/rn at a CSR copy of the dense rows x [B, F] (and rt at targets, if any). */
static int32_t view_dense(sdt_ctx* c, const float* x, const float* targets, int B) {
  size_t F = c->F;
  int64_t nnz = 0;
  for (size_t i = 0; i < (size_t)B * F; i++) nnz += x[i] != 0.0f;
  int32_t st = ensure_cap(c, B);
  if (st) return st;
  if ((st = ensure_tmp(c, nnz))) return st;
  int64_t e = 0;
  for (int s = 0; s < B; s++) {
    const float* row = x + (size_t)s * F;
    int64_t e0 = e;
    for (size_t j = 0; j < F; j++)
      if (row[j] != 0.0f) c->tcol[e] = (int32_t)j, c->tval[e] = row[j], e++;
    c->rc[s] = c->tcol + e0, c->rv[s] = c->tval + e0, c->rn[s] = (int32_t)(e - e0);
    c->rt[s] = targets ? targets + (size_t)s * c->K : NULL;
  }
  return SDT_OK;
}

/* ---------------------------------------------------------------- API */

int32_t sdt_train_samples(double* loss_sum, double* penalty_sum, int32_t* batches, sdt_ctx* c,
                          const int32_t* order, int32_t n, int32_t batch_size) {
  SDT_TRY(check_train_samples(loss_sum, penalty_sum, batches, c, order, n, batch_size,
                              c ? c->n : 0));
  int32_t st = ensure_cap(c, batch_size < n ? batch_size : (n > 0 ? n : 1));
  if (st) return st;
  double ls = 0, ps = 0;
  int32_t nb = 0;
  for (int32_t i0 = 0; i0 < n; i0 += batch_size) {
    int B = n - i0 < batch_size ? n - i0 : batch_size;
    for (int s = 0; s < B; s++) {
      int32_t r = order[i0 + s];
      c->rc[s] = c->col + c->rowptr[r], c->rv[s] = c->val + c->rowptr[r];
      c->rn[s] = (int32_t)(c->rowptr[r + 1] - c->rowptr[r]);
      c->rt[s] = c->tgt + (size_t)r * c->K;
    }
    double loss, pen;
    batch_objective(c, B, 1, &loss, &pen);
    adam_step(c);
    penalty_commit(c);
    ls += loss * B, ps += pen, nb++;
  }
  *loss_sum = ls, *penalty_sum = ps, *batches = nb;
  return SDT_OK;
}

int32_t sdt_train_step(double* loss, double* penalty, sdt_ctx* c, const float* x,
                       const float* targets, int32_t batch) {
  SDT_TRY(check_train_step(loss, penalty, c));
  SDT_TRY(check_batch("sdt_train_step", x, targets, batch, c->F, c->K));
  int32_t st = view_dense(c, x, targets, batch);
  if (st) return st;
  batch_objective(c, batch, 1, loss, penalty);
  adam_step(c);
  penalty_commit(c);
  return SDT_OK;
}

int32_t sdt_gradients(float* dw, float* db, float* dphi, double* dbeta, double* loss,
                      double* penalty, sdt_ctx* c, const float* x, const float* targets,
                      int32_t batch) {
  SDT_TRY(check_gradients(dw, db, dphi, dbeta, loss, penalty, c));
  SDT_TRY(check_batch("sdt_gradients", x, targets, batch, c->F, c->K));
  int32_t st = view_dense(c, x, targets, batch);
  if (st) return st;
  batch_objective(c, batch, 1, loss, penalty);
  size_t F = c->F, Ip = c->Ip;
  for (size_t n = 0; n < (size_t)c->I; n++)
    for (size_t j = 0; j < F; j++) dw[n * F + j] = c->gw[j * Ip + n];
  memcpy(db, c->gb, (size_t)c->I * 4);
  memcpy(dphi, c->gphi, (size_t)c->L * c->K * 4);
  *dbeta = c->gbeta;
  return SDT_OK;
}

/* Forward rows [0, B) of the current view; predictions into the given outputs at offset. */
static void forward_rows(sdt_ctx* c, int B) {
  forward_linear(c, B);
  int nt = nthreads(c);
  int par = nt > 1 && (double)B * (c->I + (double)c->L * c->K) > PAR_WORK;
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
  for (int s = 0; s < B; s++) route_row(c, s);
}

static void predict_row(const sdt_ctx* c, int s, int32_t* pml, int32_t* pmx, int32_t* ml) {
  const float* leaf = c->P + (size_t)s * (c->I + c->L) + c->I;
  int best = 0;
  for (int l = 1; l < c->L; l++)
    if (leaf[l] > leaf[best]) best = l;
  const float* mix = c->mix + (size_t)s * c->K;
  int bk = 0;
  for (int k = 1; k < c->K; k++)
    if (mix[k] > mix[bk]) bk = k;
  *ml = best, *pml = c->leaf_arg[best], *pmx = bk;
}

/* Forward B <= CHUNK dense rows of x; every output (row-major, B rows) may be NULL. */
static int32_t forward_chunk(sdt_ctx* c, const float* x, int B, float* inner, float* leaf,
                             float* mixture, int32_t* pred_max_leaf, int32_t* pred_mixture,
                             int32_t* max_leaf) {
  int32_t st = view_dense(c, x, NULL, B);
  if (st) return st;
  forward_rows(c, B);
  int I = c->I, L = c->L, K = c->K;
  for (int s = 0; s < B; s++) {
    if (inner) memcpy(inner + (size_t)s * I, c->p + (size_t)s * c->Ip, (size_t)I * 4);
    if (leaf) memcpy(leaf + (size_t)s * L, c->P + (size_t)s * (I + L) + I, (size_t)L * 4);
    if (mixture) memcpy(mixture + (size_t)s * K, c->mix + (size_t)s * K, (size_t)K * 4);
    int32_t a, b, m;
    predict_row(c, s, &a, &b, &m);
    if (pred_max_leaf) pred_max_leaf[s] = a;
    if (pred_mixture) pred_mixture[s] = b;
    if (max_leaf) max_leaf[s] = m;
  }
  return SDT_OK;
}

int32_t sdt_forward(float* inner, float* leaf, float* mixture, int32_t* pred_max_leaf,
                    int32_t* pred_mixture, int32_t* max_leaf, sdt_ctx* c, const float* x,
                    int32_t n) {
  SDT_TRY(check_forward(c, x, n, c ? c->F : 0));
  leaf_tables(c);
  for (int r0 = 0; r0 < n; r0 += CHUNK) {
    int B = n - r0 < CHUNK ? n - r0 : CHUNK;
    size_t r = (size_t)r0;
    int32_t st = forward_chunk(c, x + r * c->F, B, inner ? inner + r * c->I : NULL,
                               leaf ? leaf + r * c->L : NULL,
                               mixture ? mixture + r * c->K : NULL,
                               pred_max_leaf ? pred_max_leaf + r : NULL,
                               pred_mixture ? pred_mixture + r : NULL,
                               max_leaf ? max_leaf + r : NULL);
    if (st) return st;
  }
  return SDT_OK;
}

int32_t sdt_evaluate(double* accuracy_max_leaf, double* accuracy_mixture,
                     int32_t* pred_max_leaf, int32_t* pred_mixture, sdt_ctx* c, const float* x,
                     const int32_t* labels, int32_t n) {
  SDT_TRY(check_evaluate(accuracy_max_leaf, accuracy_mixture, c, x, labels, n,
                         c ? c->F : 0));
  leaf_tables(c);
  int64_t ok1 = 0, ok2 = 0;
  int32_t p1[CHUNK], p2[CHUNK];
  for (int r0 = 0; r0 < n; r0 += CHUNK) {
    int B = n - r0 < CHUNK ? n - r0 : CHUNK;
    int32_t st = forward_chunk(c, x + (size_t)r0 * c->F, B, NULL, NULL, NULL, p1, p2, NULL);
    if (st) return st;
    for (int s = 0; s < B; s++) {
      ok1 += p1[s] == labels[r0 + s], ok2 += p2[s] == labels[r0 + s];
      if (pred_max_leaf) pred_max_leaf[r0 + s] = p1[s];
      if (pred_mixture) pred_mixture[r0 + s] = p2[s];
    }
  }
  *accuracy_max_leaf = (double)ok1 / n, *accuracy_mixture = (double)ok2 / n;
  return SDT_OK;
}
