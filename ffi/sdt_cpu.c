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
 *   once; batches passed in dense are converted on the fly (a vectorised scan, 8 inputs a
 *   step). Where the sparse rows stop paying: bench/results/tree_hotpath.md ("Sparse or
 *   dense": inputs denser than about 17-28% non-zeros).
 * - The filters are stored feature-major, wT [F, Ip] with Ip = I rounded up to 8, so that
 *   one non-zero feature updates a contiguous run of nodes: the inner loops are 8-wide
 *   vector multiply-adds (GCC vector extensions), blocked by 64 nodes so that a block of wT
 *   stays in cache while the batch streams past it. Padding nodes have zero weights and zero
 *   gradients, so Adam leaves them at zero. Trees of several node blocks take the weight
 *   gradient by features (each gradient vector summed in registers, written once).
 * - The passes through the tree (path probabilities, the backward pass) run level by level,
 *   8 nodes a vector.
 * - Adam is dense and vectorised (no lazy tricks: exactness first), fused into the weight
 *   gradient's pass while the gradient is in cache.
 * - The thread pool (cpu_pool.h) splits large work by node blocks, features or samples,
 *   never by splitting a sum: every number is summed in the same order whatever the thread
 *   count, so results are deterministic (and identical across thread counts).
 */
#define _GNU_SOURCE /* sched_getaffinity, in cpu_pool.h */
#include "sdt_common.h"
#include "cpu_pool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Rows per chunk when forwarding or evaluating a large split. */
#define CHUNK 1024
/* Below this many multiply-adds (or comparable elementwise operations) a parallel region
 * costs more than it saves: a fork-join of two OpenMP threads is a few microseconds, that is
 * ~1e4 multiply-adds; 1e5 keeps the seed's depth 4, batch 4 serial (its whole step is ~2e4)
 * and splits every pass of depth 8, batch 64 (measured in bench/results/tree_hotpath.md). */
#define PAR_WORK 1e5

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

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
  return "cpu (" CC_NAME ", " TARGET_NAME SIMD_NAME ")";
}

int32_t sdt_probe(char* info, int32_t cap) {
  SDT_TRY(check_probe(info, cap));
  if (cap > 0) snprintf(info, (size_t)cap, "%s", sdt_build_info());
  g_error[0] = 0;
  return SDT_OK;
}

/* ---------------------------------------------------------------- context */

struct sdt_ctx {
  int D, F, K, I, L, Ip, BW, bw_shift, loss, learn_beta, threads;
  double strength, decay, window, lr;
  float beta;
  float* wT;  /* [Ip / BW, F, BW]: w's transpose in blocks of BW nodes (see widx) */
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
  float *gw, *gb, *gphi; /* like wT, [Ip], [L, K] */
  double gbeta;
  /* leaf tables */
  float *logq, *q; /* [L, K] */
  float *logqT, *qT; /* [K, L] the same, transposed: the per-sample passes run along L */
  float *gT, *u;     /* [K, L], [L] the leaf gradient's sums over the batch */
  int32_t* leaf_arg; /* [L] argmax_k Q^l_k */
  /* resident training set (CSR) */
  int32_t n;
  int64_t* rowptr; /* [N + 1] */
  int32_t* col;
  float* val;
  float* tgt; /* [N, K] */
  /* batch scratch, capacity cap rows */
  int cap;
  float *a, *p, *P; /* [cap, Ip], [cap, Ip], [cap, I + L] */
  float* da;         /* [Ip / BW, cap, BW]: by node blocks, see daidx */
  float *mix, *v;        /* [cap, K] */
  float* dpleaf;         /* [cap, L] */
  double *lossv, *dbetav; /* [cap] */
  const int32_t** rc;
  const float** rv;
  int32_t* rn;
  const float** rt;
  float* dpbuf; /* [threads, I + L] */
  /* the batch by features (CSC), for the weight gradient: feature j's entries are
   * [fptr[j], fptr[j + 1]) of frow (row in the batch, increasing) and fval */
  int64_t *fptr, *fcur; /* [F + 1] */
  int32_t* frow;
  float* fval;
  int64_t fcap;
  /* on-the-fly CSR of a dense batch */
  int64_t tcap;
  int32_t* tcol;
  float* tval;
};

/* Where filter weight (node n, feature j) lives in wT (and mw, vw, gw): blocks of BW nodes,
 * each block feature-major [F, BW] and contiguous. One feature's BW nodes are a run of whole
 * vectors, and a block (F BW floats, 200 KB for MNIST) streams through the cache without
 * the conflict misses of rows Ip floats apart (4 KB at depth 10: every row in the same few
 * cache sets). */
static inline size_t widx(const sdt_ctx* c, size_t j, size_t n) {
  size_t BW = (size_t)c->BW;
  return (n / BW) * (size_t)c->F * BW + j * BW + n % BW;
}

/* Where d objective / d a of (row s, node n) lives in da: by blocks of BW nodes, each block
 * [cap, BW] and contiguous, so that the weight gradient's pass over one block reads rows BW
 * floats apart (rows Ip floats apart, 4 KB at depth 10, fall into the same few cache sets). */
static inline size_t daidx(const sdt_ctx* c, size_t s, size_t n) {
  const int sh = c->bw_shift; /* BW = 2^bw_shift */
  return (((n >> sh) * (size_t)c->cap + s) << sh) + (n & (((size_t)1 << sh) - 1));
}

static void* xalloc(size_t bytes) {
  size_t n = (bytes + 63) / 64 * 64;
  if (n == 0) n = 64;
  void* p = aligned_alloc(64, n);
  if (p) memset(p, 0, n);
  return p;
}

static int nthreads(const sdt_ctx* c) { return c->threads; }

/* fn(c, i0, i1, chunk, arg): items [i0, i1) of a pass, as chunk `chunk` of the pass. */
typedef void (*range_fn)(sdt_ctx* c, int64_t i0, int64_t i1, int chunk, const void* arg);

typedef struct {
  sdt_ctx* c;
  range_fn fn;
  const void* arg;
  int64_t n, per;
} range_job;

static void range_chunk(void* ctx, int64_t k) {
  const range_job* j = (const range_job*)ctx;
  int64_t i0 = k * j->per, i1 = i0 + j->per < j->n ? i0 + j->per : j->n;
  if (i0 < i1) j->fn(j->c, i0, i1, (int)k, j->arg);
}

/* fn over items [0, n), cut into ranges of whole multiples of `align` items: `chunks` of them
 * (0: four per thread, so that a worker the scheduler runs late holds up a small part), on
 * the context's threads when the pass is worth `work` multiply-adds or more than PAR_WORK,
 * else in one call (chunk 0). fn's results must not depend on the cut (split rows, nodes or
 * features, never a sum), so they are the same whatever the thread count. */
static void par_range(sdt_ctx* c, int64_t n, int64_t align, int chunks, double work, range_fn fn,
                      const void* arg) {
  int T = nthreads(c);
  if (T <= 1 || work <= PAR_WORK || n <= align) {
    if (n > 0) fn(c, 0, n, 0, arg);
    return;
  }
  if (chunks <= 0) chunks = 4 * T;
  int64_t per = ((n + chunks - 1) / chunks + align - 1) / align * align;
  range_job job = {c, fn, arg, n, per};
  parallel_for((n + per - 1) / per, T, range_chunk, &job);
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
                (void*)c->rv, c->rn, (void*)c->rt, c->dpbuf, c->tcol, c->tval,
                c->logqT, c->qT, c->gT, c->u, c->fptr, c->fcur, c->frow, c->fval};
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
  c->BW = c->Ip >= 64 ? 64 : c->Ip; /* Ip is a multiple of 64 from depth 6 on */
  while ((1 << c->bw_shift) < c->BW) c->bw_shift++; /* BW is 8, 16, 32 or 64 */
  c->loss = loss_kind, c->learn_beta = learn_beta != 0;
  c->strength = penalty_strength, c->decay = penalty_decay, c->window = ema_window;
  c->lr = learning_rate, c->beta = (float)inv_temp;
  c->threads = threads > 0 ? threads : cores();
  size_t FI = (size_t)c->F * c->Ip, Ip = c->Ip, LK = (size_t)c->L * c->K, I = c->I;
  c->wT = xalloc(FI * 4), c->mw = xalloc(FI * 4), c->vw = xalloc(FI * 4);
  c->gw = xalloc(FI * 4);
  c->b = xalloc(Ip * 4), c->mb = xalloc(Ip * 4), c->vb = xalloc(Ip * 4), c->gb = xalloc(Ip * 4);
  c->phi = xalloc(LK * 4), c->mphi = xalloc(LK * 4), c->vphi = xalloc(LK * 4);
  c->gphi = xalloc(LK * 4), c->logq = xalloc(LK * 4), c->q = xalloc(LK * 4);
  c->logqT = xalloc(LK * 4), c->qT = xalloc(LK * 4), c->gT = xalloc(LK * 4);
  c->u = xalloc((size_t)c->L * 4);
  c->leaf_arg = xalloc((size_t)c->L * 4);
  c->num = xalloc(I * 4), c->den = xalloc(I * 4), c->cnum = xalloc(I * 4);
  c->cden = xalloc(I * 4);
  c->snum = xalloc(I * 8), c->sden = xalloc(I * 8);
  c->dpbuf = xalloc((size_t)c->threads * (c->I + c->L) * 4);
  c->fptr = xalloc(((size_t)c->F + 1) * 8), c->fcur = xalloc(((size_t)c->F + 1) * 8);
  if (!c->wT || !c->mw || !c->vw || !c->gw || !c->b || !c->mb || !c->vb || !c->gb || !c->phi ||
      !c->mphi || !c->vphi || !c->gphi || !c->logq || !c->q || !c->logqT || !c->qT || !c->gT || !c->u || !c->leaf_arg || !c->num ||
      !c->den || !c->cnum || !c->cden || !c->snum || !c->sden || !c->dpbuf || !c->fptr || !c->fcur) {
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
    for (size_t j = 0; j < F; j++) c->wT[widx(c, j, n)] = w[n * F + j];
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
  size_t F = c->F, I = c->I;
  for (size_t n = 0; n < I; n++)
    for (size_t j = 0; j < F; j++) w[n * F + j] = c->wT[widx(c, j, n)];
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
  size_t F = c->F, I = c->I, LK = (size_t)c->L * c->K;
  float* mb = m + I * F;
  float* vb = v + I * F;
  for (size_t n = 0; n < I; n++)
    for (size_t j = 0; j < F; j++) {
      size_t i = widx(c, j, n);
      if (out) m[n * F + j] = c->mw[i], v[n * F + j] = c->vw[i];
      else c->mw[i] = m[n * F + j], c->vw[i] = v[n * F + j];
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

/* out[0 .. 8NV) = bias + sum_e val[e] W[col[e], 0 .. 8NV) (W rows of stride Ip = BW). */
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

static int block_vectors(const sdt_ctx* c) { return c->BW / 8; }

static void fwd_block(sdt_ctx* c, int s, int blk, int NV) {
  size_t n0 = (size_t)blk * 8 * NV, Ip = c->BW;
  float* out = c->a + (size_t)s * c->Ip + n0;
  const float* W = c->wT + (size_t)blk * c->F * c->BW;
  const float* bias = c->b + n0;
  switch (NV) {
    case 8: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 8); break;
    case 4: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 4); break;
    case 2: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 2); break;
    default: fwd_kernel(out, W, Ip, bias, c->rc[s], c->rv[s], c->rn[s], 1); break;
  }
}

static double batch_nnz(const sdt_ctx* c, int B) {
  double s = 0;
  for (int i = 0; i < B; i++) s += c->rn[i];
  return s;
}

/* Node blocks [k0, k1) (by_rows 0) or rows [k0, k1) (by_rows 1) of the forward product. */
static void fwd_range(sdt_ctx* c, int64_t k0, int64_t k1, int chunk, const void* arg) {
  const int* a = (const int*)arg; /* B, by_rows */
  int NV = block_vectors(c), nb = c->Ip / (8 * NV);
  (void)chunk;
  if (a[1]) {
    for (int64_t s = k0; s < k1; s++)
      for (int k = 0; k < nb; k++) fwd_block(c, (int)s, k, NV);
  } else {
    for (int64_t k = k0; k < k1; k++)
      for (int s = 0; s < a[0]; s++) fwd_block(c, s, (int)k, NV);
  }
}

/* a [B, Ip] = x . w + b for the batch in rc/rv/rn: split by node blocks (each block of wT
 * stays in cache while the batch streams past), or by rows when the blocks are too few. */
static void forward_linear(sdt_ctx* c, int B) {
  int NV = block_vectors(c), nb = c->Ip / (8 * NV), nt = nthreads(c);
  double work = batch_nnz(c, B) * c->Ip;
  if (nb >= nt) {
    const int a[2] = {B, 0};
    par_range(c, nb, 1, nb, work, fwd_range, a);
  } else {
    const int a[2] = {B, 1};
    par_range(c, B, 1, 0, work, fwd_range, a);
  }
}

/* Adam on n values: w -= lr (m / bc1) / (sqrt(v / bc2) + eps), computed as
 * (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps): one division and one square root per value
 * instead of three divisions and a root (the same maths; rounding differs in the last bits). */
static void adam_vec(float* restrict w, float* restrict m, float* restrict v,
                     const float* restrict g, size_t n, float lr, float bc1, float bc2) {
  const float step = lr / bc1, rs2 = 1.0f / sqrtf(bc2);
  for (size_t i = 0; i < n; i++) {
    const float mi = ADAM_B1 * m[i] + (1.0f - ADAM_B1) * g[i];
    const float vi = ADAM_B2 * v[i] + (1.0f - ADAM_B2) * (g[i] * g[i]);
    m[i] = mi, v[i] = vi;
    w[i] -= step * mi / (sqrtf(vi) * rs2 + ADAM_EPS);
  }
}

typedef struct {
  float lr, bc1, bc2;
} adam_arg;

/* Room in frow/fval for the batch in rc/rv/rn (called before a step changes any state). */
static int32_t ensure_features(sdt_ctx* c, int B) {
  if (c->Ip / c->BW < 2) return SDT_OK; /* see backward_linear */
  int64_t nnz = 0;
  for (int s = 0; s < B; s++) nnz += c->rn[s];
  if (nnz <= c->fcap) return SDT_OK;
  free(c->frow), free(c->fval);
  int64_t cap = nnz > 2 * c->fcap ? nnz : 2 * c->fcap;
  c->frow = xalloc((size_t)cap * 4), c->fval = xalloc((size_t)cap * 4);
  c->fcap = cap;
  if (!c->frow || !c->fval) {
    c->fcap = 0;
    return fail(SDT_ERR_MEMORY, "Cannot allocate %lld non-zero entries", (long long)nnz);
  }
  return SDT_OK;
}

/* The batch in rc/rv/rn by features into fptr/frow/fval (rows in order within a feature;
 * ensure_features made the room). */
static void batch_by_features(sdt_ctx* c, int B) {
  size_t F = c->F;
  int64_t* fp = c->fptr;
  memset(fp, 0, (F + 1) * 8);
  for (int s = 0; s < B; s++) {
    const int32_t* col = c->rc[s];
    for (int e = 0, n = c->rn[s]; e < n; e++) fp[col[e] + 1]++;
  }
  for (size_t j = 0; j < F; j++) fp[j + 1] += fp[j];
  int64_t* cur = c->fcur;
  memcpy(cur, fp, F * 8);
  for (int s = 0; s < B; s++) {
    const int32_t* col = c->rc[s];
    const float* val = c->rv[s];
    for (int e = 0, n = c->rn[s]; e < n; e++) {
      const int64_t at = cur[col[e]]++;
      c->frow[at] = s, c->fval[at] = val[e];
    }
  }
}

/* g [0 .. 8NV) = sum_e val[e] d_{row[e]} [0 .. 8NV), in the order of e (d rows ld apart): in
 * registers, stored once. */
static inline __attribute__((always_inline)) void grad_feature(
    float* restrict g, const float* restrict d, size_t ld, const int32_t* restrict row,
    const float* restrict val, int64_t n, const int NV) {
  v8f acc[8];
  for (int q = 0; q < NV; q++) acc[q] = (v8f){0};
  for (int64_t e = 0; e < n; e++) {
    const float* dr = d + (size_t)row[e] * ld;
    const float x = val[e];
    for (int q = 0; q < NV; q++) acc[q] += x * ld8(dr + 8 * q);
  }
  for (int q = 0; q < NV; q++) st8(g + 8 * q, acc[q]);
}

/* Features per unit of the weight gradient's work. */
#define GRAD_FEATURES 32

typedef struct {
  const adam_arg* adam; /* NULL: the gradient only */
  int64_t fchunks;      /* units per node block */
  int B;
} grad_arg;

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

/* Row s's inputs [e0, e1) into node block blk of gw (the rows' way: one read-modify-write of a
 * gradient vector per input). */
static void grad_block(sdt_ctx* c, int s, int blk, int NV, int e0, int e1) {
  size_t BW = c->BW;
  const float* d = c->da + daidx(c, (size_t)s, (size_t)blk * BW);
  float* G = c->gw + (size_t)blk * c->F * BW;
  const int32_t* col = c->rc[s] + e0;
  const float* val = c->rv[s] + e0;
  int nnz = e1 - e0;
  switch (NV) {
    case 8: grad_kernel(G, BW, d, col, val, nnz, 8); break;
    case 4: grad_kernel(G, BW, d, col, val, nnz, 4); break;
    case 2: grad_kernel(G, BW, d, col, val, nnz, 2); break;
    default: grad_kernel(G, BW, d, col, val, nnz, 1); break;
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

/* Features [j0, j1) of the weight gradient by rows (a tree of one node block: Ip <= 64),
 * zeroed first, then each row's inputs in that range added in, rows in order; then, with
 * adam, their Adam step. */
static void grad_rows_range(sdt_ctx* c, int64_t j0, int64_t j1, int chunk, const void* arg) {
  const adam_arg* ad = ((const grad_arg*)arg)->adam;
  const int NV = block_vectors(c);
  const size_t BW = c->BW;
  (void)chunk;
  memset(c->gw + (size_t)j0 * BW, 0, (size_t)(j1 - j0) * BW * 4);
  for (int s = 0; s < ((const grad_arg*)arg)->B; s++) {
    int e0 = lower_bound(c->rc[s], c->rn[s], (int32_t)j0);
    int e1 = lower_bound(c->rc[s], c->rn[s], (int32_t)j1);
    if (e1 > e0) grad_block(c, s, 0, NV, e0, e1);
  }
  if (ad) {
    size_t i = (size_t)j0 * BW;
    adam_vec(c->wT + i, c->mw + i, c->vw + i, c->gw + i, (size_t)(j1 - j0) * BW, ad->lr,
             ad->bc1, ad->bc2);
  }
}


/* Units [u0, u1) of the weight gradient: unit u is node block u / fchunks over its
 * (u % fchunks)-th run of GRAD_FEATURES features. Each entry sums the batch's rows in order
 * (in registers, from zero: the same sum as adding the rows one by one into a zeroed
 * gradient), and with adam each feature's run of nodes then takes its Adam step. */
static void grad_range(sdt_ctx* c, int64_t u0, int64_t u1, int chunk, const void* arg) {
  const grad_arg* a = (const grad_arg*)arg;
  const adam_arg* ad = a->adam;
  const int NV = block_vectors(c);
  const size_t BW = c->BW, F = c->F;
  (void)chunk;
  for (int64_t u = u0; u < u1; u++) {
    const size_t k = (size_t)(u / a->fchunks), j0 = (size_t)(u % a->fchunks) * GRAD_FEATURES;
    const size_t j1 = j0 + GRAD_FEATURES < F ? j0 + GRAD_FEATURES : F;
    const float* d = c->da + k * (size_t)c->cap * BW;
    for (size_t j = j0; j < j1; j++) {
      const size_t i = k * F * BW + j * BW;
      const int64_t e0 = c->fptr[j], n = c->fptr[j + 1] - e0;
      const int32_t* row = c->frow + e0;
      const float* val = c->fval + e0;
      float* g = c->gw + i;
      switch (NV) {
        case 8: grad_feature(g, d, BW, row, val, n, 8); break;
        case 4: grad_feature(g, d, BW, row, val, n, 4); break;
        case 2: grad_feature(g, d, BW, row, val, n, 2); break;
        default: grad_feature(g, d, BW, row, val, n, 1); break;
      }
      if (ad) adam_vec(c->wT + i, c->mw + i, c->vw + i, g, BW, ad->lr, ad->bc1, ad->bc2);
    }
  }
}

/* gw [F, Ip] = sum_s x_s da_s^T, each entry summed over s in order. With adam, each part of
 * the filters then takes its Adam step while its gradient is still in cache (the same
 * arithmetic per value as a separate pass, so the same bits).
 * A tree of several node blocks (Ip >= 128, depth 7 on) goes by features: the batch is turned
 * into lists of (row, value) per feature, and each gradient vector is summed in registers and
 * written once (no zeroing, no read-modify-write per input), split by node blocks and runs of
 * features. A smaller tree goes by rows, split by features: its 1 to 8 vectors per input do not
 * pay for building the lists (measured: depth 4, batch 4 and depth 6, batch 256 were 30% and
 * 15% slower by features, depth 8, batch 64 10% faster; bench/results/tree_hotpath.md). */
static void backward_linear(sdt_ctx* c, int B, const adam_arg* adam) {
  int64_t nb = c->Ip / c->BW, fchunks = (c->F + GRAD_FEATURES - 1) / GRAD_FEATURES;
  double work = batch_nnz(c, B) * c->Ip + (adam ? (double)c->F * c->Ip * 4 : 0);
  const grad_arg a = {adam, fchunks, B};
  if (nb >= 2) {
    batch_by_features(c, B);
    par_range(c, nb * fchunks, 1, 0, work, grad_range, &a);
  } else {
    par_range(c, c->F, 1, 0, work, grad_rows_range, &a);
  }
}

static int regression(const sdt_ctx* c) { return c->loss >= SDT_LOSS_SQ_EXPECTED; }

/* logq, q = log_softmax(phi), softmax(phi); leaf_arg = argmax per leaf. A regression tree's
 * leaves hold values: q = phi, leaf_arg = 0 (logq is not used). */
static void leaf_tables(sdt_ctx* c) {
  int K = c->K;
  if (regression(c)) {
    for (int l = 0; l < c->L; l++) {
      for (int k = 0; k < K; k++) {
        const float q = c->phi[(size_t)l * K + k];
        c->q[(size_t)l * K + k] = q, c->qT[(size_t)k * c->L + l] = q;
      }
      c->leaf_arg[l] = 0;
    }
    return;
  }
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
      const float lq = ph[k] - lse, q = expf(lq);
      c->logq[(size_t)l * K + k] = lq, c->q[(size_t)l * K + k] = q;
      c->logqT[(size_t)k * c->L + l] = lq, c->qT[(size_t)k * c->L + l] = q;
    }
    c->leaf_arg[l] = arg;
  }
}

/* exp(x) of 8 lanes: Cephes' expf (range reduction by ln 2 in two parts, a degree-5
 * polynomial, the exponent added to the bits), within 2 ulp of expf on [-87, 88]; x is
 * clamped to that range first (so exp(-large) is 1e-38, not 0). */
static inline v8f vexp8(v8f x) {
  const v8f hi = (v8f){0} + 88.3762626647949f, lo = (v8f){0} - 87.3365447504f;
  x = (v8f)(((v8i)(x > hi) & (v8i)hi) | (~(v8i)(x > hi) & (v8i)x));
  x = (v8f)(((v8i)(x < lo) & (v8i)lo) | (~(v8i)(x < lo) & (v8i)x));
  /* n = round(x / ln 2), by the add-and-subtract of 1.5 2^23 (round to nearest even) */
  const v8f shift = (v8f){0} + 12582912.0f;
  v8f n = (x * 1.44269504088896341f + shift) - shift;
  v8f r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v8f y = (v8f){0} + 1.9875691500E-4f;
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  y = y * (r * r) + r + 1.0f;
  v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
  return y * (v8f)e;
}

/* p [0 .. Ip) = sigmoid(beta a) (padding nodes included: they are never read). */
static inline void sigmoid_row(float* restrict p, const float* restrict a, float beta, int Ip) {
  for (int n = 0; n < Ip; n += 8) st8(p + n, 1.0f / (1.0f + vexp8(-(beta * ld8(a + n)))));
}

/* p [s, I], P [s, I + L] and (with want_mix) the mixture [s, K] from a [s, Ip]. */
static void route_row(sdt_ctx* c, int s, int want_mix) {
  int I = c->I, L = c->L, K = c->K;
  const float* a = c->a + (size_t)s * c->Ip;
  float* p = c->p + (size_t)s * c->Ip;
  float* P = c->P + (size_t)s * (I + L);
  sigmoid_row(p, a, c->beta, c->Ip);
  /* level by level; 8 nodes a vector where a level holds 8 or more, their children's
   * values interleaved (left, right) as node by node */
  P[0] = 1.0f;
  for (int n0 = 0; n0 < I; n0 = 2 * n0 + 1) {
    const int n1 = 2 * n0 + 1;
    if (n1 - n0 >= 8) {
      const v8i lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
      for (int m = n0; m < n1; m += 8) {
        const v8f Pn = ld8(P + m), pn = ld8(p + m);
        const v8f l = Pn * (1.0f - pn), r = Pn * pn;
        st8(P + 2 * m + 1, __builtin_shuffle(l, r, lo));
        st8(P + 2 * m + 9, __builtin_shuffle(l, r, hi));
      }
    } else {
      for (int n = n0; n < n1; n++) {
        P[2 * n + 1] = P[n] * (1.0f - p[n]);
        P[2 * n + 2] = P[n] * p[n];
      }
    }
  }
  if (!want_mix) return;
  /* mix [K] = P^leaf [L] . Q [L, K], along L (8 partial sums per class) */
  const float* leaf = P + I;
  float* mix = c->mix + (size_t)s * K;
  for (int k = 0; k < K; k++) {
    const float* q = c->qT + (size_t)k * L;
    float m = 0;
    int l = 0;
    if (L >= 8) {
      v8f acc = ld8(leaf) * ld8(q);
      for (l = 8; l + 8 <= L; l += 8) acc += ld8(leaf + l) * ld8(q + l);
      m = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
    for (; l < L; l++) m += leaf[l] * q[l];
    mix[k] = m;
  }
}

/* A mixture loss's d objective / d P^l: dpl_l = -sum_k v_k Q^l_k / B, along L, skipping the
 * zero v_k (v = T / M for classes, 2 (T - y) for values). */
static void mixture_dpl(const sdt_ctx* c, const float* v, float* dpl, float invB) {
  const int L = c->L, K = c->K;
  for (int l = 0; l < L; l++) dpl[l] = 0;
  for (int k = 0; k < K; k++) {
    const float vk = v[k], *q = c->qT + (size_t)k * L;
    if (vk != 0.0f)
      for (int l = 0; l < L; l++) dpl[l] += vk * q[l];
  }
  for (int l = 0; l < L; l++) dpl[l] = -dpl[l] * invB;
}

/* L(x) of row s; with want_grad also d objective / d P^l into dpleaf and v (see phi grad).
 * Sums over classes skip the zero targets (one-hot labels: one class of K). */
static void loss_row(sdt_ctx* c, int s, int B, int want_grad) {
  int I = c->I, L = c->L, K = c->K;
  const float* leaf = c->P + (size_t)s * (I + L) + I;
  const float* T = c->rt[s];
  const float* mix = c->mix + (size_t)s * K;
  float* dpl = c->dpleaf + (size_t)s * L; /* the costs first, scratch without want_grad */
  float* v = c->v + (size_t)s * K;
  const float invB = 1.0f / (float)B;
  double loss = 0;
  if (c->loss == SDT_LOSS_SQ_EXPECTED) {
    /* cost_l = sum_k (phi_lk - T_k)^2, along L; v = T for the phi gradient */
    for (int l = 0; l < L; l++) dpl[l] = 0;
    for (int k = 0; k < K; k++) {
      const float t = T[k], *q = c->qT + (size_t)k * L;
      for (int l = 0; l < L; l++) dpl[l] += (q[l] - t) * (q[l] - t);
    }
    for (int l = 0; l < L; l++) loss += (double)leaf[l] * dpl[l];
    if (want_grad) {
      for (int l = 0; l < L; l++) dpl[l] *= invB;
      for (int k = 0; k < K; k++) v[k] = T[k];
    }
  } else if (c->loss == SDT_LOSS_SQ_MIXTURE) {
    /* v_k = -dL/dy_k = 2 (T_k - y_k); dpl_l = -sum_k v_k phi_lk / B as for the mixture */
    for (int k = 0; k < K; k++) {
      const float e = mix[k] - T[k];
      loss += (double)e * e;
      v[k] = -2.0f * e;
    }
    if (want_grad) mixture_dpl(c, v, dpl, invB);
  } else if (c->loss == SDT_LOSS_EXPECTED) {
    /* cost_l = -sum_k T_k log Q^l_k, along L */
    for (int l = 0; l < L; l++) dpl[l] = 0;
    for (int k = 0; k < K; k++) {
      const float t = T[k], *lq = c->logqT + (size_t)k * L;
      if (t != 0.0f)
        for (int l = 0; l < L; l++) dpl[l] -= t * lq[l];
    }
    for (int l = 0; l < L; l++) loss += (double)leaf[l] * dpl[l];
    if (want_grad) {
      for (int l = 0; l < L; l++) dpl[l] *= invB;
      for (int k = 0; k < K; k++) v[k] = T[k];
    }
  } else {
    for (int k = 0; k < K; k++) {
      float m = mix[k] > MIX_EPS ? mix[k] : MIX_EPS;
      loss -= (double)T[k] * logf(m);
      v[k] = mix[k] >= MIX_EPS ? T[k] / mix[k] : 0.0f;
    }
    if (want_grad) mixture_dpl(c, v, dpl, invB);
  }
  c->lossv[s] = loss;
}

/* Nodes [i0, i1) of the batch's sums snum = sum_s P_n p_n, sden = sum_s P_n, over the rows
 * in order. */
static void penalty_sums(sdt_ctx* c, int64_t i0, int64_t i1, int chunk, const void* arg) {
  const int B = *(const int*)arg, I = c->I, L = c->L;
  (void)chunk;
  for (int64_t n = i0; n < i1; n++) c->snum[n] = 0, c->sden[n] = 0;
  for (int s = 0; s < B; s++) {
    const float* P = c->P + (size_t)s * (I + L);
    const float* p = c->p + (size_t)s * c->Ip;
    for (int64_t n = i0; n < i1; n++) {
      c->snum[n] += (double)(P[n] * p[n]);
      c->sden[n] += (double)P[n];
    }
  }
}

/* Penalty C of the batch; fills snum/sden and the per-sample gradient factors cnum/cden. */
static double penalty_prepare(sdt_ctx* c, int B) {
  int I = c->I;
  par_range(c, I, 16, 0, (double)B * I * 2, penalty_sums, &B);
  const double lo = (double)(float)ALPHA_EPS, hi = (double)(float)(1.0 - ALPHA_EPS);
  double C = 0, decay_d = 1;
  for (int n = 0, d = 0; n < I; n++) {
    if (n == (2 << d) - 1) d++, decay_d = pow(c->decay, d); /* first node of level d */
    double mnum = c->snum[n] / B, mden = c->sden[n] / B;
    double lam = c->steps == 0 ? 1.0 : fmin(1.0, B / (c->window * ldexp(1.0, d)));
    double Sn = (1 - lam) * c->num[n] + lam * mnum, Sd = (1 - lam) * c->den[n] + lam * mden;
    c->snum[n] = Sn, c->sden[n] = Sd;
    double deneff = Sd > DEN_EPS ? Sd : DEN_EPS;
    double alpha = Sn / deneff;
    int clamped = !(alpha >= lo && alpha <= hi);
    double ac = alpha < lo ? lo : alpha > hi ? hi : alpha;
    double coef = c->strength * decay_d;
    C -= coef * (0.5 * log(ac) + 0.5 * log(1 - ac));
    double ga = clamped ? 0.0 : -coef * 0.5 * (1.0 / ac - 1.0 / (1.0 - ac));
    double dSn = ga / deneff, dSd = Sd >= DEN_EPS ? -ga * Sn / (deneff * deneff) : 0.0;
    c->cnum[n] = (float)(lam * dSn / B);
    c->cden[n] = (float)(lam * dSd / B);
  }
  return C;
}

/* Back-propagate row s from dpleaf through the tree into da [s, Ip] and (with want_db)
 * dbetav[s]. Level by level from the leaves up, 8 nodes a vector on the levels that hold 8 or
 * more: a node needs only its children's dP, so a level's nodes are independent; each value is
 * the same expression as node by node (so the same bits), and the levels run from the last
 * node down, so dbeta's double sum adds the nodes in the same order (n from I - 1 to 0). */
static void backward_row(sdt_ctx* c, int s, float* dP, int want_db) {
  int I = c->I, L = c->L, Ip = c->Ip;
  const float* a = c->a + (size_t)s * Ip;
  const float* p = c->p + (size_t)s * Ip;
  const float* P = c->P + (size_t)s * (I + L);
  const float* cnum = c->cnum;
  const float* cden = c->cden;
  float* da = c->da;
  memcpy(dP + I, c->dpleaf + (size_t)s * L, (size_t)L * 4);
  const float beta = c->beta;
  double db = 0;
  for (int d = c->D - 1; d >= 0; d--) {
    const int n0 = (1 << d) - 1, n1 = 2 * n0 + 1; /* the level's nodes [n0, n1) */
    if (n1 - n0 >= 8) {
      const v8i even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
      for (int m = n1 - 8; m >= n0; m -= 8) {
        const v8f c0 = ld8(dP + 2 * m + 1), c1 = ld8(dP + 2 * m + 9);
        const v8f dl = __builtin_shuffle(c0, c1, even), dr = __builtin_shuffle(c0, c1, odd);
        const v8f pn = ld8(p + m), Pn = ld8(P + m), cn = ld8(cnum + m);
        const v8f dp = Pn * (dr - dl) + cn * Pn;
        st8(dP + m, dl * (1.0f - pn) + dr * pn + cn * pn + ld8(cden + m));
        const v8f dz = dp * pn * (1.0f - pn);
        const v8f g = dz * beta;
        if ((m >> c->bw_shift) == ((m + 7) >> c->bw_shift)) {
          st8(da + daidx(c, s, m), g); /* 8 nodes of one block */
        } else {
          for (int q = 0; q < 8; q++) da[daidx(c, s, m + q)] = g[q]; /* (a level starts at 2^d - 1) */
        }
        if (want_db)
          for (int q = 7; q >= 0; q--) db += (double)dz[q] * a[m + q];
      }
    } else {
      for (int n = n1 - 1; n >= n0; n--) {
        const float dl = dP[2 * n + 1], dr = dP[2 * n + 2], pn = p[n], Pn = P[n];
        const float dp = Pn * (dr - dl) + cnum[n] * Pn;
        dP[n] = dl * (1.0f - pn) + dr * pn + cnum[n] * pn + cden[n];
        const float dz = dp * pn * (1.0f - pn);
        da[daidx(c, s, n)] = dz * beta;
        if (want_db) db += (double)dz * a[n];
      }
    }
  }
  for (int n = I; n < Ip; n++) da[daidx(c, s, n)] = 0;
  c->dbetav[s] = db;
}

/* Leaves [l0, l1) of the leaf gradient: gT [K, L] = sum_s v_s^T P^leaf_s and
 * u [L] = sum_s P^leaf_s sum_k v_sk, over the rows in order, along L and skipping zero v_sk
 * (one-hot labels: one class of K); then gphi [L, K]. */
static void phi_grad_leaves(sdt_ctx* c, int B, int l0, int l1) {
  int I = c->I, L = c->L, K = c->K;
  const float invB = 1.0f / (float)B;
  float* u = c->u;
  for (int k = 0; k < K; k++)
    for (int l = l0; l < l1; l++) c->gT[(size_t)k * L + l] = 0;
  for (int l = l0; l < l1; l++) u[l] = 0;
  for (int s = 0; s < B; s++) {
    const float* restrict P = c->P + (size_t)s * (I + L) + I;
    const float* v = c->v + (size_t)s * K;
    float sv = 0;
    for (int k = 0; k < K; k++) {
      const float vk = v[k];
      sv += vk;
      if (vk == 0.0f) continue;
      float* restrict G = c->gT + (size_t)k * L;
      for (int l = l0; l < l1; l++) G[l] += P[l] * vk;
    }
    if (c->loss == SDT_LOSS_SQ_EXPECTED) sv = 1.0f; /* u_l = sum_s P^l: phi's own weight */
    for (int l = l0; l < l1; l++) u[l] += P[l] * sv;
  }
  for (int l = l0; l < l1; l++) {
    float* out = c->gphi + (size_t)l * K;
    const float* q = c->q + (size_t)l * K;
    if (c->loss == SDT_LOSS_SQ_EXPECTED) {
      /* d/dphi_lj = mean_x 2 P^l (phi_lj - T_j) */
      for (int k = 0; k < K; k++)
        out[k] = 2.0f * (q[k] * u[l] - c->gT[(size_t)k * L + l]) * invB;
    } else if (c->loss == SDT_LOSS_SQ_MIXTURE) {
      /* d/dphi_lj = mean_x P^l 2 (y_j - T_j) = -mean_x P^l v_j */
      for (int k = 0; k < K; k++) out[k] = -c->gT[(size_t)k * L + l] * invB;
    } else if (c->loss == SDT_LOSS_EXPECTED) {
      /* d/dphi_lj = mean_x P^l (Q_lj sum_k T_k - T_j) */
      for (int k = 0; k < K; k++) out[k] = (q[k] * u[l] - c->gT[(size_t)k * L + l]) * invB;
    } else {
      /* dQ_lk = -mean_x P^l T_k / M_k; softmax backward */
      float dot = 0;
      for (int k = 0; k < K; k++) dot += -c->gT[(size_t)k * L + l] * invB * q[k];
      for (int k = 0; k < K; k++) out[k] = q[k] * (-c->gT[(size_t)k * L + l] * invB - dot);
    }
  }
}

static void phi_grad_range(sdt_ctx* c, int64_t l0, int64_t l1, int chunk, const void* arg) {
  (void)chunk;
  phi_grad_leaves(c, *(const int*)arg, (int)l0, (int)l1);
}

/* gphi, split by leaves (whole vectors of them). */
static void phi_grad(sdt_ctx* c, int B) {
  par_range(c, c->L, 8, 0, (double)B * c->L * 2, phi_grad_range, &B);
}

typedef struct {
  int B, want_grad, want_mix;
} rows_arg;

/* Rows [s0, s1): p, P (and the mixture), the loss and its gradient by P^leaf. */
static void route_loss_range(sdt_ctx* c, int64_t s0, int64_t s1, int chunk, const void* arg) {
  const rows_arg* a = (const rows_arg*)arg;
  (void)chunk;
  for (int64_t s = s0; s < s1; s++) {
    route_row(c, (int)s, a->want_mix);
    loss_row(c, (int)s, a->B, a->want_grad);
  }
}

/* Rows [s0, s1) back-propagated, with the scratch of chunk `chunk` (one per thread). */
static void backward_range(sdt_ctx* c, int64_t s0, int64_t s1, int chunk, const void* arg) {
  float* dP = c->dpbuf + (size_t)chunk * (c->I + c->L);
  const int want_db = *(const int*)arg;
  for (int64_t s = s0; s < s1; s++) backward_row(c, (int)s, dP, want_db);
}

/* Nodes [n0, n1) of gb = sum_s da_s, each over the rows in order. */
static void bias_grad_range(sdt_ctx* c, int64_t n0, int64_t n1, int chunk, const void* arg) {
  const int B = *(const int*)arg;
  const int64_t BW = c->BW;
  (void)chunk;
  for (int64_t n = n0; n < n1; n++) c->gb[n] = 0;
  for (int64_t m = n0; m < n1;) { /* the part of each node block in [n0, n1) */
    const int64_t m1 = (m / BW + 1) * BW < n1 ? (m / BW + 1) * BW : n1;
    const float* da = c->da + daidx(c, 0, (size_t)m);
    float* restrict gb = c->gb + m;
    for (int s = 0; s < B; s++, da += BW)
      for (int64_t n = 0; n < m1 - m; n++) gb[n] += da[n];
    m = m1;
  }
}

/* Loss, penalty and (with want_grad) gradients of the batch in rc/rv/rn/rt. */
static void batch_objective(sdt_ctx* c, int B, int want_grad, double* loss, double* penalty,
                            const adam_arg* adam) {
  int I = c->I, L = c->L, K = c->K, nt = nthreads(c);
  leaf_tables(c);
  forward_linear(c, B);
  /* the mixture only where the loss needs it */
  const rows_arg ra = {B, want_grad, c->loss == SDT_LOSS_MIXTURE || c->loss == SDT_LOSS_SQ_MIXTURE};
  double row_work = (double)B * (4.0 * I + (double)L * (ra.want_mix ? 2 * K : 4));
  par_range(c, B, 1, 0, row_work, route_loss_range, &ra);
  double ls = 0;
  for (int s = 0; s < B; s++) ls += c->lossv[s];
  *loss = ls / B;
  *penalty = penalty_prepare(c, B);
  if (!want_grad) return;
  /* one chunk per thread: each has its own dP scratch */
  /* dbeta only where it is used: a learned beta's Adam step, or sdt_gradients (no adam) */
  const int want_db = c->learn_beta || !adam;
  par_range(c, B, 1, nt, (double)B * I * 8, backward_range, &want_db);
  backward_linear(c, B, adam);
  par_range(c, c->Ip, 16, 0, (double)B * c->Ip, bias_grad_range, &B);
  double gbeta = 0;
  for (int s = 0; s < B; s++) gbeta += c->dbetav[s];
  c->gbeta = gbeta;
  phi_grad(c, B);
}

/* The next Adam step's counter and constants. */
static adam_arg adam_begin(sdt_ctx* c) {
  c->t++;
  const float bc1 = (float)(1.0 - pow(ADAM_B1, (double)c->t));
  const float bc2 = (float)(1.0 - pow(ADAM_B2, (double)c->t));
  return (adam_arg){(float)c->lr, bc1, bc2};
}

/* The Adam step of adam_begin on the biases, phi and beta (the filters' was fused into the
 * weight gradient's pass). */
static void adam_step(sdt_ctx* c, const adam_arg* aa) {
  const float lr = aa->lr, bc1 = aa->bc1, bc2 = aa->bc2;
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

typedef struct {
  const float* x;
  const float* targets;
} dense_arg;

#ifdef __AVX2__
/* For each mask of 8 lanes, the lanes set, first to last (then zeros): the permutation that
 * packs a vector's non-zero inputs to its front. */
static int32_t g_pack[256][8] __attribute__((aligned(32)));
__attribute__((constructor)) static void pack_table(void) {
  for (int m = 0; m < 256; m++) {
    int k = 0;
    for (int i = 0; i < 8; i++)
      if (m >> i & 1) g_pack[m][k++] = i;
    while (k < 8) g_pack[m][k++] = 0;
  }
}
#endif

/* The non-zero inputs of row [F] into col, val (room for F each, every slot may be written):
 * their count. In input order, so the same list as a scan that keeps x != 0 one by one (NaN
 * kept, +-0 dropped). With AVX2, 8 inputs a step: a compare gives the mask of the non-zero
 * ones, a table the permutation that packs them to the vector's front, and the whole vector of
 * values (and of their columns) is stored at the next free place, of which the next step keeps
 * only the packed part; the rest, one input at a time without a branch. */
static int32_t sparse_row(const float* restrict row, size_t F, int32_t* restrict col,
                          float* restrict val) {
  int32_t e = 0;
  size_t j = 0;
#ifdef __AVX2__
  const __m256 zero = _mm256_setzero_ps();
  for (; j + 8 <= F; j += 8) {
    const __m256 v = _mm256_loadu_ps(row + j);
    const int m = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
    const __m256i perm = _mm256_load_si256((const __m256i*)g_pack[m]);
    _mm256_storeu_ps(val + e, _mm256_permutevar8x32_ps(v, perm));
    _mm256_storeu_si256((__m256i*)(col + e), _mm256_add_epi32(perm, _mm256_set1_epi32((int)j)));
    e += __builtin_popcount((unsigned)m); /* e <= j, so the stores stay below j + 8 <= F */
  }
#endif
  for (; j < F; j++) {
    col[e] = (int32_t)j, val[e] = row[j];
    e += row[j] != 0.0f;
  }
  return e;
}

/* Rows [s0, s1) of a dense batch: their sparse copies (row s at s F in tcol / tval), and the
 * views. */
static void copy_range(sdt_ctx* c, int64_t s0, int64_t s1, int chunk, const void* arg) {
  const dense_arg* a = (const dense_arg*)arg;
  size_t F = c->F;
  (void)chunk;
  for (int64_t s = s0; s < s1; s++) {
    int32_t* col = c->tcol + (size_t)s * F;
    float* val = c->tval + (size_t)s * F;
    c->rn[s] = sparse_row(a->x + (size_t)s * F, F, col, val);
    c->rc[s] = col, c->rv[s] = val;
    c->rt[s] = a->targets ? a->targets + (size_t)s * c->K : NULL;
  }
}

/* Point rc/rv/rn at a sparse copy of the dense rows x [B, F] (and rt at targets, if any), split
 * by rows. Each row has room for F inputs, so one pass makes the copy (no count first): the
 * scratch is twice the batch's size, and only the non-zero part of a row is read again. */
static int32_t view_dense(sdt_ctx* c, const float* x, const float* targets, int B) {
  int32_t st = ensure_cap(c, B);
  if (st) return st;
  if ((st = ensure_tmp(c, (int64_t)B * c->F))) return st;
  const dense_arg a = {x, targets};
  double work = (double)B * c->F / 4; /* a compare is cheaper than a multiply-add */
  par_range(c, B, 1, 0, work, copy_range, &a);
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
    if ((st = ensure_features(c, B))) return st;
    double loss, pen;
    const adam_arg aa = adam_begin(c);
    batch_objective(c, B, 1, &loss, &pen, &aa);
    adam_step(c, &aa);
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
  if (st || (st = ensure_features(c, batch))) return st;
  const adam_arg aa = adam_begin(c);
  batch_objective(c, batch, 1, loss, penalty, &aa);
  adam_step(c, &aa);
  penalty_commit(c);
  return SDT_OK;
}

int32_t sdt_gradients(float* dw, float* db, float* dphi, double* dbeta, double* loss,
                      double* penalty, sdt_ctx* c, const float* x, const float* targets,
                      int32_t batch) {
  SDT_TRY(check_gradients(dw, db, dphi, dbeta, loss, penalty, c));
  SDT_TRY(check_batch("sdt_gradients", x, targets, batch, c->F, c->K));
  int32_t st = view_dense(c, x, targets, batch);
  if (st || (st = ensure_features(c, batch))) return st;
  batch_objective(c, batch, 1, loss, penalty, NULL);
  size_t F = c->F;
  for (size_t n = 0; n < (size_t)c->I; n++)
    for (size_t j = 0; j < F; j++) dw[n * F + j] = c->gw[widx(c, j, n)];
  memcpy(db, c->gb, (size_t)c->I * 4);
  memcpy(dphi, c->gphi, (size_t)c->L * c->K * 4);
  *dbeta = c->gbeta;
  return SDT_OK;
}

/* Row s's predictions: max-leaf class, mixture class, max leaf. */
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

typedef struct {
  float *inner, *leaf, *mixture;
  int32_t *pred_max_leaf, *pred_mixture, *max_leaf;
} outputs_arg;

/* Rows [s0, s1) of a forward: routed, copied out, predicted. */
static void outputs_range(sdt_ctx* c, int64_t s0, int64_t s1, int chunk, const void* arg) {
  const outputs_arg* o = (const outputs_arg*)arg;
  int I = c->I, L = c->L, K = c->K;
  (void)chunk;
  for (int64_t s = s0; s < s1; s++) {
    route_row(c, (int)s, 1);
    if (o->inner) memcpy(o->inner + (size_t)s * I, c->p + (size_t)s * c->Ip, (size_t)I * 4);
    if (o->leaf) memcpy(o->leaf + (size_t)s * L, c->P + (size_t)s * (I + L) + I, (size_t)L * 4);
    if (o->mixture) memcpy(o->mixture + (size_t)s * K, c->mix + (size_t)s * K, (size_t)K * 4);
    int32_t a, b, m;
    predict_row(c, (int)s, &a, &b, &m);
    if (o->pred_max_leaf) o->pred_max_leaf[s] = a;
    if (o->pred_mixture) o->pred_mixture[s] = b;
    if (o->max_leaf) o->max_leaf[s] = m;
  }
}

/* Forward B <= CHUNK dense rows of x; every output (row-major, B rows) may be NULL. */
static int32_t forward_chunk(sdt_ctx* c, const float* x, int B, float* inner, float* leaf,
                             float* mixture, int32_t* pred_max_leaf, int32_t* pred_mixture,
                             int32_t* max_leaf) {
  int32_t st = view_dense(c, x, NULL, B);
  if (st) return st;
  forward_linear(c, B);
  const outputs_arg a = {inner, leaf, mixture, pred_max_leaf, pred_mixture, max_leaf};
  par_range(c, B, 1, 0, (double)B * (4.0 * c->I + 3.0 * c->L * c->K), outputs_range, &a);
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
  if (regression(c))
    return fail(SDT_ERR_STATE, "sdt_evaluate: a regression tree has no classes (use sdt_forward)");
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
