/*
 * cpu_pool.h — the thread pool of softtree's CPU libraries (ffi/stk_cpu.c, the teacher's
 * kernels, and ffi/sdt_cpu.c, the tree): parallel_for(chunks, threads, fn, ctx) runs
 * fn(ctx, c) for every chunk c, the calling thread among the workers.
 *
 * The pool's workers claim chunks of a job from one atomic ticket, and the calling thread
 * works through the chunks too, then waits only for chunks already claimed. On a machine
 * shared with other work a worker the scheduler has not run yet costs nothing (the caller
 * does its chunks), where a fork-join team (OpenMP) would wait for it at the barrier of every
 * call: measured on two loaded cores, a training step of the teacher ran 4x slower with two
 * OpenMP threads than with one, and the tree's depth 8, batch 64 step 20x slower once its
 * small passes were split by OpenMP (bench/results/tree_hotpath.md).
 *
 * A job's chunks must not depend on the thread count for results to be the same whatever
 * it is: split work by rows, nodes or features, never a sum. Internal: each library that
 * includes it gets its own pool (the state is static); the includer defines _GNU_SOURCE
 * before any header (for sched_getaffinity).
 */
#ifndef CPU_POOL_H
#define CPU_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* The cores this process may run on. */
static int cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* A job: fn(ctx, c) for every chunk c < chunks, in any order, on any thread. */
typedef void (*chunk_fn)(void* ctx, int64_t chunk);

static struct {
  pthread_mutex_t call; /* one job at a time */
  pthread_mutex_t lock; /* guards sleepers and the wake-up */
  pthread_cond_t wake;
  int workers, sleepers;
  /* The job: its generation (high 32 bits) and next unclaimed chunk (low 32 bits). */
  _Atomic uint64_t ticket;
  _Atomic(chunk_fn) fn;
  _Atomic(void*) ctx;
  _Atomic int64_t chunks;
  _Atomic int64_t done;
  atomic_int wanted; /* workers with an index below this join the job */
} g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Claims and runs chunks of job `gen` until none is left (or the job is another one). */
static void work(uint32_t gen) {
  const chunk_fn fn = atomic_load_explicit(&g_pool.fn, memory_order_relaxed);
  void* const ctx = atomic_load_explicit(&g_pool.ctx, memory_order_relaxed);
  const int64_t chunks = atomic_load_explicit(&g_pool.chunks, memory_order_relaxed);
  uint64_t t = atomic_load_explicit(&g_pool.ticket, memory_order_acquire);
  for (;;) {
    /* A claim succeeds only while job gen is current and unfinished, so fn and ctx (written
     * before the job was published, rewritten only after it finished) are gen's. */
    if ((uint32_t)(t >> 32) != gen || (int64_t)(t & 0xffffffffu) >= chunks) return;
    if (atomic_compare_exchange_weak_explicit(&g_pool.ticket, &t, t + 1, memory_order_acq_rel,
                                              memory_order_acquire)) {
      fn(ctx, (int64_t)(t & 0xffffffffu));
      atomic_fetch_add_explicit(&g_pool.done, 1, memory_order_release);
      t = atomic_load_explicit(&g_pool.ticket, memory_order_acquire);
    }
  }
}

/* A worker: waits for a job (spinning a little, then asleep), joins it if wanted. */
static void* worker_main(void* arg) {
  const int index = (int)(intptr_t)arg;
  uint32_t seen = (uint32_t)(atomic_load(&g_pool.ticket) >> 32);
  for (;;) {
    uint32_t gen = (uint32_t)(atomic_load_explicit(&g_pool.ticket, memory_order_acquire) >> 32);
    if (gen == seen) {
      /* Spin briefly (a call's jobs follow each other within microseconds), then sleep: on a
       * shared machine a spinning worker runs down its share of the CPU and is then last to
       * be scheduled when work comes (measured on two loaded cores, a teacher training step:
       * 30 us spins ran 810-840 samples/s, 200 us 680-790, 1 ms 560-680). */
      const double until = now_seconds() + 3e-5;
      while ((gen = (uint32_t)(atomic_load_explicit(&g_pool.ticket, memory_order_acquire) >>
                               32)) == seen &&
             now_seconds() < until) {
        for (int i = 0; i < 64; i++) cpu_relax();
      }
      if (gen == seen) {
        pthread_mutex_lock(&g_pool.lock);
        g_pool.sleepers++;
        while ((uint32_t)(atomic_load(&g_pool.ticket) >> 32) == seen) {
          pthread_cond_wait(&g_pool.wake, &g_pool.lock);
        }
        g_pool.sleepers--;
        pthread_mutex_unlock(&g_pool.lock);
        continue;
      }
    }
    seen = gen;
    if (index < atomic_load_explicit(&g_pool.wanted, memory_order_relaxed)) work(gen);
  }
  return NULL;
}

/* Starts workers up to `n` (once started they live as long as the process). */
static void ensure_workers(int n) {
  while (g_pool.workers < n) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&t, &attr, worker_main, (void*)(intptr_t)g_pool.workers) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) return; /* fewer workers: the caller does more chunks itself */
    g_pool.workers++;
  }
}

/* Runs fn(ctx, c) for c < chunks on up to `threads` threads, the caller among them. */
static void parallel_for(int64_t chunks, int threads, chunk_fn fn, void* ctx) {
  if (threads > chunks) threads = (int)chunks;
  if (threads <= 1 || chunks > 0xffffffffLL) {
    for (int64_t c = 0; c < chunks; c++) fn(ctx, c);
    return;
  }
  pthread_mutex_lock(&g_pool.call);
  ensure_workers(threads - 1);
  atomic_store_explicit(&g_pool.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&g_pool.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&g_pool.chunks, chunks, memory_order_relaxed);
  atomic_store_explicit(&g_pool.done, 0, memory_order_relaxed);
  atomic_store_explicit(&g_pool.wanted, threads - 1, memory_order_relaxed);
  const uint32_t gen = (uint32_t)(atomic_load(&g_pool.ticket) >> 32) + 1;
  atomic_store_explicit(&g_pool.ticket, (uint64_t)gen << 32, memory_order_release);
  pthread_mutex_lock(&g_pool.lock);
  if (g_pool.sleepers > 0) pthread_cond_broadcast(&g_pool.wake);
  pthread_mutex_unlock(&g_pool.lock);
  work(gen);
  /* Only chunks that a worker claimed can be left: wait for those. */
  for (int spins = 0; atomic_load_explicit(&g_pool.done, memory_order_acquire) < chunks;
       spins++) {
    if (spins < 4096) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
  pthread_mutex_unlock(&g_pool.call);
}

#endif /* CPU_POOL_H */
