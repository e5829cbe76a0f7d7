/*
 * What the tree's library (sdt_*) and the teacher's kernels (stk_*) share in their C ABI's
 * plumbing: the last-error string of the calling thread and the `fail` that records it. Each
 * library includes this once per translation unit through its own *_common.h, so each keeps its
 * own error buffer.
 */
#ifndef FFI_COMMON_H
#define FFI_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
#define FFI_THREAD_LOCAL thread_local
#else
#define FFI_THREAD_LOCAL _Thread_local
#endif

/* The message of the calling thread's last failure (the *_last_error entry points return it). */
static FFI_THREAD_LOCAL char g_error[512];

/* Record the message of a failure for *_last_error and return its status. */
static int32_t fail(int32_t status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_error, sizeof g_error, fmt, ap);
  va_end(ap);
  return status;
}

/* Return the status of `expr` from the calling function when it is not `ok`. */
#define FFI_TRY(expr, ok)           \
  do {                              \
    int32_t s_ = (expr);            \
    if (s_ != (ok)) return s_;      \
  } while (0)

#endif
