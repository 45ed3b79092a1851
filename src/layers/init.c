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
  return !initializer || find_spec(initializer) != NULL;
}

lm_status lml_init_tensor(lm_ctx *ctx, lm_tensor *t, const char *initializer) {
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
