/*
 * check_common.h — what the Deno-free checks (gpu_parity.c, stk_parity.c) share: tolerances,
 * the failure count and first failure, expect(), a monotonic clock, an allocator that ends the
 * run on failure, and the splitmix64 random numbers. Included by each harness (one translation
 * unit each), after its feature macros and system headers.
 */
#ifndef SOFTTREE_CHECK_COMMON_H
#define SOFTTREE_CHECK_COMMON_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A comparison passes when |a - b| <= atol + rtol |b|. */
typedef struct {
  double atol, rtol;
} tol_t;

static int g_checks, g_failed;
static char g_first_failure[512];

/* Count a failure, keep the first one's message for the result line, and print it. */
static void failure(const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  g_failed++;
  if (!g_first_failure[0]) snprintf(g_first_failure, sizeof g_first_failure, "%s", msg);
  printf("    FAIL %s\n", msg);
  fflush(stdout);
}

/* One check: a failure with the message unless ok. */
static void expect(int ok, const char* fmt, ...) {
  g_checks++;
  if (ok) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  failure("%s", msg);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Zeroed memory, or the run ends with a FAIL result line. */
static void* xmalloc(size_t bytes) {
  void* p = calloc(bytes ? bytes : 1, 1);
  if (!p) {
    printf("result: FAIL (out of memory: %zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

/* ---------------------------------------------------------------- random numbers */

typedef struct {
  uint64_t s;
} rng_t;

static uint64_t rng_u64(rng_t* r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rng_next(rng_t* r) { return (rng_u64(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng_t* r) {
  double u = rng_next(r), v = rng_next(r);
  return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

#endif
