/*
 * mtl_blas: the few numeric kernels the `blas` TensorFlow.js backend runs natively (see
 * src/mtl/blas/). A Node-API addon over the system's CBLAS (OpenBLAS on Debian:
 * libopenblas-dev), built by native/build.mjs. Every function works on Float32Arrays the caller
 * allocated (the cpu backend's tensor storage), so nothing here owns memory.
 *
 *   sgemm(batch, transA, transB, M, N, K, A, strideA, B, strideB, C, strideC)
 *       C[i] = op(A[i]) · op(B[i]) for i < batch, row-major; a stride of 0 broadcasts that operand.
 *   epilogue(C, rows, cols, bias | null, activation, alpha)
 *       in place: C += bias (one value per column, or a single value), then the activation
 *       (0 linear, 1 relu, 2 relu6, 3 elu, 4 sigmoid, 5 leakyrelu with alpha, 6 tanh).
 *   adamInPlace(value, grad, m, v, beta1, oneMinusBeta1, beta2, oneMinusBeta2, oneMinusAccBeta1,
 *               oneMinusAccBeta2, epsilon, negLearningRate)
 *       one Adam step, in float32, in the same order of operations as tfjs's AdamOptimizer,
 *       written over value, m and v (the caller copies them first when anything else shares them).
 *   sumRows(x, rows, cols, out)   out[j] = Σ_i x[i, j] (double accumulator, as the cpu Sum kernel)
 *   binary(op, out, a, b, d0, d1, d2, sa0, sa1, sa2, sb0, sb1, sb2)
 *       out[i0,i1,i2] = a[i0*sa0 + i1*sa1 + i2*sa2] (op) b[…] over a (collapsed, ≤ 3-d) broadcast:
 *       a stride of 0 repeats that operand; op 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min,
 *       6 squared difference. float32 in and out, one rounding per op as in JS.
 *   unary(op, x, out, alpha)
 *       out[i] = f(x[i]): 0 relu, 1 step (alpha below 0, NaN kept), 2 neg, 3 exp, 4 log, 5 log1p,
 *       6 abs, 7 sqrt, 8 square, 9 sigmoid, 10 elu, 11 relu6, 12 tanh.
 *   activationGrad(op, dy, y, out)
 *       out = dy · f'(x) from the activation's output y, as tfjs's gradients compute it: 1 relu
 *       (dy · step(y)), 3 elu (EluGrad), 4 sigmoid (dy · y(1 − y)), 6 tanh (dy · (1 − y²)).
 *   threads() / setThreads(n) / info()   OpenBLAS's thread count
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include <cblas.h>

#ifdef MTL_OPENBLAS
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
#endif

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, NULL, "mtl_blas: Node-API call failed: " #call);        \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

/* Declares argv[n] with a function's arguments; throws unless at least n were passed. */
#define ARGS(n, name)                                                               \
  size_t argc = (n);                                                                \
  napi_value argv[(n)];                                                             \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                      \
  if (argc < (n)) {                                                                 \
    napi_throw_error(env, NULL, "mtl_blas." name ": " #n " arguments expected");    \
    return NULL;                                                                    \
  }

static int get_f32(napi_env env, napi_value v, float **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "mtl_blas: expected a Float32Array");
    return 0;
  }
  *data = (float *)raw;
  return 1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "mtl_blas: expected an integer");
    return 0;
  }
  return 1;
}

static int get_f64(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "mtl_blas: expected a number");
    return 0;
  }
  return 1;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    napi_throw_type_error(env, NULL, "mtl_blas: expected a boolean");
    return 0;
  }
  *out = b ? 1 : 0;
  return 1;
}


static napi_value Sgemm(napi_env env, napi_callback_info info) {
  ARGS(12, "sgemm")
  int64_t batch, M, N, K, sA, sB, sC;
  int tA, tB;
  float *A, *B, *C;
  size_t lA, lB, lC;
  if (!get_i64(env, argv[0], &batch) || !get_bool(env, argv[1], &tA) || !get_bool(env, argv[2], &tB) ||
      !get_i64(env, argv[3], &M) || !get_i64(env, argv[4], &N) || !get_i64(env, argv[5], &K) ||
      !get_f32(env, argv[6], &A, &lA) || !get_i64(env, argv[7], &sA) || !get_f32(env, argv[8], &B, &lB) ||
      !get_i64(env, argv[9], &sB) || !get_f32(env, argv[10], &C, &lC) || !get_i64(env, argv[11], &sC))
    return NULL;
  if (batch < 1 || M < 0 || N < 0 || K < 0 || sA < 0 || sB < 0 || sC < 0 ||
      (size_t)((batch - 1) * sA + M * K) > lA || (size_t)((batch - 1) * sB + K * N) > lB ||
      (size_t)((batch - 1) * sC + M * N) > lC) {
    napi_throw_range_error(env, NULL, "mtl_blas.sgemm: shapes do not fit the arrays");
    return NULL;
  }
  if (M == 0 || N == 0) return NULL;
  if (K == 0) {
    for (int64_t i = 0; i < batch; i++) memset(C + i * sC, 0, sizeof(float) * (size_t)(M * N));
    return NULL;
  }
  const int lda = tA ? (int)M : (int)K;
  const int ldb = tB ? (int)K : (int)N;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                A + i * sA, lda, B + i * sB, ldb, 0.0f, C + i * sC, (int)N);
  }
  return NULL;
}

static napi_value Epilogue(napi_env env, napi_callback_info info) {
  ARGS(6, "epilogue")
  float *C, *bias = NULL;
  size_t lC, lBias = 0;
  int64_t rows, cols, act;
  double alpha;
  napi_valuetype bt;
  if (!get_f32(env, argv[0], &C, &lC) || !get_i64(env, argv[1], &rows) || !get_i64(env, argv[2], &cols)) return NULL;
  CHECK(napi_typeof(env, argv[3], &bt));
  if (bt != napi_null && bt != napi_undefined && !get_f32(env, argv[3], &bias, &lBias)) return NULL;
  if (!get_i64(env, argv[4], &act) || !get_f64(env, argv[5], &alpha)) return NULL;
  if (rows < 0 || cols < 0 || (size_t)(rows * cols) > lC || (bias && lBias != 1 && (int64_t)lBias != cols)) {
    napi_throw_range_error(env, NULL, "mtl_blas.epilogue: shapes do not fit the arrays");
    return NULL;
  }
  const float a = (float)alpha;
  for (int64_t i = 0; i < rows; i++) {
    float *row = C + i * cols;
    if (bias) {
      if (lBias == 1) {
        const float b0 = bias[0];
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] + b0;
      } else {
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] + bias[j];
      }
    }
    switch (act) {
      case 0:
        break;
      case 1: /* relu: Math.max(0, x) (NaN stays NaN) */
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? 0.0f : row[j];
        break;
      case 2: /* relu6 */
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? 0.0f : (row[j] > 6.0f ? 6.0f : row[j]);
        break;
      case 3: /* elu */
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] >= 0.0f ? row[j] : (float)(exp((double)row[j]) - 1.0);
        break;
      case 4: /* sigmoid */
        for (int64_t j = 0; j < cols; j++) row[j] = (float)(1.0 / (1.0 + exp(-(double)row[j])));
        break;
      case 5: /* leakyrelu */
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? a * row[j] : row[j];
        break;
      case 6: /* tanh */
        for (int64_t j = 0; j < cols; j++) row[j] = (float)tanh((double)row[j]);
        break;
      default:
        napi_throw_range_error(env, NULL, "mtl_blas.epilogue: unknown activation");
        return NULL;
    }
  }
  return NULL;
}

/* Adam in place (tfjs's arithmetic): each element read before it is written */
__attribute__((noinline)) static void adam_inplace(float *w, const float *restrict g, float *m, float *v, size_t n, float beta1, float omb1,
                                                   float beta2, float omb2, float omab1, float omab2, float eps, float neglr) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float nm = m[i] * beta1 + gi * omb1;
    const float nv = v[i] * beta2 + (gi * gi) * omb2;
    const float mh = nm / omab1;
    const float vh = nv / omab2;
    w[i] = ((mh / (sqrtf(vh) + eps)) * neglr) + w[i];
    m[i] = nm;
    v[i] = nv;
  }
}

static napi_value AdamInPlace(napi_env env, napi_callback_info info) {
  ARGS(12, "adamInPlace")
  float *w, *g, *m, *v;
  size_t lw, lg, lm, lv;
  double d[8];
  if (!get_f32(env, argv[0], &w, &lw) || !get_f32(env, argv[1], &g, &lg) || !get_f32(env, argv[2], &m, &lm) || !get_f32(env, argv[3], &v, &lv)) return NULL;
  for (int i = 0; i < 8; i++)
    if (!get_f64(env, argv[4 + i], &d[i])) return NULL;
  if (lg != lw || lm != lw || lv != lw || g == w || g == m || g == v || w == m || w == v || m == v) {
    napi_throw_range_error(env, NULL, "mtl_blas.adamInPlace: arrays differ in length or overlap");
    return NULL;
  }
  adam_inplace(w, g, m, v, lw, (float)d[0], (float)d[1], (float)d[2], (float)d[3], (float)d[4], (float)d[5], (float)d[6], (float)d[7]);
  return NULL;
}

static napi_value SumRows(napi_env env, napi_callback_info info) {
  ARGS(4, "sumRows")
  float *x, *out;
  size_t lx, lo;
  int64_t rows, cols;
  if (!get_f32(env, argv[0], &x, &lx) || !get_i64(env, argv[1], &rows) || !get_i64(env, argv[2], &cols) ||
      !get_f32(env, argv[3], &out, &lo))
    return NULL;
  if (rows < 0 || cols < 0 || (size_t)(rows * cols) > lx || (size_t)cols > lo) {
    napi_throw_range_error(env, NULL, "mtl_blas.sumRows: shapes do not fit the arrays");
    return NULL;
  }
  double *acc = calloc((size_t)cols + 1, sizeof(double));
  if (!acc) {
    napi_throw_error(env, NULL, "mtl_blas.sumRows: out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < rows; i++) {
    const float *row = x + i * cols;
    for (int64_t j = 0; j < cols; j++) acc[j] += row[j];
  }
  for (int64_t j = 0; j < cols; j++) out[j] = (float)acc[j];
  free(acc);
  return NULL;
}


/* ---- elementwise kernels: the op is chosen once per call, each inner loop is a plain loop ---- */

#define BINARY_LOOPS(NAME, EXPR)                                                                  \
  static void NAME(float *out, const float *a, const float *b, int64_t d0, int64_t d1, int64_t d2, \
                   int64_t sa0, int64_t sa1, int64_t sa2, int64_t sb0, int64_t sb1, int64_t sb2) {   \
    for (int64_t i0 = 0; i0 < d0; i0++)                                                           \
      for (int64_t i1 = 0; i1 < d1; i1++) {                                                       \
        const float *pa = a + i0 * sa0 + i1 * sa1;                                                \
        const float *pb = b + i0 * sb0 + i1 * sb1;                                                \
        float *po = out + (i0 * d1 + i1) * d2;                                                    \
        if (sa2 == 1 && sb2 == 1) {                                                               \
          for (int64_t i = 0; i < d2; i++) { const float x = pa[i], y = pb[i]; po[i] = (EXPR); }  \
        } else if (sa2 == 1 && sb2 == 0) {                                                        \
          const float y = pb[0];                                                                  \
          for (int64_t i = 0; i < d2; i++) { const float x = pa[i]; po[i] = (EXPR); }             \
        } else if (sa2 == 0 && sb2 == 1) {                                                        \
          const float x = pa[0];                                                                  \
          for (int64_t i = 0; i < d2; i++) { const float y = pb[i]; po[i] = (EXPR); }             \
        } else {                                                                                  \
          for (int64_t i = 0; i < d2; i++) { const float x = pa[i * sa2], y = pb[i * sb2]; po[i] = (EXPR); } \
        }                                                                                         \
      }                                                                                           \
  }

static inline float fmaxjs(float x, float y) { return (x != x || y != y) ? NAN : (x > y ? x : y); }
static inline float fminjs(float x, float y) { return (x != x || y != y) ? NAN : (x < y ? x : y); }

BINARY_LOOPS(bin_add, x + y)
BINARY_LOOPS(bin_sub, x - y)
BINARY_LOOPS(bin_mul, x * y)
BINARY_LOOPS(bin_div, x / y)
BINARY_LOOPS(bin_max, fmaxjs(x, y))
BINARY_LOOPS(bin_min, fminjs(x, y))
BINARY_LOOPS(bin_sqdiff, (float)(((double)x - (double)y) * ((double)x - (double)y)))

typedef void (*binary_fn)(float *, const float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
static const binary_fn BINARY[] = {bin_add, bin_sub, bin_mul, bin_div, bin_max, bin_min, bin_sqdiff};

static napi_value Binary(napi_env env, napi_callback_info info) {
  ARGS(13, "binary")
  int64_t op, n[9];
  float *out, *a, *b;
  size_t lo, la, lb;
  if (!get_i64(env, argv[0], &op) || !get_f32(env, argv[1], &out, &lo) || !get_f32(env, argv[2], &a, &la) || !get_f32(env, argv[3], &b, &lb))
    return NULL;
  for (int i = 0; i < 9; i++)
    if (!get_i64(env, argv[4 + i], &n[i])) return NULL;
  const int64_t d0 = n[0], d1 = n[1], d2 = n[2];
  if (op < 0 || op >= (int64_t)(sizeof BINARY / sizeof BINARY[0]) || d0 < 0 || d1 < 0 || d2 < 0 || (size_t)(d0 * d1 * d2) > lo) {
    napi_throw_range_error(env, NULL, "mtl_blas.binary: bad op or shape");
    return NULL;
  }
  if (d0 * d1 * d2 == 0) return NULL;
  /* the last element each operand reads must be inside it */
  if ((size_t)((d0 - 1) * n[3] + (d1 - 1) * n[4] + (d2 - 1) * n[5]) >= la || (size_t)((d0 - 1) * n[6] + (d1 - 1) * n[7] + (d2 - 1) * n[8]) >= lb ||
      n[3] < 0 || n[4] < 0 || n[5] < 0 || n[6] < 0 || n[7] < 0 || n[8] < 0) {
    napi_throw_range_error(env, NULL, "mtl_blas.binary: strides reach outside an operand");
    return NULL;
  }
  BINARY[op](out, a, b, d0, d1, d2, n[3], n[4], n[5], n[6], n[7], n[8]);
  return NULL;
}

static napi_value Unary(napi_env env, napi_callback_info info) {
  ARGS(4, "unary")
  int64_t op;
  float *x, *out;
  size_t lx, lo;
  double alpha;
  if (!get_i64(env, argv[0], &op) || !get_f32(env, argv[1], &x, &lx) || !get_f32(env, argv[2], &out, &lo) || !get_f64(env, argv[3], &alpha))
    return NULL;
  if (lo < lx) {
    napi_throw_range_error(env, NULL, "mtl_blas.unary: output shorter than input");
    return NULL;
  }
  const float al = (float)alpha;
  const size_t n = lx;
  switch (op) {
    case 0: for (size_t i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i]; break;
    case 1: for (size_t i = 0; i < n; i++) out[i] = x[i] != x[i] ? NAN : (x[i] > 0.0f ? 1.0f : al); break;
    case 2: for (size_t i = 0; i < n; i++) out[i] = x[i] * -1.0f; break;
    case 3: for (size_t i = 0; i < n; i++) out[i] = (float)exp((double)x[i]); break;
    case 4: for (size_t i = 0; i < n; i++) out[i] = (float)log((double)x[i]); break;
    case 5: for (size_t i = 0; i < n; i++) out[i] = (float)log1p((double)x[i]); break;
    case 6: for (size_t i = 0; i < n; i++) out[i] = fabsf(x[i]); break;
    case 7: for (size_t i = 0; i < n; i++) out[i] = sqrtf(x[i]); break;
    case 8: for (size_t i = 0; i < n; i++) out[i] = x[i] * x[i]; break;
    case 9: for (size_t i = 0; i < n; i++) out[i] = (float)(1.0 / (1.0 + exp(-(double)x[i]))); break;
    case 10: for (size_t i = 0; i < n; i++) out[i] = x[i] >= 0.0f ? x[i] : (float)(exp((double)x[i]) - 1.0); break;
    case 11: for (size_t i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : (x[i] > 6.0f ? 6.0f : x[i]); break;
    case 12: for (size_t i = 0; i < n; i++) out[i] = (float)tanh((double)x[i]); break;
    default:
      napi_throw_range_error(env, NULL, "mtl_blas.unary: unknown op");
      return NULL;
  }
  return NULL;
}

static napi_value ActivationGrad(napi_env env, napi_callback_info info) {
  ARGS(4, "activationGrad")
  int64_t op;
  float *dy, *y, *out;
  size_t ldy, ly, lo;
  if (!get_i64(env, argv[0], &op) || !get_f32(env, argv[1], &dy, &ldy) || !get_f32(env, argv[2], &y, &ly) || !get_f32(env, argv[3], &out, &lo))
    return NULL;
  if (ly != ldy || lo != ldy) {
    napi_throw_range_error(env, NULL, "mtl_blas.activationGrad: arrays differ in length");
    return NULL;
  }
  const size_t n = ldy;
  switch (op) {
    case 1: /* dy · step(y): step is 1 above 0, 0 otherwise, NaN for NaN (written branch-free so it vectorises) */
      for (size_t i = 0; i < n; i++) {
        const float s = y[i] > 0.0f ? 1.0f : 0.0f;
        out[i] = dy[i] * (y[i] == y[i] ? s : y[i]);
      }
      break;
    case 3: for (size_t i = 0; i < n; i++) out[i] = y[i] >= 0.0f ? dy[i] : (float)((double)dy[i] * ((double)y[i] + 1.0)); break;
    case 4: for (size_t i = 0; i < n; i++) out[i] = dy[i] * (y[i] * (1.0f - y[i])); break;
    case 6: for (size_t i = 0; i < n; i++) out[i] = (1.0f - y[i] * y[i]) * dy[i]; break;
    default:
      napi_throw_range_error(env, NULL, "mtl_blas.activationGrad: unsupported activation");
      return NULL;
  }
  return NULL;
}

static napi_value Threads(napi_env env, napi_callback_info info) {
  napi_value out;
#ifdef MTL_OPENBLAS
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
#else
  CHECK(napi_create_int32(env, 1, &out));
#endif
  return out;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  ARGS(1, "setThreads")
  int64_t n;
  if (!get_i64(env, argv[0], &n)) return NULL;
#ifdef MTL_OPENBLAS
  if (n > 0) openblas_set_num_threads((int)n);
#endif
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  napi_value out;
#ifdef MTL_OPENBLAS
  char buf[512];
  snprintf(buf, sizeof buf, "OpenBLAS %s (core %s)", openblas_get_config(), openblas_get_corename());
  CHECK(napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &out));
#else
  CHECK(napi_create_string_utf8(env, "CBLAS", NAPI_AUTO_LENGTH, &out));
#endif
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"epilogue", NULL, Epilogue, NULL, NULL, NULL, napi_enumerable, NULL},
    {"adamInPlace", NULL, AdamInPlace, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sumRows", NULL, SumRows, NULL, NULL, NULL, napi_enumerable, NULL},
    {"binary", NULL, Binary, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unary", NULL, Unary, NULL, NULL, NULL, napi_enumerable, NULL},
    {"activationGrad", NULL, ActivationGrad, NULL, NULL, NULL, napi_enumerable, NULL},
    {"threads", NULL, Threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

#ifndef NODE_GYP_MODULE_NAME
#define NODE_GYP_MODULE_NAME mtl_blas
#endif
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
