/*
 * stk_cpu.c — the CPU build of the ABI in stk.h (gcc, OpenMP): the teacher's heavy kernels.
 *
 * Must match the tfjs kernels named in stk.h (the CPU backend is the reference) within the
 * tolerances of tests/teacher_kernels_native_test.ts, and stk_sgemm must match stk_sgemm_naive.
 *
 * One GEMM does the work of every product and convolution, in the style of GotoBLAS and
 * BLIS: C [M, N] = A [M, K] . B [K, N] is cut into column blocks of up to NV_MAX vectors
 * (B's panel), K into blocks of KC (so that a block of B's panel, KC x NR floats, stays in
 * cache while a chunk of rows streams past it), and rows into tiles of MR that a register-
 * blocked micro-kernel computes: MR x NV vector accumulators (GCC vector extensions, 16
 * floats wide with AVX-512, 8 with AVX2, 4 on the baseline), one broadcast of A and NV loads
 * of B per step of K. A small thread pool hands chunks of rows (or columns, or parts of K when
 * the output is small and K long) to the cores.
 *
 * What makes convolutions cheap is how A is read. The micro-kernel reads each row of A in
 * place through a pointer, so A never has to exist as a matrix: a row is described by a
 * base pointer, computed from the row index in up to three levels (image, row, column), and
 * K is a sequence of equal contiguous segments (a filter row of KW C values for a
 * convolution). So:
 *   - a convolution (any stride, any padding) is an implicit im2col: row m = (b, oh, ow)
 *     starts at the (zero-padded, when padding is asked for) image's pixel
 *     (b, oh SH, ow SW), K = KH segments of KW C values, one image row apart; the filter
 *     [KH KW C, CO] is B, read in place, and bias and relu are applied as the tile is stored;
 *   - the input gradient is a convolution of dy, dilated by the strides and padded to
 *     "full", with the filter turned by 180 degrees (a small copy);
 *   - the filter gradient (stride 1) is one product over a channel-major copy of x: row
 *     (kh, kw, c) of A is channel c's plane shifted by kh rows and kw columns, and B is dy
 *     laid on x's padded grid (zero columns where the filter hangs over the edge), so every
 *     tap reads x in place; other strides copy im2col's transpose in chunks.
 * A row-major B is read in place; a transposed one (or the last, partial column block) is
 * packed once per call, zero-padded to whole vectors. Operands that would have to be
 * transposed on both sides are handled by computing C's transpose instead.
 *
 * The plain stk_sgemm_naive is the reference the tests hold stk_sgemm to, and its rate is
 * printed beside the blocked one's by bench/teacher_bench.ts.
 *
 * Threads: the pool of ffi/cpu_pool.h (shared with the tree's library): workers claim chunks
 * of a job from one atomic ticket and the calling thread works through the chunks too, so a
 * worker the scheduler has not run yet on a loaded machine costs nothing.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#pragma GCC optimize("fp-contract=fast") /* a x b + c as one FMA in the micro-kernels */

#include "stk_common.h"
#include "cpu_pool.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- vectors */

#if defined(__AVX512F__)
#define VL 16
#define NV_MAX 4
#define SIMD_NAME "avx512"
#elif defined(__AVX2__)
#define VL 8
#define NV_MAX 2
#define SIMD_NAME "avx2"
#elif defined(__AVX__)
#define VL 8
#define NV_MAX 2
#define SIMD_NAME "avx"
#else
#define VL 4
#define NV_MAX 2
#define SIMD_NAME "sse"
#endif
#define NR_MAX (NV_MAX * VL)
/* The most rows of any micro-kernel. */
#define MR_MAX 8

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4), may_alias));
typedef int32_t vi __attribute__((vector_size(VL * 4)));

static inline vf ldu(const float* p) { return *(const vfu*)p; }
static inline void stu(float* p, vf v) { *(vfu*)p = v; }
/* mask ? a : b, lane by lane (C has no vector ?:). */
static inline vf vsel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

/* Bytes of a block of B's panel (KC x NR floats), kept in L2 while a chunk of rows streams
 * past (measured on a 48 KB L1 / 1 MB L2 core: 96 KB beat 32 KB by 5-10%, fewer read-modify-
 * writes of C between blocks of K). */
#define KC_BYTES (96 * 1024)
/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PAR_WORK 200000.0

/* ---------------------------------------------------------------- build, threads */

int32_t stk_abi_version(void) { return STK_ABI_VERSION; }
const char* stk_last_error(void) { return g_error; }

#define STR2(x) #x
#define STR(x) STR2(x)
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

const char* stk_build_info(void) {
  return "cpu (" CC_NAME ", " TARGET_NAME SIMD_NAME ")";
}

/* ---------------------------------------------------------------- the thread pool */

#define MAX_THREADS 1024

static atomic_int g_threads; /* 0: every core */

int32_t stk_threads(void) {
  int t = atomic_load_explicit(&g_threads, memory_order_relaxed);
  t = t > 0 ? t : cores();
  return t < MAX_THREADS ? t : MAX_THREADS;
}

int32_t stk_set_threads(int32_t threads) {
  STK_TRY(check_threads(threads));
  atomic_store_explicit(&g_threads, threads > 0 ? threads : 0, memory_order_relaxed);
  g_error[0] = 0;
  return STK_OK;
}

int32_t stk_probe(char* info, int32_t cap) {
  STK_TRY(check_probe(info, cap));
  if (cap > 0) {
    int t = stk_threads();
    snprintf(info, (size_t)cap, "%s, %d thread%s", stk_build_info(), t, t == 1 ? "" : "s");
  }
  g_error[0] = 0;
  return STK_OK;
}

/* Threads for a piece of work of `work` multiply-adds. */
static int threads_for(double work) { return work < PAR_WORK ? 1 : stk_threads(); }

/*
 * Scratch buffers (padded images, channel-major copies, packed panels) are kept between calls
 * and handed out again: allocated fresh, a buffer of megabytes comes from mmap as untouched
 * pages, and a training step spent a third of its time in page faults and zeroing them.
 * Blocks carry their size in a 64-byte header; at most SCRATCH_SLOTS blocks and
 * SCRATCH_BYTES bytes are kept.
 */
#define SCRATCH_SLOTS 16
#define SCRATCH_BYTES ((size_t)512 << 20)

static struct {
  pthread_mutex_t lock;
  char* block[SCRATCH_SLOTS];
  size_t kept;
} g_scratch = {PTHREAD_MUTEX_INITIALIZER};

static size_t block_size(const char* block) { return *(const size_t*)block; }

/* n floats, 64-byte aligned, from the kept blocks (the smallest that fits) or new. */
static float* scratch_get(int64_t n) {
  const size_t bytes = (((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63) + 64;
  pthread_mutex_lock(&g_scratch.lock);
  int best = -1;
  for (int i = 0; i < SCRATCH_SLOTS; i++) {
    const char* b = g_scratch.block[i];
    if (b && block_size(b) >= bytes && (best < 0 || block_size(b) < block_size(g_scratch.block[best]))) {
      best = i;
    }
  }
  char* block = NULL;
  if (best >= 0) {
    block = g_scratch.block[best];
    g_scratch.block[best] = NULL;
    g_scratch.kept -= block_size(block);
  }
  pthread_mutex_unlock(&g_scratch.lock);
  if (!block) {
    block = (char*)aligned_alloc(64, bytes);
    if (!block) return NULL;
    *(size_t*)block = bytes;
  }
  return (float*)(block + 64);
}

/* Gives a buffer of scratch_get back (null does nothing). */
static void scratch_put(float* p) {
  if (!p) return;
  char* block = (char*)p - 64;
  const size_t bytes = block_size(block);
  pthread_mutex_lock(&g_scratch.lock);
  int slot = -1;
  for (int i = 0; i < SCRATCH_SLOTS && slot < 0; i++) {
    if (!g_scratch.block[i]) slot = i;
  }
  if (slot < 0) {
    /* Full: the smallest kept block makes room when it is smaller than this one. */
    int small = 0;
    for (int i = 1; i < SCRATCH_SLOTS; i++) {
      if (block_size(g_scratch.block[i]) < block_size(g_scratch.block[small])) small = i;
    }
    if (block_size(g_scratch.block[small]) < bytes) {
      g_scratch.kept -= block_size(g_scratch.block[small]);
      free(g_scratch.block[small]);
      g_scratch.block[small] = NULL;
      slot = small;
    }
  }
  if (slot >= 0 && g_scratch.kept + bytes <= SCRATCH_BYTES) {
    g_scratch.block[slot] = block;
    g_scratch.kept += bytes;
    block = NULL;
  }
  pthread_mutex_unlock(&g_scratch.lock);
  free(block);
}

#define ALLOC(ptr, n, what)                                                              \
  do {                                                                                   \
    (ptr) = scratch_get(n);                                                              \
    if (!(ptr))                                                                          \
      return fail(STK_ERR_MEMORY, "Cannot allocate %lld floats for %s", (long long)(n), \
                  what);                                                                 \
  } while (0)

/* ---------------------------------------------------------------- the GEMM's operands */

/* A [M, K], read in place: row i starts at
 *   base + (i / d1) s1 + ((i % d1) / d2) s2 + (i % d2) s3
 * and element k of a row lies at (k / seglen) segstride + k % seglen from it. */
typedef struct {
  const float* base;
  int64_t d1, d2, s1, s2, s3;
  int64_t seglen, segstride;
} rows_t;

static inline const float* row_at(const rows_t* a, int64_t i) {
  int64_t q1 = i / a->d1, r = i - q1 * a->d1, q2 = r / a->d2, q3 = r - q2 * a->d2;
  return a->base + q1 * a->s1 + q2 * a->s2 + q3 * a->s3;
}

/* A plain row-major matrix with leading dimension lda. */
static rows_t rows_matrix(const float* a, int64_t lda, int64_t K) {
  rows_t r = {a, INT64_MAX, 1, 0, lda, 0, K > 0 ? K : 1, 0};
  return r;
}

/* A column block of B: columns [n0, n0 + w) of op(B), w <= nv VL, as rows of K at `b` with
 * stride ldb (B itself, or a packed, zero-padded copy). */
typedef struct {
  int64_t n0;
  int w, nv;
  const float* b;
  int64_t ldb;
} colblk_t;

typedef struct {
  int64_t M, N, K;
  rows_t A;
  int ncb;
  const colblk_t* cb;
  float* C;
  int64_t rs_c, cs_c;
  float alpha, beta;
  const float* bias; /* [N], added after the product (with relu) */
  int relu;
} gemm_t;

/* ---------------------------------------------------------------- micro-kernels */

/* Where a micro-kernel may store its tile itself: C's first element, row stride, the bias of
 * its columns (or null) and whether relu follows. */
typedef struct {
  float* c;
  int64_t ldc;
  const float* bias;
  int relu;
} direct_t;

/*
 * ukr_MRxNV: out [MR, NV VL] = sum over the runs r of
 *   sum_{l < len[r]} a[i][off[r] + l] * b[(k_r + l) ldb + j],
 * k_r being the runs' lengths so far: MR x NV accumulators, one broadcast of each row's
 * element and NV vector loads of B per step. `a` holds MR row pointers.
 */
#define DEF_UKR(MR, NV)                                                                    \
  static void ukr_##MR##x##NV(int nruns, const int64_t* off, const int64_t* len,           \
                              const float* const* a, const float* b, int64_t ldb,          \
                              float* out, const direct_t* d) {                             \
    vf acc[MR][NV];                                                                        \
    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                                   \
        _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) acc[i][j] = (vf){0};          \
    for (int r = 0; r < nruns; r++) {                                                      \
      const float* p[MR];                                                                  \
      _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) p[i] = a[i] + off[r];           \
      const int64_t n = len[r];                                                            \
      for (int64_t l = 0; l < n; l++, b += ldb) {                                          \
        vf bv[NV];                                                                         \
        _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) bv[j] = ldu(b + j * VL);      \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                             \
          const vf ai = p[i][l] - (vf){0}; /* a splat */                                       \
          _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) acc[i][j] += ai * bv[j];    \
        }                                                                                  \
      }                                                                                    \
    }                                                                                      \
    if (d) { /* a whole tile, all of K: C = relu(acc + bias) straight from the registers */ \
      _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) {                               \
        const vf bj = d->bias ? ldu(d->bias + j * VL) : (vf){0};                           \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                             \
          vf v = acc[i][j] + bj;                                                           \
          if (d->relu) v = vsel(v < 0, (vf){0}, v);                                        \
          stu(d->c + i * d->ldc + j * VL, v);                                              \
        }                                                                                  \
      }                                                                                    \
      return;                                                                              \
    }                                                                                      \
    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                                   \
        _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++)                               \
            stu(out + i * NR_MAX + j * VL, acc[i][j]);                                     \
  }

typedef void (*ukr_fn)(int, const int64_t*, const int64_t*, const float* const*,
                       const float*, int64_t, float*, const direct_t*);

#if NV_MAX == 4
DEF_UKR(8, 1)
DEF_UKR(8, 2)
DEF_UKR(8, 3)
DEF_UKR(6, 4)
static const ukr_fn UKR[NV_MAX + 1] = {0, ukr_8x1, ukr_8x2, ukr_8x3, ukr_6x4};
static const int MR_OF[NV_MAX + 1] = {0, 8, 8, 8, 6};
#else
DEF_UKR(8, 1)
DEF_UKR(6, 2)
static const ukr_fn UKR[NV_MAX + 1] = {0, ukr_8x1, ukr_6x2};
static const int MR_OF[NV_MAX + 1] = {0, 8, 6};
#endif

/* ---------------------------------------------------------------- the GEMM driver */

/* Stores a tile: C = (first ? beta C : C) + alpha tile, then, at the last block of K,
 * relu(C + bias). Rows [i0, i0 + mr), the columns of block cb. */
static void store_tile(const gemm_t* g, const colblk_t* cb, int64_t i0, int mr,
                       const float* tile, int first, int last) {
  const float alpha = g->alpha, beta = g->beta;
  const int w = cb->w;
  if (g->cs_c != 1 && first && last && alpha == 1 && beta == 0 && !g->bias && !g->relu) {
    /* C's transpose (a swapped product): column j of the tile is a row of C, its mr values
     * g->rs_c apart (contiguous when rs_c is 1). */
    for (int j = 0; j < w; j++) {
      float* cj = g->C + i0 * g->rs_c + (cb->n0 + j) * g->cs_c;
      for (int i = 0; i < mr; i++) cj[i * g->rs_c] = tile[i * NR_MAX + j];
    }
    return;
  }
  for (int i = 0; i < mr; i++) {
    float* c = g->C + (i0 + i) * g->rs_c + cb->n0 * g->cs_c;
    const float* t = tile + i * NR_MAX;
    const float* bias = g->bias ? g->bias + cb->n0 : NULL;
    int j = 0;
    if (g->cs_c == 1) {
      for (; j + VL <= w; j += VL) {
        vf v = ldu(t + j) * alpha;
        if (!first) {
          v += ldu(c + j);
        } else if (beta != 0) {
          v += ldu(c + j) * beta;
        }
        if (last) {
          if (bias) v += ldu(bias + j);
          if (g->relu) v = vsel(v < 0, (vf){0}, v);
        }
        stu(c + j, v);
      }
    }
    for (; j < w; j++) {
      float* cj = c + j * g->cs_c;
      float v = t[j] * alpha;
      if (!first) {
        v += *cj;
      } else if (beta != 0) {
        v += *cj * beta;
      }
      if (last) {
        if (bias) v += bias[j];
        if (g->relu && v < 0) v = 0;
      }
      *cj = v;
    }
  }
}

/* The runs of K in [k0, k0 + kc): for each, the offset from a row's start and the length. */
static int runs_of(const rows_t* a, int64_t k0, int64_t kc, int64_t* off, int64_t* len) {
  int n = 0;
  while (kc > 0) {
    int64_t s = k0 / a->seglen, o = k0 - s * a->seglen;
    int64_t l = a->seglen - o < kc ? a->seglen - o : kc;
    off[n] = s * a->segstride + o;
    len[n] = l;
    n++;
    k0 += l;
    kc -= l;
  }
  return n;
}

/* Runs of K per block of K at most (a K block of short segments is cut short). */
#define MAX_RUNS 64

/* The rows per K block of a block of nv vectors: B's panel block fills KC_BYTES (and holds
 * at most MAX_RUNS - 2 segments of A). */
static int64_t kc_of(int nv, int64_t seglen) {
  int64_t kc = KC_BYTES / (nv * VL * (int64_t)sizeof(float));
  return kc < (MAX_RUNS - 2) * seglen ? kc : (MAX_RUNS - 2) * seglen;
}

/*
 * Rows [m0, m1) of column block cbi over K range [ka, kb), into g->C (the tiles' first
 * block applies beta, the last bias and relu; a caller splitting K passes a g whose beta is
 * 0 and bias null).
 */
static void run_unit(const gemm_t* g, int64_t m0, int64_t m1, int cbi, int64_t ka,
                     int64_t kb) {
  const colblk_t* cb = &g->cb[cbi];
  const int nv = cb->nv, MR = MR_OF[nv];
  const ukr_fn ukr = UKR[nv];
  const int64_t KC = kc_of(nv, g->A.seglen);
  float tile[MR_MAX * NR_MAX] __attribute__((aligned(64)));
  int64_t off[MAX_RUNS], len[MAX_RUNS];
  for (int64_t k0 = ka; k0 < kb; k0 += KC) {
    const int64_t kc = kb - k0 < KC ? kb - k0 : KC;
    const int nruns = runs_of(&g->A, k0, kc, off, len);
    const float* bp = cb->b + k0 * cb->ldb;
    const int first = k0 == ka, last = k0 + kc == kb;
    for (int64_t i0 = m0; i0 < m1; i0 += MR) {
      const int mr = (int)(m1 - i0 < MR ? m1 - i0 : MR);
      const float* rp[MR_MAX];
      for (int i = 0; i < MR; i++) rp[i] = row_at(&g->A, i0 + (i < mr ? i : mr - 1));
      /* A whole tile over all of K with C = act(A B + bias): stored from the registers. */
      if (first && last && mr == MR && cb->w == nv * VL && g->cs_c == 1 && g->alpha == 1 &&
          g->beta == 0) {
        const direct_t d = {g->C + i0 * g->rs_c + cb->n0, g->rs_c,
                            g->bias ? g->bias + cb->n0 : NULL, g->relu};
        ukr(nruns, off, len, rp, bp, cb->ldb, NULL, &d);
        continue;
      }
      ukr(nruns, off, len, rp, bp, cb->ldb, tile, NULL);
      store_tile(g, cb, i0, mr, tile, first, last);
    }
  }
}

/* Rows per chunk of work: several chunks per thread, at most 32 tiles; all rows at once
 * when they are few (then B streams through the cache once). */
static int64_t chunk_rows(int64_t M, int ncb, int MR, int threads) {
  int64_t tiles = (M + MR - 1) / MR;
  if (M <= 64) return tiles * MR;
  int64_t want = 4 * (int64_t)threads; /* chunks of work in all */
  int64_t per = (tiles * ncb + want - 1) / want;
  if (per < 1) per = 1;
  if (per > 32) per = 32;
  return per * MR;
}

/* Chunk u of a product: a chunk of rows of one column block. */
typedef struct {
  const gemm_t* g;
  int64_t rows;
} units_t;

static void units_chunk(void* ctx, int64_t u) {
  const units_t* j = (const units_t*)ctx;
  const gemm_t* g = j->g;
  const int c = (int)(u % g->ncb);
  const int64_t m0 = (u / g->ncb) * j->rows;
  const int64_t m1 = m0 + j->rows < g->M ? m0 + j->rows : g->M;
  run_unit(g, m0, m1, c, 0, g->K);
}

/* Part t of a product split along K: its sum goes to part + t M N, without beta, bias or
 * relu (applied when the parts are added). */
typedef struct {
  const gemm_t* g;
  float* part;
  int parts;
} ksplit_t;

static void ksplit_chunk(void* ctx, int64_t t) {
  const ksplit_t* j = (const ksplit_t*)ctx;
  const gemm_t* g = j->g;
  gemm_t h = *g;
  h.C = j->part + g->M * g->N * t;
  h.rs_c = g->N;
  h.cs_c = 1;
  h.beta = 0;
  h.bias = NULL;
  h.relu = 0;
  const int64_t ka = g->K * t / j->parts, kb = g->K * (t + 1) / j->parts;
  if (kb > ka) {
    for (int c = 0; c < g->ncb; c++) run_unit(&h, 0, g->M, c, ka, kb);
  }
}

/* Runs a product; STK_ERR_MEMORY when scratch cannot be had. */
static int32_t gemm_run(const gemm_t* g) {
  if (g->M == 0 || g->ncb == 0) return STK_OK;
  const int T = threads_for((double)g->M * (double)g->N * (double)g->K);
  int MRmin = MR_MAX;
  for (int c = 0; c < g->ncb; c++) MRmin = MR_OF[g->cb[c].nv] < MRmin ? MR_OF[g->cb[c].nv] : MRmin;
  const int64_t rows = chunk_rows(g->M, g->ncb, MRmin, T);
  const int64_t mchunks = (g->M + rows - 1) / rows;
  const int64_t units = mchunks * g->ncb;
  if (g->K == 0) {
    /* C = relu(beta C + bias): a product over nothing. */
    float zero[MR_MAX * NR_MAX] = {0};
    for (int c = 0; c < g->ncb; c++) {
      const int MR = MR_OF[g->cb[c].nv];
      for (int64_t i0 = 0; i0 < g->M; i0 += MR) {
        store_tile(g, &g->cb[c], i0, (int)(g->M - i0 < MR ? g->M - i0 : MR), zero, 1, 1);
      }
    }
    return STK_OK;
  }
  /* Few units and a long K: each part of K is summed into its own copy of C. */
  if (T > 1 && units < T && g->K >= 256 * T) {
    /* Four parts per thread: a worker that starts late holds up one small part at most. */
    const int parts = 4 * T;
    const int64_t MN = g->M * g->N;
    float* part = (float*)calloc((size_t)(MN * parts), sizeof(float));
    if (!part) return fail(STK_ERR_MEMORY, "Cannot allocate the GEMM's partial sums");
    ksplit_t job = {g, part, parts};
    parallel_for(parts, T, ksplit_chunk, &job);
    for (int64_t i = 0; i < g->M; i++) {
      for (int64_t j = 0; j < g->N; j++) {
        float s = 0;
        for (int t = 0; t < parts; t++) s += part[MN * t + i * g->N + j];
        float* c = g->C + i * g->rs_c + j * g->cs_c;
        float v = g->beta != 0 ? g->beta * *c + s : s;
        if (g->bias) v += g->bias[j];
        if (g->relu && v < 0) v = 0;
        *c = v;
      }
    }
    free(part);
    return STK_OK;
  }
  units_t job = {g, rows};
  parallel_for(units, T, units_chunk, &job);
  return STK_OK;
}

/* ---------------------------------------------------------------- B's column blocks */

/* The column blocks of op(B) [K, N]: whole blocks of NV_MAX vectors, then one of the fewest
 * vectors that hold the rest. Blocks whose columns B holds in place, row-major and whole,
 * read B; the others (all of them when B is transposed) are packed into `packed` (as many
 * floats as pack_size says), zero-padded to whole vectors. */
static int col_blocks(int64_t N, colblk_t* cb) {
  int n = 0;
  for (int64_t n0 = 0; n0 < N; n0 += NR_MAX) {
    int w = (int)(N - n0 < NR_MAX ? N - n0 : NR_MAX);
    cb[n].n0 = n0;
    cb[n].w = w;
    cb[n].nv = (w + VL - 1) / VL;
    n++;
  }
  return n;
}

static int64_t blocks_count(int64_t N) { return (N + NR_MAX - 1) / NR_MAX; }

/* B's rows at least this many floats apart (and this many rows of A to reuse the copy) are
 * packed: rows a page or more apart alias in the cache and cost a TLB entry each. */
#define PACK_LDB 1024
#define PACK_M 256

/* Whether block c must be packed: B transposed, a block whose width is not whole vectors
 * (reading it in place would read past the row), or rows far apart in a large product. */
static int needs_pack(const colblk_t* c, int trans_b, int64_t ldb, int64_t M) {
  return trans_b || c->w % VL != 0 || (ldb >= PACK_LDB && M >= PACK_M);
}

static int64_t pack_size(const colblk_t* cb, int ncb, int64_t K, int trans_b, int64_t ldb,
                         int64_t M) {
  int64_t n = 0;
  for (int c = 0; c < ncb; c++) {
    if (needs_pack(&cb[c], trans_b, ldb, M)) n += K * cb[c].nv * VL;
  }
  return n;
}

/* Rows [64 c, 64 c + 64) of a packed block. */
typedef struct {
  float* dst;
  const float* b;
  int64_t ldb;
  int trans_b;
  int64_t K, n0;
  int w, nr;
} pack_t;

static void pack_chunk(void* ctx, int64_t c) {
  const pack_t* j = (const pack_t*)ctx;
  const int64_t k0 = 64 * c, k1 = k0 + 64 < j->K ? k0 + 64 : j->K;
  const int w = j->w, nr = j->nr;
  for (int64_t k = k0; k < k1; k++) memset(j->dst + k * nr + w, 0, (size_t)(nr - w) * 4);
  if (j->trans_b) {
    for (int q = 0; q < w; q++) {
      const float* src = j->b + (j->n0 + q) * j->ldb;
      for (int64_t k = k0; k < k1; k++) j->dst[k * nr + q] = src[k];
    }
  } else {
    for (int64_t k = k0; k < k1; k++) {
      memcpy(j->dst + k * nr, j->b + k * j->ldb + j->n0, (size_t)w * 4);
    }
  }
}

/* Points every block at B or at its packed copy (filling it). B [K, N] with ldb, or with
 * trans_b B [N, K] transposed. */
static void place_blocks(colblk_t* cb, int ncb, const float* b, int64_t ldb, int trans_b,
                         int64_t K, int64_t M, float* packed, int T) {
  float* at = packed;
  for (int c = 0; c < ncb; c++) {
    colblk_t* blk = &cb[c];
    if (!needs_pack(blk, trans_b, ldb, M)) {
      blk->b = b + blk->n0;
      blk->ldb = ldb;
      continue;
    }
    const int nr = blk->nv * VL, w = blk->w;
    float* dst = at;
    at += K * nr;
    blk->b = dst;
    blk->ldb = nr;
    pack_t job = {dst, b, ldb, trans_b, K, blk->n0, w, nr};
    parallel_for((K + 63) / 64, K * nr > 65536 ? T : 1, pack_chunk, &job);
  }
}

/* Runs C = alpha A op(B) + beta C (+ bias, relu) with A given as rows; packs B's blocks as
 * needed. */
static int32_t gemm_rows(int64_t M, int64_t N, int64_t K, const rows_t* A, const float* b,
                         int64_t ldb, int trans_b, float* c, int64_t rs_c, int64_t cs_c,
                         float alpha, float beta, const float* bias, int relu) {
  const int64_t nb = blocks_count(N);
  colblk_t small[8];
  colblk_t* cb = small;
  if (nb > 8) {
    cb = (colblk_t*)malloc((size_t)nb * sizeof *cb);
    if (!cb) return fail(STK_ERR_MEMORY, "Cannot allocate the GEMM's column blocks");
  }
  const int ncb = col_blocks(N, cb);
  const int64_t np = pack_size(cb, ncb, K, trans_b, ldb, M);
  float* packed = NULL;
  if (np > 0) {
    packed = scratch_get(np);
    if (!packed) {
      if (cb != small) free(cb);
      return fail(STK_ERR_MEMORY, "Cannot allocate %lld floats to pack B", (long long)np);
    }
  }
  place_blocks(cb, ncb, b, ldb, trans_b, K, M, packed, threads_for((double)np * 8));
  gemm_t g = {M, N, K, *A, ncb, cb, c, rs_c, cs_c, alpha, beta, bias, relu};
  int32_t s = gemm_run(&g);
  scratch_put(packed);
  if (cb != small) free(cb);
  return s;
}

/* dst [cols, rows] = src [rows, cols] (leading dimension lds), in cache-sized tiles. */
typedef struct {
  float* dst;
  const float* src;
  int64_t rows, cols, lds;
} transpose_t;

static void transpose_chunk(void* ctx, int64_t c) {
  const transpose_t* j = (const transpose_t*)ctx;
  const int64_t r0 = 32 * c, r1 = r0 + 32 < j->rows ? r0 + 32 : j->rows;
  for (int64_t c0 = 0; c0 < j->cols; c0 += 32) {
    const int64_t c1 = c0 + 32 < j->cols ? c0 + 32 : j->cols;
    for (int64_t r = r0; r < r1; r++) {
      for (int64_t q = c0; q < c1; q++) j->dst[q * j->rows + r] = j->src[r * j->lds + q];
    }
  }
}

static void transpose(float* dst, const float* src, int64_t rows, int64_t cols, int64_t lds,
                      int T) {
  transpose_t job = {dst, src, rows, cols, lds};
  parallel_for((rows + 31) / 32, rows * cols > 65536 ? T : 1, transpose_chunk, &job);
}

/*
 * C [M, N] (row stride ldc) = alpha op(A) op(B) + beta C (+ bias [N], relu). The micro-
 * kernel wants A's rows contiguous along K; when op(A) is transposed either A is copied
 * transposed or C's transpose is computed (C^T = op(B)^T op(A)^T, whose A is B), whichever
 * copies fewer values. With a bias C itself is always computed.
 */
static int32_t gemm_general(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
                            int trans_a, const float* b, int64_t ldb, int trans_b, float* c,
                            int64_t ldc, float alpha, float beta, const float* bias, int relu) {
  if (M == 0 || N == 0) return STK_OK;
  const int T = threads_for((double)M * N * K);
  /* Values copied (a strided store of C counts twice) by each plan. */
  double direct = (trans_a ? (double)M * K : 0) + (trans_b ? (double)N * K : 0);
  double swapped = (trans_b ? 0 : (double)N * K) + (trans_a ? 0 : (double)M * K) +
                   2.0 * (double)M * N;
  if (bias || K == 0 || direct <= swapped) {
    float* at = NULL;
    rows_t A;
    if (trans_a && K > 0) {
      ALLOC(at, M * K, "A's transpose");
      transpose(at, a, K, M, lda, T);
      A = rows_matrix(at, K, K);
    } else {
      A = rows_matrix(a, lda, K);
    }
    int32_t s = gemm_rows(M, N, K, &A, b, ldb, trans_b, c, ldc, 1, alpha, beta, bias, relu);
    scratch_put(at);
    return s;
  }
  /* C^T [N, M] = op(B)^T [N, K] op(A)^T [K, M]: rows of op(B)^T are rows of B when trans_b,
   * else B is copied transposed; op(A)^T is A read in place (trans_a) or packed. */
  float* bt = NULL;
  rows_t A;
  if (trans_b) {
    A = rows_matrix(b, ldb, K);
  } else {
    ALLOC(bt, N * K, "B's transpose");
    transpose(bt, b, K, N, ldb, T);
    A = rows_matrix(bt, K, K);
  }
  int32_t s = gemm_rows(N, M, K, &A, a, lda, !trans_a, c, 1, ldc, alpha, beta, NULL, relu);
  scratch_put(bt);
  return s;
}

/* ---------------------------------------------------------------- matrix products */

int32_t stk_sgemm(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                  float alpha, const float* a, int32_t lda, const float* b, int32_t ldb,
                  float beta, int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                      ldc));
  STK_TRY(gemm_general(m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc, alpha, beta, NULL,
                       0));
  g_error[0] = 0;
  return STK_OK;
}

int32_t stk_sgemm_naive(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
                        int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                        int32_t ldb, float beta, int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm_naive", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                      beta, ldc));
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) {
        const double x = trans_a ? a[p * lda + i] : a[i * lda + p];
        const double y = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        s += x * y;
      }
      float* cij = c + i * ldc + j;
      *cij = (float)(alpha * s + (beta != 0 ? (double)beta * *cij : 0.0));
    }
  }
  g_error[0] = 0;
  return STK_OK;
}

/* The system BLAS, looked for once: SOFTTREE_BLAS=none skips it, a path names it. */
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float*, int,
                               const float*, int, float, float*, int);
static struct {
  cblas_sgemm_fn sgemm;
  char why[256];
} g_blas;
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static void load_blas_once(void) {
  const char* env = getenv("SOFTTREE_BLAS");
  if (env && strcmp(env, "none") == 0) {
    snprintf(g_blas.why, sizeof g_blas.why, "SOFTTREE_BLAS=none");
    return;
  }
  const char* names[] = {"libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblas.so.3"};
  const int count = env && *env ? 1 : 4;
  for (int i = 0; i < count; i++) {
    const char* name = env && *env ? env : names[i];
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    cblas_sgemm_fn f = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
    if (f) {
      g_blas.sgemm = f;
      snprintf(g_blas.why, sizeof g_blas.why, "%s", name);
      return;
    }
    dlclose(h);
  }
  snprintf(g_blas.why, sizeof g_blas.why,
           env && *env ? "SOFTTREE_BLAS=\"%s\" has no cblas_sgemm or cannot be loaded"
                       : "no system BLAS (libopenblas.so.0, libblis.so.4 or libblas.so.3 with "
                         "cblas_sgemm)%s",
           env && *env ? env : "");
}

int32_t stk_sgemm_blas(float* c, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n,
                       int32_t k, float alpha, const float* a, int32_t lda, const float* b,
                       int32_t ldb, float beta, int32_t ldc) {
  STK_TRY(check_sgemm("stk_sgemm_blas", c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                      beta, ldc));
  pthread_once(&g_blas_once, load_blas_once);
  if (!g_blas.sgemm) return fail(STK_ERR_UNAVAILABLE, "stk_sgemm_blas: %s", g_blas.why);
  /* CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112 */
  g_blas.sgemm(101, trans_a ? 112 : 111, trans_b ? 112 : 111, m, n, k, alpha, a, lda, b, ldb,
               beta, c, ldc);
  g_error[0] = 0;
  return STK_OK;
}

int32_t stk_matmul(float* c, const float* a, const float* b, const float* bias, int32_t batch,
                   int32_t m, int32_t n, int32_t k, int64_t a_stride, int64_t b_stride,
                   int32_t trans_a, int32_t trans_b, int32_t activation) {
  STK_TRY(check_matmul(c, a, b, batch, m, n, k, a_stride, b_stride, trans_a, trans_b,
                       activation));
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  for (int64_t i = 0; i < batch; i++) {
    STK_TRY(gemm_general(m, n, k, a + i * a_stride, lda, trans_a, b + i * b_stride, ldb,
                         trans_b, c + i * (int64_t)m * n, n, 1, 0, bias,
                         activation == STK_ACT_RELU));
  }
  g_error[0] = 0;
  return STK_OK;
}

/* ---------------------------------------------------------------- convolutions */

/* Copies images [B, H, W, C] into dst [B, Hd, Wd, C] (zeroed first) at row r0 + ih sh and
 * column c0 + iw sw: zero padding, and with strides > 1 the dilation of the input
 * gradient. */
typedef struct {
  float* dst;
  const float* src;
  int64_t H, W, C, Hd, Wd, r0, c0, sh, sw;
} place_t;

/* Zeros what lies outside rows [top, top + H) and columns [left, left + W) of an image of
 * Hd x Wd pixels of `elem` floats each (the padding around an image copied into it). */
static void zero_border(float* img, int64_t Hd, int64_t Wd, int64_t top, int64_t left,
                        int64_t H, int64_t W, int64_t elem) {
  const size_t row = (size_t)(Wd * elem) * sizeof(float);
  for (int64_t r = 0; r < top; r++) memset(img + r * Wd * elem, 0, row);
  for (int64_t r = top + H; r < Hd; r++) memset(img + r * Wd * elem, 0, row);
  if (left == 0 && left + W == Wd) return;
  for (int64_t r = top; r < top + H; r++) {
    float* d = img + r * Wd * elem;
    memset(d, 0, (size_t)(left * elem) * sizeof(float));
    memset(d + (left + W) * elem, 0, (size_t)((Wd - left - W) * elem) * sizeof(float));
  }
}

static void place_chunk(void* ctx, int64_t b) {
  const place_t* j = (const place_t*)ctx;
  const int64_t H = j->H, W = j->W, C = j->C, Wd = j->Wd;
  float* img = j->dst + b * j->Hd * Wd * C;
  if (j->sh == 1 && j->sw == 1) {
    zero_border(img, j->Hd, Wd, j->r0, j->c0, H, W, C); /* the copies fill the rest */
  } else {
    memset(img, 0, (size_t)(j->Hd * Wd * C) * sizeof(float)); /* dilated: zeros between */
  }
  for (int64_t ih = 0; ih < H; ih++) {
    const float* s = j->src + ((b * H + ih) * W) * C;
    float* d = img + ((j->r0 + ih * j->sh) * Wd + j->c0) * C;
    if (j->sw == 1) {
      memcpy(d, s, (size_t)(W * C) * sizeof(float));
    } else {
      for (int64_t iw = 0; iw < W; iw++) memcpy(d + iw * j->sw * C, s + iw * C, (size_t)C * 4);
    }
  }
}

static void place_images(float* dst, const float* src, int64_t B, int64_t H, int64_t W,
                         int64_t C, int64_t Hd, int64_t Wd, int64_t r0, int64_t c0, int64_t sh,
                         int64_t sw, int T) {
  place_t job = {dst, src, H, W, C, Hd, Wd, r0, c0, sh, sw};
  parallel_for(B, T, place_chunk, &job);
}

/* y [B, OH, OW, CO] = act(conv(x as [B, Hp, Wp, C] at its own origin) + bias), where x is
 * already padded (no padding left in the geometry but the strides). */
static int32_t conv_padded(float* y, const float* x, int64_t Hp, int64_t Wp,
                           const float* filter, int64_t ldf, int trans_f, const float* bias,
                           int64_t B, int64_t C, int64_t OH, int64_t OW, int64_t CO,
                           int64_t KH, int64_t KW, int64_t SH, int64_t SW, int relu) {
  (void)B;
  rows_t A;
  A.base = x;
  A.d1 = OH * OW;
  A.d2 = OW;
  A.s1 = Hp * Wp * C;
  A.s2 = SH * Wp * C;
  A.s3 = SW * C;
  A.seglen = KW * C;
  A.segstride = Wp * C;
  return gemm_rows(B * OH * OW, CO, KH * KW * C, &A, filter, ldf, trans_f, y, CO, 1, 1, 0, bias,
                   relu);
}

int32_t stk_conv2d(float* y, const float* x, const float* filter, const float* bias,
                   const stk_conv* g, int32_t activation) {
  const char* fn = "stk_conv2d";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_activation(fn, activation));
  STK_TRY(check_ptr(fn, "y", y));
  STK_TRY(check_ptr(fn, "x", x));
  STK_TRY(check_ptr(fn, "filter", filter));
  const int64_t B = g->batch, H = g->in_h, W = g->in_w, C = g->in_c;
  const int64_t pb = pad_bottom(g), pr = pad_right(g);
  const int64_t Hp = H + g->pad_top + (pb > 0 ? pb : 0), Wp = W + g->pad_left + (pr > 0 ? pr : 0);
  float* xp = NULL;
  const float* src = x;
  if (Hp != H || Wp != W) {
    ALLOC(xp, B * Hp * Wp * C, "the padded input");
    place_images(xp, x, B, H, W, C, Hp, Wp, g->pad_top, g->pad_left, 1, 1,
                 threads_for((double)B * Hp * Wp * C * 4));
    src = xp;
  }
  int32_t s = conv_padded(y, src, Hp, Wp, filter, g->out_c, 0, bias, B, C, g->out_h, g->out_w,
                          g->out_c, g->filter_h, g->filter_w, g->stride_h, g->stride_w,
                          activation == STK_ACT_RELU);
  scratch_put(xp);
  if (s == STK_OK) g_error[0] = 0;
  return s;
}

int32_t stk_conv2d_backprop_input(float* dx, const float* dy, const float* filter,
                                  const stk_conv* g) {
  const char* fn = "stk_conv2d_backprop_input";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_ptr(fn, "dx", dx));
  STK_TRY(check_ptr(fn, "dy", dy));
  STK_TRY(check_ptr(fn, "filter", filter));
  const int64_t B = g->batch, H = g->in_h, W = g->in_w, C = g->in_c;
  const int64_t OH = g->out_h, OW = g->out_w, CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  /* dy dilated by the strides and padded so that a plain convolution with the turned
   * filter gives [H, W]: dy[oh, ow] lands at (KH - 1 - PT + oh SH, KW - 1 - PL + ow SW). */
  const int64_t Hq = H + KH - 1, Wq = W + KW - 1;
  /* The turned filter, [KH KW CO, C]: ft[(kh, kw, co), c] = filter[KH-1-kh, KW-1-kw, c, co]. */
  float *dq, *ft;
  ALLOC(dq, B * Hq * Wq * CO, "the dilated, padded dy");
  ft = scratch_get(KH * KW * CO * C);
  if (!ft) {
    scratch_put(dq);
    return fail(STK_ERR_MEMORY, "Cannot allocate the turned filter");
  }
  place_images(dq, dy, B, OH, OW, CO, Hq, Wq, KH - 1 - g->pad_top, KW - 1 - g->pad_left,
               g->stride_h, g->stride_w, threads_for((double)B * Hq * Wq * CO * 4));
  for (int64_t kh = 0; kh < KH; kh++) {
    for (int64_t kw = 0; kw < KW; kw++) {
      const float* src = filter + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * C * CO;
      float* dst = ft + (kh * KW + kw) * CO * C;
      for (int64_t c = 0; c < C; c++) {
        for (int64_t co = 0; co < CO; co++) dst[co * C + c] = src[c * CO + co];
      }
    }
  }
  int32_t s = conv_padded(dx, dq, Hq, Wq, ft, C, 0, NULL, B, CO, H, W, C, KH, KW, 1, 1, 0);
  scratch_put(dq);
  scratch_put(ft);
  if (s == STK_OK) g_error[0] = 0;
  return s;
}

/* Row t of im2col's transpose for output positions [m0, m0 + n): cols[t, q] =
 * x[b, oh SH + kh - PT, ow SW + kw - PL, c] for m0 + q = (b, oh, ow), t = (kh, kw, c). */
typedef struct {
  float* cols;
  const float* x;
  const stk_conv* g;
  int64_t m0, n;
} colsT_t;

static void colsT_chunk(void* ctx, int64_t t) {
  const colsT_t* j = (const colsT_t*)ctx;
  const stk_conv* g = j->g;
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t KW = g->filter_w;
  const int64_t kh = t / (KW * C), kw = (t / C) % KW, c = t % C;
  float* row = j->cols + t * j->n;
  for (int64_t q = 0; q < j->n; q++) {
    const int64_t m = j->m0 + q, b = m / (OH * OW), oh = (m / OW) % OH, ow = m % OW;
    const int64_t ih = oh * g->stride_h + kh - g->pad_top;
    const int64_t iw = ow * g->stride_w + kw - g->pad_left;
    row[q] = ih >= 0 && ih < H && iw >= 0 && iw < W ? j->x[((b * H + ih) * W + iw) * C + c] : 0;
  }
}

/* dfilter for strides > 1: im2col's transpose in chunks of output positions,
 * colsT [KH KW C, chunk] . dy [chunk, CO], summed over the chunks. */
static int32_t backprop_filter_chunks(float* dw, const float* x, const float* dy,
                                      const stk_conv* g) {
  const int64_t C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  const int64_t KK = KH * KW * C, M = (int64_t)g->batch * OH * OW;
  const int64_t chunk = 2048;
  float* cols;
  ALLOC(cols, KK * chunk, "im2col's transpose");
  int32_t s = STK_OK;
  for (int64_t m0 = 0; m0 < M && s == STK_OK; m0 += chunk) {
    const int64_t n = M - m0 < chunk ? M - m0 : chunk;
    colsT_t job = {cols, x, g, m0, n};
    parallel_for(KK, threads_for((double)KK * n * 8), colsT_chunk, &job);
    rows_t A = rows_matrix(cols, n, n);
    s = gemm_rows(KK, CO, n, &A, dy + m0 * CO, CO, 0, dw, CO, 1, 1, m0 == 0 ? 0 : 1, NULL, 0);
  }
  scratch_put(cols);
  return s;
}

/* Image b of the filter gradient's operands: x channel-major on the padded grid, dy on it. */
typedef struct {
  float *xt, *dyp;
  const float *x, *dy;
  const stk_conv* g;
  int64_t Hp, Wp, plane;
} grid_t;

static void grid_chunk(void* ctx, int64_t b) {
  const grid_t* j = (const grid_t*)ctx;
  const stk_conv* g = j->g;
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t CO = g->out_c, Hp = j->Hp, Wp = j->Wp;
  for (int64_t c = 0; c < C; c++) {
    zero_border(j->xt + c * j->plane + b * Hp * Wp, Hp, Wp, g->pad_top, g->pad_left, H, W, 1);
  }
  for (int64_t ih = 0; ih < H; ih++) {
    for (int64_t iw = 0; iw < W; iw++) {
      const float* s = j->x + ((b * H + ih) * W + iw) * C;
      float* d = j->xt + (b * Hp + ih + g->pad_top) * Wp + g->pad_left + iw;
      for (int64_t c = 0; c < C; c++) d[c * j->plane] = s[c];
    }
  }
  for (int64_t oh = 0; oh < OH; oh++) {
    float* d = j->dyp + (b * OH + oh) * Wp * CO;
    memcpy(d, j->dy + (b * OH + oh) * OW * CO, (size_t)(OW * CO) * sizeof(float));
    memset(d + OW * CO, 0, (size_t)((Wp - OW) * CO) * sizeof(float));
  }
}

int32_t stk_conv2d_backprop_filter(float* dfilter, const float* x, const float* dy,
                                   const stk_conv* g) {
  const char* fn = "stk_conv2d_backprop_filter";
  STK_TRY(check_geometry(fn, g, 0));
  STK_TRY(check_ptr(fn, "dfilter", dfilter));
  STK_TRY(check_ptr(fn, "x", x));
  STK_TRY(check_ptr(fn, "dy", dy));
  if (g->stride_h != 1 || g->stride_w != 1) {
    int32_t s = backprop_filter_chunks(dfilter, x, dy, g);
    if (s == STK_OK) g_error[0] = 0;
    return s;
  }
  const int64_t B = g->batch, H = g->in_h, W = g->in_w, C = g->in_c;
  const int64_t OH = g->out_h, CO = g->out_c, KH = g->filter_h, KW = g->filter_w;
  const int64_t pb = pad_bottom(g), pr = pad_right(g);
  /* Stride 1: the padded grid is exactly OH + KH - 1 rows by OW + KW - 1 columns. */
  const int64_t Hp = H + g->pad_top + (pb > 0 ? pb : 0), Wp = W + g->pad_left + (pr > 0 ? pr : 0);
  const int64_t plane = B * Hp * Wp + KW; /* a channel's plane, and zeros the last taps read */
  float *xt, *dyp;
  ALLOC(xt, C * plane, "x's channel-major copy");
  dyp = scratch_get(B * OH * Wp * CO);
  if (!dyp) {
    scratch_put(xt);
    return fail(STK_ERR_MEMORY, "Cannot allocate dy on the padded grid");
  }
  const int T = threads_for((double)C * plane * 8);
  /* xt [C, B Hp Wp (+ KW zeros)]: x channel-major on its padded grid; dyp [B, OH, Wp, CO]:
   * dy with zero columns OW..Wp-1, where a tap's shifted row of x runs past the output (into
   * the padding, or the next row). By image. */
  for (int64_t c = 0; c < C; c++) memset(xt + c * plane + B * Hp * Wp, 0, (size_t)KW * 4);
  grid_t job = {xt, dyp, x, dy, g, Hp, Wp, plane};
  parallel_for(B, T, grid_chunk, &job);
  /* A [KH KW C, B OH Wp]: row (kh, kw, c) is channel c's plane from (kh, kw) on; K runs over
   * the images, OH Wp values each, one padded image apart. */
  rows_t A;
  A.base = xt;
  A.d1 = KW * C;
  A.d2 = C;
  A.s1 = Wp;
  A.s2 = 1;
  A.s3 = plane;
  A.seglen = OH * Wp;
  A.segstride = Hp * Wp;
  int32_t s = gemm_rows(KH * KW * C, CO, B * OH * Wp, &A, dyp, CO, 0, dfilter, CO, 1, 1, 0, NULL,
                        0);
  scratch_put(xt);
  scratch_put(dyp);
  if (s == STK_OK) g_error[0] = 0;
  return s;
}

/* ---------------------------------------------------------------- pooling */

typedef struct {
  float* out;
  const float *x, *dy;
  const stk_conv* g;
} pool_t;

/* Output row r = (b, oh) of the max pool: vectors of channels, NaN passed over. */
static void max_pool_chunk(void* ctx, int64_t r) {
  const pool_t* j = (const pool_t*)ctx;
  const stk_conv* g = j->g;
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t KH = g->filter_h, KW = g->filter_w, b = r / OH, oh = r % OH;
  const float* x = j->x;
  const int64_t h0 = oh * g->stride_h - g->pad_top;
  const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + KH < H ? h0 + KH : H;
  for (int64_t ow = 0; ow < OW; ow++) {
    const int64_t w0 = ow * g->stride_w - g->pad_left;
    const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + KW < W ? w0 + KW : W;
    float* out = j->out + ((b * OH + oh) * OW + ow) * C;
    int64_t c = 0;
    for (; c + VL <= C; c += VL) {
      vf m = (vf){0} - __builtin_inff();
      for (int64_t ih = ha; ih < hb; ih++) {
        for (int64_t iw = wa; iw < wb; iw++) {
          const vf v = ldu(x + ((b * H + ih) * W + iw) * C + c);
          m = vsel(v > m, v, m);
        }
      }
      stu(out + c, m);
    }
    for (; c < C; c++) {
      float m = -__builtin_inff();
      for (int64_t ih = ha; ih < hb; ih++) {
        for (int64_t iw = wa; iw < wb; iw++) {
          const float v = x[((b * H + ih) * W + iw) * C + c];
          if (v > m) m = v;
        }
      }
      out[c] = m;
    }
  }
}

int32_t stk_max_pool(float* y, const float* x, const stk_conv* g) {
  const char* fn = "stk_max_pool";
  STK_TRY(check_geometry(fn, g, 1));
  STK_TRY(check_ptr(fn, "y", y));
  STK_TRY(check_ptr(fn, "x", x));
  const double work = (double)g->batch * g->out_h * g->out_w * g->in_c * g->filter_h * g->filter_w;
  pool_t job = {y, x, NULL, g};
  parallel_for((int64_t)g->batch * g->out_h, threads_for(work), max_pool_chunk, &job);
  g_error[0] = 0;
  return STK_OK;
}

/* Image b of the max pool's gradient (windows of one image add into that image only): per
 * lane of channels, the first largest value's place in the window, then dy added there. */
static void max_pool_grad_chunk(void* ctx, int64_t b) {
  const pool_t* j = (const pool_t*)ctx;
  const stk_conv* g = j->g;
  const int64_t H = g->in_h, W = g->in_w, C = g->in_c, OH = g->out_h, OW = g->out_w;
  const int64_t KH = g->filter_h, KW = g->filter_w;
  float* dimg = j->out + b * H * W * C;
  const float* ximg = j->x + b * H * W * C;
  if (g->stride_h == KH && g->stride_w == KW && g->pad_top == 0 && g->pad_left == 0 &&
      C % VL == 0) {
    /* Windows that tile the image without overlap: every input element is written once,
     * dy at its window's first largest value and 0 elsewhere; rows and columns no window
     * reaches are zeroed. */
    zero_border(dimg, H, W, 0, 0, OH * KH < H ? OH * KH : H, OW * KW < W ? OW * KW : W, C);
    for (int64_t oh = 0; oh < OH; oh++) {
      for (int64_t ow = 0; ow < OW; ow++) {
        const float* gy = j->dy + ((b * OH + oh) * OW + ow) * C;
        const int64_t h0 = oh * KH, w0 = ow * KW;
        const int64_t hb = h0 + KH < H ? h0 + KH : H, wb = w0 + KW < W ? w0 + KW : W;
        for (int64_t c = 0; c < C; c += VL) {
          vf m = (vf){0} - __builtin_inff();
          vi at = (vi){0} - 1; /* the window position of the lane's maximum, or -1 */
          for (int64_t ih = h0; ih < hb; ih++) {
            for (int64_t iw = w0; iw < wb; iw++) {
              const vf v = ldu(ximg + (ih * W + iw) * C + c);
              const vi gt = v > m;
              m = vsel(gt, v, m);
              at = (gt & (int32_t)((ih - h0) * KW + iw - w0)) | (~gt & at);
            }
          }
          const vf d = ldu(gy + c);
          for (int64_t ih = h0; ih < hb; ih++) {
            for (int64_t iw = w0; iw < wb; iw++) {
              const vi here = at == (int32_t)((ih - h0) * KW + iw - w0);
              stu(dimg + (ih * W + iw) * C + c, vsel(here, d, (vf){0}));
            }
          }
        }
      }
    }
    return;
  }
  memset(dimg, 0, (size_t)(H * W * C) * sizeof(float));
  for (int64_t oh = 0; oh < OH; oh++) {
    const int64_t h0 = oh * g->stride_h - g->pad_top;
    const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + KH < H ? h0 + KH : H;
    for (int64_t ow = 0; ow < OW; ow++) {
      const int64_t w0 = ow * g->stride_w - g->pad_left;
      const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + KW < W ? w0 + KW : W;
      const float* gy = j->dy + ((b * OH + oh) * OW + ow) * C;
      int64_t c = 0;
      for (; c + VL <= C; c += VL) {
        vf m = (vf){0} - __builtin_inff();
        vi at = (vi){0} - 1; /* the pixel (ih W + iw) of the lane's maximum, or -1 */
        for (int64_t ih = ha; ih < hb; ih++) {
          for (int64_t iw = wa; iw < wb; iw++) {
            const vf v = ldu(ximg + (ih * W + iw) * C + c);
            const vi gt = v > m;
            m = vsel(gt, v, m);
            at = (gt & (int32_t)(ih * W + iw)) | (~gt & at);
          }
        }
        for (int l = 0; l < VL; l++) {
          if (at[l] >= 0) dimg[(int64_t)at[l] * C + c + l] += gy[c + l];
        }
      }
      for (; c < C; c++) {
        float m = -__builtin_inff();
        int64_t at = -1;
        for (int64_t ih = ha; ih < hb; ih++) {
          for (int64_t iw = wa; iw < wb; iw++) {
            const int64_t i = (ih * W + iw) * C + c;
            if (ximg[i] > m) {
              m = ximg[i];
              at = i;
            }
          }
        }
        if (at >= 0) dimg[at] += gy[c];
      }
    }
  }
}

int32_t stk_max_pool_grad(float* dx, const float* dy, const float* x, const stk_conv* g) {
  const char* fn = "stk_max_pool_grad";
  STK_TRY(check_geometry(fn, g, 1));
  STK_TRY(check_ptr(fn, "dx", dx));
  STK_TRY(check_ptr(fn, "dy", dy));
  STK_TRY(check_ptr(fn, "x", x));
  if ((int64_t)g->in_h * g->in_w > 0x7fffffff) {
    return fail(STK_ERR_ARGUMENT, "%s: an image of %dx%d pixels is too large", fn, g->in_h,
                g->in_w);
  }
  const double work = (double)g->batch * g->out_h * g->out_w * g->in_c * g->filter_h * g->filter_w;
  pool_t job = {dx, x, dy, g};
  parallel_for(g->batch, threads_for(work), max_pool_grad_chunk, &job);
  g_error[0] = 0;
  return STK_OK;
}

/* ---------------------------------------------------------------- dropout, reductions, optimizer */

typedef struct {
  float* mask;
  uint32_t state;
  int64_t n;
  uint64_t threshold;
  float keep;
} dropout_t;

typedef uint32_t vu __attribute__((vector_size(VL * 4)));

/* Mask values [16384 c, 16384 c + 16384): value i uses the state after i + 1 increments, so
 * lanes are independent: mulberry32 on vectors of uint32, branch-free. */
static void dropout_chunk(void* ctx, int64_t c) {
  const dropout_t* j = (const dropout_t*)ctx;
  const int64_t i0 = 16384 * c, i1 = i0 + 16384 < j->n ? i0 + 16384 : j->n;
  const uint32_t inc = 0x6d2b79f5u;
  const int none = j->threshold > 0xffffffffu; /* rate so close to 1 that nothing is kept */
  const uint32_t thr = none ? 0 : (uint32_t)j->threshold;
  vu lane;
  for (int l = 0; l < VL; l++) lane[l] = (uint32_t)l;
  const vf keep = (vf){0} + j->keep;
  int64_t i = i0;
  for (; i + VL <= i1 && !none; i += VL) {
    vu t = j->state + ((uint32_t)(i + 1) + lane) * inc;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    t ^= t >> 14;
    stu(j->mask + i, vsel((vi)(t >= thr), keep, (vf){0}));
  }
  for (; i < i1; i++) {
    const uint32_t r = mulberry32(j->state + (uint32_t)(i + 1) * inc);
    j->mask[i] = !none && r >= thr ? j->keep : 0.f;
  }
}

int32_t stk_dropout_mask(float* mask, uint32_t state, int64_t n, double rate) {
  STK_TRY(check_dropout(mask, n, rate));
  dropout_t job = {mask, state, n, dropout_threshold(rate), (float)(1.0 / (1.0 - rate))};
  parallel_for((n + 16383) / 16384, threads_for((double)n * 16), dropout_chunk, &job);
  g_error[0] = 0;
  return STK_OK;
}

/* Bands of rows summed apart (in double), then added in band order: the same sums whatever
 * the thread count. */
#define SUM_BANDS 8

typedef struct {
  double* part;
  const float* x;
  int64_t rows;
  int32_t cols;
  float* dz;       /* stk_relu_bias_grad: x is dy, masked by y > 0 into dz first */
  const float* y;
} sum_t;

static void sum_chunk(void* ctx, int64_t t) {
  const sum_t* j = (const sum_t*)ctx;
  double* p = j->part + t * j->cols;
  const int64_t cols = j->cols;
  const int64_t r0 = j->rows * t / SUM_BANDS, r1 = j->rows * (t + 1) / SUM_BANDS;
  /* Blocks of 32 rows summed in float vectors, then added to the band's double sums. */
  for (int64_t a = r0; a < r1; a += 32) {
    const int64_t b = a + 32 < r1 ? a + 32 : r1;
    int64_t c = 0;
    for (; c + VL <= cols; c += VL) {
      vf acc = (vf){0};
      for (int64_t r = a; r < b; r++) {
        vf v = ldu(j->x + r * cols + c);
        if (j->dz) {
          v = vsel(ldu(j->y + r * cols + c) > 0, v, (vf){0}); /* branch-free: half are 0 */
          stu(j->dz + r * cols + c, v);
        }
        acc += v;
      }
      for (int l = 0; l < VL; l++) p[c + l] += acc[l];
    }
    for (; c < cols; c++) {
      double acc = 0;
      for (int64_t r = a; r < b; r++) {
        float v = j->x[r * cols + c];
        if (j->dz) {
          v = j->y[r * cols + c] > 0 ? v : 0.f;
          j->dz[r * cols + c] = v;
        }
        acc += v;
      }
      p[c] += acc;
    }
  }
}

/* out [cols] = the bands' sums added in band order. */
static int32_t sum_bands(float* out, float* dz, const float* x, const float* y, int64_t rows,
                         int32_t cols) {
  double* part = (double*)calloc((size_t)SUM_BANDS * cols, sizeof(double));
  if (!part) return fail(STK_ERR_MEMORY, "Cannot allocate %d partial sums", SUM_BANDS * cols);
  sum_t job = {part, x, rows, cols, dz, y};
  parallel_for(SUM_BANDS, threads_for((double)rows * cols * (dz ? 4 : 1)), sum_chunk, &job);
  for (int32_t c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < SUM_BANDS; t++) s += part[(int64_t)t * cols + c];
    out[c] = (float)s;
  }
  free(part);
  return STK_OK;
}

int32_t stk_softmax_xent(float* loss, float* dlogits, const float* logits, const int32_t* labels,
                         int32_t rows, int32_t classes) {
  STK_TRY(check_softmax_xent(loss, dlogits, logits, labels, rows, classes));
  softmax_xent(loss, dlogits, logits, labels, rows, classes);
  g_error[0] = 0;
  return STK_OK;
}

int32_t stk_relu_bias_grad(float* dz, float* dbias, const float* dy, const float* y,
                           int64_t rows, int32_t cols) {
  STK_TRY(check_relu_bias_grad(dz, dbias, dy, y, rows, cols));
  STK_TRY(sum_bands(dbias, dz, dy, y, rows, cols));
  g_error[0] = 0;
  return STK_OK;
}

int32_t stk_sum_rows(float* out, const float* x, int64_t rows, int32_t cols) {
  STK_TRY(check_sum_rows(out, x, rows, cols));
  STK_TRY(sum_bands(out, NULL, x, NULL, rows, cols));
  g_error[0] = 0;
  return STK_OK;
}

typedef struct {
  float *w_out, *m, *v;
  const float *w, *g;
  int64_t n;
  float beta1, beta2, a1, a2, lr, c1, c2, eps;
} adam_t;

/* Weights [4096 c, 4096 c + 4096) of an Adam step: tf.train.adam's operations in its order,
 * each rounded to float (no FMA contraction here), so the weights follow the reference's. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
/* Loads and stores of this region's own (functions of other options are not inlined here). */
static inline vf ldu_adam(const float* p) { return *(const vfu*)p; }
static inline void stu_adam(float* p, vf v) { *(vfu*)p = v; }

static void adam_chunk(void* ctx, int64_t chunk) {
  const adam_t* j = (const adam_t*)ctx;
  float *w_out = j->w_out, *m = j->m, *v = j->v;
  const float *w = j->w, *g = j->g;
  const float beta1 = j->beta1, beta2 = j->beta2, a1 = j->a1, a2 = j->a2;
  const float lr = j->lr, c1 = j->c1, c2 = j->c2, eps = j->eps;
  const int64_t i0 = 4096 * chunk, i1 = i0 + 4096 < j->n ? i0 + 4096 : j->n;
  int64_t i = i0;
  for (; i + VL <= i1; i += VL) {
    const vf gi = ldu_adam(g + i);
    const vf mi = ldu_adam(m + i) * beta1 + gi * a1;
    const vf vi = ldu_adam(v + i) * beta2 + (gi * gi) * a2;
    stu_adam(m + i, mi);
    stu_adam(v + i, vi);
    const vf s = vi / c2;
    vf r;
    for (int l = 0; l < VL; l++) r[l] = __builtin_sqrtf(s[l]);
    stu_adam(w_out + i, ldu_adam(w + i) - lr * ((mi / c1) / (r + eps)));
  }
  for (; i < i1; i++) {
    const float mi = m[i] * beta1 + g[i] * a1;
    const float vi = v[i] * beta2 + (g[i] * g[i]) * a2;
    m[i] = mi;
    v[i] = vi;
    w_out[i] = w[i] - lr * ((mi / c1) / (__builtin_sqrtf(vi / c2) + eps));
  }
}
#pragma GCC pop_options

int32_t stk_adam(float* w_out, float* m, float* v, const float* w, const float* g, int64_t n,
                 double beta1, double beta2, double lr, double c1, double c2, double eps) {
  STK_TRY(check_adam(w_out, m, v, w, g, n, beta1, beta2, lr, c1, c2, eps));
  adam_t job = {w_out,         m,           v,         w,         g,
                n,             (float)beta1, (float)beta2, (float)(1 - beta1), (float)(1 - beta2),
                (float)lr,     (float)c1,   (float)c2, (float)eps};
  parallel_for((n + 4095) / 4096, threads_for((double)n * 8), adam_chunk, &job);
  g_error[0] = 0;
  return STK_OK;
}
