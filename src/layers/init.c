/* Keras initializers (keras/initializers.py, 2.2.4). */
#include <math.h>
#include <string.h>

#include "layers/layer.h"

static void fans(const lm_tensor *t, double *fan_in, double *fan_out) {
  if (t->ndim == 2) {
    *fan_in = (double)t->shape[0];
    *fan_out = (double)t->shape[1];
  } else if (t->ndim >= 3 && t->ndim <= 5) {
    double rf = 1;
    for (int i = 0; i < t->ndim - 2; i++) rf *= (double)t->shape[i];
    *fan_in = (double)t->shape[t->ndim - 2] * rf;
    *fan_out = (double)t->shape[t->ndim - 1] * rf;
  } else {
    double n = sqrt((double)(t->size ? t->size : 1));
    *fan_in = *fan_out = n;
  }
}

/* Truncated normal (resample beyond 2 stddev), as TF's truncated_normal. */
static double trunc_normal(uint64_t *rng) {
  double z;
  do z = lm_rng_normal(rng);
  while (fabs(z) > 2.0);
  return z;
}

typedef struct init_spec {
  const char *name;
  int kind;       /* 0 const, 1 variance scaling, 2 uniform, 3 normal */
  double value;   /* const value, or scale for variance scaling */
  int mode;       /* 0 fan_in, 1 fan_out, 2 fan_avg */
  bool uniform;   /* variance scaling distribution */
} init_spec;

static const init_spec specs[] = {
    {"zeros", 0, 0.0, 0, false},
    {"Zeros", 0, 0.0, 0, false},
    {"ones", 0, 1.0, 0, false},
    {"Ones", 0, 1.0, 0, false},
    {"glorot_uniform", 1, 1.0, 2, true},
    {"glorot_normal", 1, 1.0, 2, false},
    {"he_uniform", 1, 2.0, 0, true},
    {"he_normal", 1, 2.0, 0, false},
    {"lecun_uniform", 1, 1.0, 0, true},
    {"lecun_normal", 1, 1.0, 0, false},
    {"uniform", 2, 0.05, 0, true},
    {"random_uniform", 2, 0.05, 0, true},
    {"normal", 3, 0.05, 0, false},
    {"random_normal", 3, 0.05, 0, false},
};

static const init_spec *find_spec(const char *name) {
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    if (strcmp(specs[i].name, name) == 0) return &specs[i];
  return NULL;
}

bool lml_initializer_known(const char *initializer) {
  return !initializer || find_spec(initializer) != NULL ||
         strcmp(initializer, "orthogonal") == 0 || strcmp(initializer, "Orthogonal") == 0;
}

/* Orthogonal (gain 1) on the (prod(shape[:-1]), shape[-1]) matrix: modified
 * Gram-Schmidt over the shorter side of a normal matrix, in double, so rows
 * (rows <= cols) or columns come out orthonormal, as Keras' SVD does. */
static lm_status init_orthogonal(lm_ctx *ctx, lm_tensor *t) {
  int64_t cols = t->ndim ? t->shape[t->ndim - 1] : 1, rows = cols ? t->size / cols : 0;
  bool by_rows = rows <= cols;
  int64_t nv = by_rows ? rows : cols, len = by_rows ? cols : rows;
  double *a = lm_alloc(ctx, sizeof(double) * (size_t)(t->size ? t->size : 1));
  if (!a) return LM_ERR_NOMEM;
  for (int64_t i = 0; i < t->size; i++) a[i] = lm_rng_normal(ctx->rng);
  /* vector v, element k */
#define ORTH_AT(v, k) a[by_rows ? (v) * cols + (k) : (k) * cols + (v)]
  for (int64_t v = 0; v < nv; v++) {
    for (int64_t p = 0; p < v; p++) {
      double dot = 0;
      for (int64_t k = 0; k < len; k++) dot += ORTH_AT(v, k) * ORTH_AT(p, k);
      for (int64_t k = 0; k < len; k++) ORTH_AT(v, k) -= dot * ORTH_AT(p, k);
    }
    double nrm = 0;
    for (int64_t k = 0; k < len; k++) nrm += ORTH_AT(v, k) * ORTH_AT(v, k);
    nrm = sqrt(nrm);
    for (int64_t k = 0; k < len; k++) ORTH_AT(v, k) = nrm > 0 ? ORTH_AT(v, k) / nrm : 0.0;
  }
#undef ORTH_AT
  float *w = t->data;
  for (int64_t i = 0; i < t->size; i++) w[i] = (float)a[i];
  lm_dealloc(ctx, a);
  return LM_OK;
}

lm_status lml_init_tensor(lm_ctx *ctx, lm_tensor *t, const char *initializer) {
  if (initializer && (!strcmp(initializer, "orthogonal") || !strcmp(initializer, "Orthogonal")))
    return init_orthogonal(ctx, t);
  const init_spec *s = find_spec(initializer ? initializer : "zeros");
  if (!s) return lm_fail(ctx, LM_ERR_ARG, "Unknown initializer: %s", initializer);
  float *w = t->data;
  uint64_t *rng = ctx->rng;
  double fan_in, fan_out;
  fans(t, &fan_in, &fan_out);
  switch (s->kind) {
  case 0:
    for (int64_t i = 0; i < t->size; i++) w[i] = (float)s->value;
    break;
  case 1: {
    double fan = s->mode == 0 ? fan_in : s->mode == 1 ? fan_out : (fan_in + fan_out) / 2.0;
    double scale = s->value / (fan > 1.0 ? fan : 1.0);
    if (s->uniform) {
      double limit = sqrt(3.0 * scale);
      for (int64_t i = 0; i < t->size; i++)
        w[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * limit);
    } else {
      double stddev = sqrt(scale) / 0.87962566103423978;
      for (int64_t i = 0; i < t->size; i++) w[i] = (float)(trunc_normal(rng) * stddev);
    }
    break;
  }
  case 2:
    for (int64_t i = 0; i < t->size; i++)
      w[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * s->value);
    break;
  default:
    for (int64_t i = 0; i < t->size; i++) w[i] = (float)(lm_rng_normal(rng) * s->value);
  }
  return LM_OK;
}
