/*
 * sdt.h — the C ABI of softtree's native hot path: a soft binary decision tree
 * (Frosst & Hinton 2017) trained with Adam, in one small library with two builds:
 * ffi/sdt_cpu.c (gcc, OpenMP) and ffi/sdt_cuda.cu (nvcc, cuBLAS loaded at run time).
 *
 * What it computes must match the reference maths in lib/backends/types.ts (restated
 * below) and the tfjs backend lib/backends/tfjs.ts; the parity suites
 * tests/backends_native_test.ts and tests/backends_cuda_test.ts check it.
 *
 * Shape glossary (the same as the TypeScript one):
 *   N  samples          B  batch            F  features        K  classes
 *   D  depth            I  = 2^D - 1 inner nodes               L  = 2^D leaves
 * Heap order: inner node n has children 2n+1 (left) and 2n+2 (right); leaf l is heap
 * node I + l. Every array is row-major float32 (int32 for indices and predictions).
 *
 * Maths, for a batch of B rows x with targets T [B, K] (one-hot or soft):
 *   z_n = beta (x . w_n + b_n), p_n = sigmoid(z_n)          probability of going right
 *   P_root = 1, P_{2n+1} = P_n (1 - p_n), P_{2n+2} = P_n p_n
 *   log Q^l = log_softmax(phi^l)
 *   loss EXPECTED: L(x) = -sum_l P^l sum_k T_k log Q^l_k
 *   loss MIXTURE:  L(x) = -sum_k T_k log(max(sum_l P^l Q^l_k, 1e-12))
 *   regression (leaves hold values: Q^l = phi^l, T [B, K] values):
 *   loss SQ_EXPECTED: L(x) = sum_l P^l sum_k (phi^l_k - T_k)^2
 *   loss SQ_MIXTURE:  L(x) = sum_k (y_k - T_k)^2, y = sum_l P^l phi^l
 *   penalty, node n at depth d: m_num = mean_x P_n p_n, m_den = mean_x P_n,
 *     lambda = steps == 0 ? 1 : min(1, B / (ema_window 2^d)),
 *     S = (1 - lambda) stored + lambda m (the stored averages are constants),
 *     alpha = clamp(S_num / max(S_den, 1e-30), 1e-5, 1 - 1e-5) (no gradient when clamped),
 *     C = -penalty_strength sum_n penalty_decay^d (0.5 log alpha + 0.5 log(1 - alpha));
 *     a training step stores num = S_num, den = S_den and counts steps += 1.
 *   objective = mean_x L(x) + C; Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected)
 *   on w, b, phi and (when learned) beta, one step count shared by all of them.
 *   predictions: max-leaf = argmax_k Q^{l*}_k with l* = argmax_l P^l (first on ties);
 *   mixture = argmax_k sum_l P^l Q^l_k. A regression tree's values are phi^{l*} (max-leaf, from
 *   max_leaf and the parameters) and y (sdt_forward's mixture); its class predictions are 0.
 *
 * Conventions: every function returns an sdt_status (0 = SDT_OK) unless it says
 * otherwise; on failure sdt_last_error() holds a sentence saying what failed (per thread).
 * Every pointer argument must be non-null (outputs documented as optional excepted) and
 * every count in range: a bad one is SDT_ERR_ARGUMENT with a message naming the argument.
 * Buffers must hold the sizes stated; the library cannot check a buffer's length.
 * Output arguments come first, then the context, then inputs. The library never prints,
 * exits or aborts. A context is not safe to use from two threads at once.
 */
#ifndef SDT_H
#define SDT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a prototype or a meaning below changes; bindings check it on load. */
#define SDT_ABI_VERSION 4

typedef enum {
  SDT_OK = 0,
  SDT_ERR_ARGUMENT = 1,    /* a null pointer, a size out of range, a bad option */
  SDT_ERR_STATE = 2,       /* e.g. training before a training set was uploaded */
  SDT_ERR_MEMORY = 3,      /* an allocation failed (host or device) */
  SDT_ERR_DEVICE = 4,      /* a CUDA call failed */
  SDT_ERR_UNAVAILABLE = 5, /* no GPU or no driver (CUDA build only) */
} sdt_status;

/* The first two train classification trees, the last two regression trees (version 4). */
typedef enum {
  SDT_LOSS_EXPECTED = 0,
  SDT_LOSS_MIXTURE = 1,
  SDT_LOSS_SQ_EXPECTED = 2,
  SDT_LOSS_SQ_MIXTURE = 3,
} sdt_loss_kind;

typedef struct sdt_ctx sdt_ctx;

/* SDT_ABI_VERSION of the built library. Returns the version, not a status. */
int32_t sdt_abi_version(void);
/* The last error of the calling thread ("" when none). Returns a string, not a status. */
const char* sdt_last_error(void);
/* One line describing the build, e.g. "cpu (gcc 12.2, avx2, openmp)"; the CUDA build adds
 * the matrix product in use ("GEMM: cuBLAS 13.1.0 from <path>" or "GEMM: own GEMM kernel
 * (why)", chosen by SOFTTREE_CUBLAS). Not a status. */
const char* sdt_build_info(void);
/* Whether this build can run here: SDT_OK, or SDT_ERR_UNAVAILABLE with the reason
 * (CUDA: no device, no driver, or a SOFTTREE_CUBLAS that cannot be loaded). `info`
 * receives a description of the device and (CUDA) the GEMM in use, at most `cap` bytes with
 * the terminating zero (info may be null when cap is 0). */
int32_t sdt_probe(char* info, int32_t cap);

/* Create a tree. Parameters start at zero (set them with sdt_set_params); Adam's moments
 * and the penalty's averages start at zero. depth in [1, 20]; I * F and L * K at most
 * 2^31 - 1; learn_beta 0 or 1; the doubles finite, penalty_strength, penalty_decay and
 * learning_rate >= 0, ema_window > 0. threads <= 0 means the machine's cores, at most 1024
 * (CPU build; checked but ignored by CUDA). */
int32_t sdt_create(sdt_ctx** out, int32_t depth, int32_t features, int32_t classes,
                   int32_t loss_kind, int32_t learn_beta, double inv_temp,
                   double penalty_strength, double penalty_decay, double ema_window,
                   double learning_rate, int32_t threads);
/* Free a tree (null is fine). Returns nothing. */
void sdt_destroy(sdt_ctx* ctx);

/* Replace the parameters w [I, F], b [I], phi [L, K], beta; resets Adam's moments and
 * step count. */
int32_t sdt_set_params(sdt_ctx* ctx, const float* w, const float* b, const float* phi,
                       float beta);
/* Copy the parameters out: w [I, F], b [I], phi [L, K], beta [1]. */
int32_t sdt_get_params(float* w, float* b, float* phi, float* beta, const sdt_ctx* ctx);
/* Replace the penalty's moving averages num [I], den [I] and its batch count. */
int32_t sdt_set_penalty(sdt_ctx* ctx, const float* num, const float* den, int64_t steps);
/* Copy the penalty's moving averages out: num [I], den [I], steps [1]. */
int32_t sdt_get_penalty(float* num, float* den, int64_t* steps, const sdt_ctx* ctx);
/* Adam's learning rate from the next step on. */
int32_t sdt_set_learning_rate(sdt_ctx* ctx, double learning_rate);
/* Set beta (for schedules of a fixed beta); Adam's state is kept. */
int32_t sdt_set_beta(sdt_ctx* ctx, float beta);
/* Copy Adam's state out (version 3; for resuming a run bit for bit): the moments m [P] and
 * v [P] laid out like the parameters one after another, P = I*F + I + L*K + 1 (w [I, F],
 * b [I], phi [L, K], beta), and the step count t [1]. */
int32_t sdt_get_adam(float* m, float* v, int64_t* t, const sdt_ctx* ctx);
/* Replace Adam's state: m [P], v [P] as sdt_get_adam gives them, t >= 0 steps. */
int32_t sdt_set_adam(sdt_ctx* ctx, const float* m, const float* v, int64_t t);

/* Upload a training set, kept resident (replacing any earlier one): x [N, F],
 * targets [N, K]. */
int32_t sdt_set_train_data(sdt_ctx* ctx, const float* x, const float* targets, int32_t n);
/* Train on the resident set: consecutive batches of batch_size rows taken from
 * order [n] (row indices), the last one short when n is not a multiple; one Adam step per
 * batch. loss_sum receives sum_x L(x) over all n rows, penalty_sum the sum of C over the
 * batches, batches their count. */
int32_t sdt_train_samples(double* loss_sum, double* penalty_sum, int32_t* batches,
                          sdt_ctx* ctx, const int32_t* order, int32_t n, int32_t batch_size);
/* One Adam step on a given batch x [B, F], targets [B, K]: loss = mean_x L(x), penalty = C. */
int32_t sdt_train_step(double* loss, double* penalty, sdt_ctx* ctx, const float* x,
                       const float* targets, int32_t batch);
/* Gradients of the objective on a batch without changing parameters, Adam or penalty
 * state: dw [I, F], db [I], dphi [L, K], dbeta [1] (computed even when beta is fixed). */
int32_t sdt_gradients(float* dw, float* db, float* dphi, double* dbeta, double* loss,
                      double* penalty, sdt_ctx* ctx, const float* x, const float* targets,
                      int32_t batch);
/* Forward n rows x [N, F]: inner [N, I] (p_n), leaf [N, L] (P^l), mixture [N, K],
 * pred_max_leaf [N], pred_mixture [N], max_leaf [N]. Any output may be null (skipped). */
int32_t sdt_forward(float* inner, float* leaf, float* mixture, int32_t* pred_max_leaf,
                    int32_t* pred_mixture, int32_t* max_leaf, sdt_ctx* ctx, const float* x,
                    int32_t n);
/* Evaluate a labelled split x [N, F], labels [N]: the fraction correct with max-leaf and
 * with mixture prediction, and the predictions themselves (either may be null).
 * SDT_ERR_STATE for a regression tree (it has no classes: use sdt_forward). */
int32_t sdt_evaluate(double* accuracy_max_leaf, double* accuracy_mixture,
                     int32_t* pred_max_leaf, int32_t* pred_mixture, sdt_ctx* ctx,
                     const float* x, const int32_t* labels, int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* SDT_H */
