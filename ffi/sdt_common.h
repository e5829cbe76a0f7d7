/*
 * sdt_common.h — what the CPU (sdt_cpu.c) and CUDA (sdt_cuda.cu) builds share beyond the ABI
 * of sdt.h: the maths constants, the last-error buffer with `fail`, and the argument checks
 * that both builds must make the same way. Internal: included once by each build, never by
 * callers of the library.
 */
#ifndef SDT_COMMON_H
#define SDT_COMMON_H

#include "sdt.h"

#include <stdarg.h>
#include <stdio.h>

#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f
#define ALPHA_EPS 1e-5
#define MIX_EPS 1e-12f
#define DEN_EPS 1e-30

#ifdef __cplusplus
#define SDT_THREAD_LOCAL thread_local
#else
#define SDT_THREAD_LOCAL _Thread_local
#endif

static SDT_THREAD_LOCAL char g_error[512];

/* Record the message of a failure for sdt_last_error and return its status. */
static int32_t fail(int32_t status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_error, sizeof g_error, fmt, ap);
  va_end(ap);
  return status;
}

/* The checks of sdt_create's arguments. */
static int32_t check_create(void* out, int32_t depth, int32_t features, int32_t classes,
                            int32_t loss_kind, double ema_window) {
  if (!out) return fail(SDT_ERR_ARGUMENT, "sdt_create: the output pointer is null");
  if (depth < 1 || depth > 20)
    return fail(SDT_ERR_ARGUMENT, "Tree depth must be in [1, 20], got %d", depth);
  if (features < 1) return fail(SDT_ERR_ARGUMENT, "Features must be >= 1, got %d", features);
  if (classes < 1) return fail(SDT_ERR_ARGUMENT, "Classes must be >= 1, got %d", classes);
  if (loss_kind != SDT_LOSS_EXPECTED && loss_kind != SDT_LOSS_MIXTURE)
    return fail(SDT_ERR_ARGUMENT, "Unknown loss kind %d (0 expected, 1 mixture)", loss_kind);
  if (!(ema_window > 0))
    return fail(SDT_ERR_ARGUMENT, "The penalty's window must be > 0, got %g", ema_window);
  return SDT_OK;
}

/* The checks of sdt_train_samples's order of `n` rows over `resident` resident rows. */
static int32_t check_order(const int32_t* order, int32_t n, int32_t batch_size,
                           int32_t resident) {
  if (!resident)
    return fail(SDT_ERR_STATE, "No training set is resident: call sdt_set_train_data");
  if (batch_size < 1)
    return fail(SDT_ERR_ARGUMENT, "The batch size must be >= 1, got %d", batch_size);
  if (n < 0) return fail(SDT_ERR_ARGUMENT, "The order length must be >= 0, got %d", n);
  for (int32_t i = 0; i < n; i++)
    if (order[i] < 0 || order[i] >= resident)
      return fail(SDT_ERR_ARGUMENT, "Row index %d at position %d is outside the %d resident rows",
                  order[i], i, resident);
  return SDT_OK;
}

#endif
