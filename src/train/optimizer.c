/* Keras 2.2.4 optimizers (keras/optimizers.py): SGD, RMSprop, Adam. */
#include <math.h>
#include <string.h>

#include "train/train.h"

static void opt_release_slots(lm_optimizer *o) {
  for (int i = 0; i < o->n_params * 3; i++) lm_dealloc(o->ctx, o->slots ? o->slots[i] : NULL);
  lm_dealloc(o->ctx, o->slots);
  lm_dealloc(o->ctx, o->sizes);
  o->slots = NULL;
  o->sizes = NULL;
  o->n_params = 0;
}

static void opt_destroy(lm_obj *obj) {
  lm_optimizer *o = (lm_optimizer *)obj;
  opt_release_slots(o);
  lm_dealloc(o->ctx, o);
}

void lm_optimizer_free(lm_optimizer *opt) {
  if (!opt) return;
  if (opt->owner) return; /* a compiled model owns it */
  lm_obj_detach(&opt->obj);
  opt_destroy(&opt->obj);
}

static lm_optimizer *opt_new(lm_ctx *ctx, int kind, const lm_optimizer_opts *opts) {
  if (!ctx) return NULL;
  lm_optimizer_opts o = {0};
  if (opts) o = *opts;
  if (o.lr < 0 || o.momentum < 0 || o.decay < 0 || o.clipnorm < 0 || o.clipvalue < 0 ||
      o.rho < 0 || o.epsilon < 0 || o.beta_1 < 0 || o.beta_1 >= 1 || o.beta_2 < 0 ||
      o.beta_2 >= 1) {
    lm_fail(ctx, LM_ERR_ARG,
            "optimizer arguments out of range (lr, momentum, decay, rho, epsilon, clipnorm, "
            "clipvalue must be >= 0; beta_1 and beta_2 in [0, 1))");
    return NULL;
  }
  static const float default_lr[] = {0.01f, 0.001f, 0.001f};
  if (o.lr == 0) o.lr = default_lr[kind];
  if (o.rho == 0) o.rho = 0.9f;
  if (o.beta_1 == 0) o.beta_1 = 0.9f;
  if (o.beta_2 == 0) o.beta_2 = 0.999f;
  if (o.epsilon == 0) o.epsilon = 1e-7f;
  lm_optimizer *opt = lm_alloc(ctx, sizeof *opt);
  if (!opt) return NULL;
  opt->ctx = ctx;
  opt->kind = kind;
  opt->o = o;
  opt->lr = o.lr;
  lm_obj_attach(ctx, &opt->obj, opt_destroy);
  return opt;
}

lm_optimizer *lm_optimizer_sgd(lm_ctx *ctx, const lm_optimizer_opts *o) { return opt_new(ctx, 0, o); }
lm_optimizer *lm_optimizer_rmsprop(lm_ctx *ctx, const lm_optimizer_opts *o) {
  return opt_new(ctx, 1, o);
}
lm_optimizer *lm_optimizer_adam(lm_ctx *ctx, const lm_optimizer_opts *o) { return opt_new(ctx, 2, o); }

lm_optimizer *lm_optimizer_by_name(lm_ctx *ctx, const char *name) {
  if (!ctx) return NULL;
  static const char *const names[] = {"sgd", "rmsprop", "adam"};
  for (int k = 0; name && k < 3; k++) {
    size_t n = strlen(names[k]);
    if (strlen(name) != n) continue;
    bool eq = true;
    for (size_t i = 0; i < n; i++)
      if ((name[i] | 0x20) != names[k][i]) eq = false;
    if (eq) return opt_new(ctx, k, NULL);
  }
  lm_fail(ctx, LM_ERR_ARG, "Unknown optimizer: %s (expected sgd, rmsprop or adam)",
          name ? name : "(null)");
  return NULL;
}

float lm_optimizer_lr(const lm_optimizer *opt) { return opt ? opt->lr : 0.0f; }
void lm_optimizer_set_lr(lm_optimizer *opt, float lr) {
  if (opt) opt->lr = lr;
}
int64_t lm_optimizer_iterations(const lm_optimizer *opt) { return opt ? opt->iterations : 0; }

/* The slot arrays (moments, velocities) come with the first training step
 * (lmt_opt_ready): a compiled model that only predicts, such as one
 * lm_model_load compiled from its training config, never holds them. */
lm_status lmt_opt_attach(lm_optimizer *o, int n, lm_tensor *const *params) {
  opt_release_slots(o);
  o->slots = lm_alloc(o->ctx, sizeof(float *) * (size_t)(3 * n + 1));
  o->sizes = lm_alloc(o->ctx, sizeof(int64_t) * (size_t)(n + 1));
  if (!o->slots || !o->sizes) {
    opt_release_slots(o);
    return LM_ERR_NOMEM;
  }
  o->n_params = n;
  for (int i = 0; i < n; i++) o->sizes[i] = params[i]->size;
  return LM_OK;
}

lm_status lmt_opt_ready(lm_optimizer *o) {
  int per = o->kind == 0 ? (o->o.momentum > 0 ? 1 : 0) : o->kind == 1 ? 1 : (o->o.amsgrad ? 3 : 2);
  for (int i = 0; i < o->n_params; i++)
    for (int s = 0; s < per; s++) {
      if (o->slots[3 * i + s]) continue;
      o->slots[3 * i + s] = lm_alloc(o->ctx, sizeof(float) * (size_t)(o->sizes[i] + 1));
      if (!o->slots[3 * i + s]) { /* back to none: a later call starts afresh */
        for (int k = 0; k < o->n_params * 3; k++) {
          lm_dealloc(o->ctx, o->slots[k]);
          o->slots[k] = NULL;
        }
        return LM_ERR_NOMEM;
      }
    }
  return LM_OK;
}

void lmt_opt_step(lm_optimizer *o, int n, lm_tensor *const *params, float *const *grads) {
  const lm_optimizer_opts *c = &o->o;
  for (int i = 0; i < n; i++) params[i]->version++;
  /* clipnorm: global norm over all gradients (Keras 2.2.4) */
  float scale = 1.0f;
  if (c->clipnorm > 0) {
    double ss = 0;
    for (int i = 0; i < n; i++)
      for (int64_t k = 0; k < params[i]->size; k++) ss += (double)grads[i][k] * grads[i][k];
    double norm = sqrt(ss);
    if (norm >= c->clipnorm) scale = (float)(c->clipnorm / norm);
  }
  float lr = o->lr;
  if (c->decay > 0) lr = (float)(lr / (1.0 + (double)c->decay * (double)o->iterations));
  double t = (double)(o->iterations + 1);
  float lr_t = lr;
  if (o->kind == 2)
    lr_t = (float)(lr * sqrt(1.0 - pow(c->beta_2, t)) / (1.0 - pow(c->beta_1, t)));
  for (int i = 0; i < n; i++) {
    float *p = params[i]->data;
    const float *g = grads[i];
    int64_t size = params[i]->size;
    float *s0 = o->slots[3 * i], *s1 = o->slots[3 * i + 1], *s2 = o->slots[3 * i + 2];
    for (int64_t k = 0; k < size; k++) {
      float gk = g[k] * scale;
      if (c->clipvalue > 0) gk = gk > c->clipvalue ? c->clipvalue : gk < -c->clipvalue ? -c->clipvalue : gk;
      switch (o->kind) {
      case 0:
        if (c->momentum > 0) {
          float v = c->momentum * s0[k] - lr * gk;
          s0[k] = v;
          p[k] += c->nesterov ? c->momentum * v - lr * gk : v;
        } else {
          p[k] -= lr * gk;
        }
        break;
      case 1: {
        float a = c->rho * s0[k] + (1.0f - c->rho) * gk * gk;
        s0[k] = a;
        p[k] -= lr * gk / (sqrtf(a) + c->epsilon);
        break;
      }
      default: {
        float m = c->beta_1 * s0[k] + (1.0f - c->beta_1) * gk;
        float v = c->beta_2 * s1[k] + (1.0f - c->beta_2) * gk * gk;
        s0[k] = m;
        s1[k] = v;
        float den = v;
        if (c->amsgrad) {
          if (v > s2[k]) s2[k] = v;
          den = s2[k];
        }
        p[k] -= lr_t * m / (sqrtf(den) + c->epsilon);
      }
      }
    }
  }
  o->iterations++;
}
