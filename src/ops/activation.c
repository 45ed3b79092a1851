/* Keras activations as one elementwise op (softmax goes to the softmax op). */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

#define MAP(count, ...) LMO_MAP(g->threads, count, __VA_ARGS__)

/* Keras' selu constants (Klambauer et al.). */
#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f

static const char *const act_names[LMO_N_ACT] = {
    "linear", "relu", "sigmoid",  "hard_sigmoid", "tanh",       "softmax",
    "elu",    "selu", "softplus", "softsign",     "leaky_relu",
};

int lmo_act_parse(const char *name) {
  if (!name) return LMO_LINEAR;
  for (int k = 0; k < LMO_N_ACT; k++)
    if (strcmp(name, act_names[k]) == 0) return k;
  return -1;
}

const char *lmo_act_name(int kind) {
  return kind >= 0 && kind < LMO_N_ACT ? act_names[kind] : NULL;
}

static lm_status activation_infer(lmg_graph *g, lmg_node *n) {
  int kind = n->iarg[0];
  if (kind < 0 || kind >= LMO_N_ACT || kind == LMO_SOFTMAX)
    return lm_fail(g->ctx, LM_ERR_ARG, "activation op: bad kind %d", kind);
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  n->dtype = LM_FLOAT32;
  n->ndim = x->ndim;
  memcpy(n->shape, x->shape, sizeof n->shape);
  return LM_OK;
}

static inline float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

static void activation_forward(lmg_graph *g, lmg_node *n) {
  const float *restrict x = lmg_in(g, n, 0)->val;
  float *restrict y = n->val;
  float alpha = n->farg[0];
  int64_t size = n->size;
  switch (n->iarg[0]) {
    case LMO_RELU: MAP(size, float v = x[i]; y[i] = v > 0.0f ? v : 0.0f); break;
    case LMO_SIGMOID: MAP(size, y[i] = sigmoid(x[i])); break;
    case LMO_HARD_SIGMOID:
      MAP(size, float t = 0.2f * x[i] + 0.5f; y[i] = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t);
      break;
    case LMO_TANH: MAP(size, y[i] = tanhf(x[i])); break;
    case LMO_ELU: MAP(size, y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i])); break;
    case LMO_SELU:
      MAP(size, y[i] = x[i] > 0.0f ? SELU_SCALE * x[i] : SELU_SCALE * SELU_ALPHA * expm1f(x[i]));
      break;
    case LMO_SOFTPLUS:
      MAP(size, y[i] = x[i] > 0.0f ? x[i] + log1pf(expf(-x[i])) : log1pf(expf(x[i])));
      break;
    case LMO_SOFTSIGN: MAP(size, y[i] = x[i] / (1.0f + fabsf(x[i]))); break;
    case LMO_LEAKY_RELU: MAP(size, y[i] = x[i] > 0.0f ? x[i] : alpha * x[i]); break;
    default: MAP(size, y[i] = x[i]); break; /* linear */
  }
}

static void activation_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *in = lmg_in(g, n, 0);
  if (!in->grad) return;
  const float *restrict x = in->val, *restrict y = n->val, *restrict dy = n->grad;
  float *restrict dx = in->grad;
  float alpha = n->farg[0];
  int64_t size = n->size;
  switch (n->iarg[0]) {
    case LMO_RELU: /* both loads first: a select the compiler vectorises, not a branch */
      MAP(size, float d = dy[i]; float v = x[i]; dx[i] += v > 0.0f ? d : 0.0f);
      break;
    case LMO_SIGMOID: MAP(size, dx[i] += dy[i] * y[i] * (1.0f - y[i])); break;
    case LMO_HARD_SIGMOID: /* tf.clip_by_value passes the gradient on the closed range */
      MAP(size, float t = 0.2f * x[i] + 0.5f;
          dx[i] += t >= 0.0f && t <= 1.0f ? 0.2f * dy[i] : 0.0f);
      break;
    case LMO_TANH: MAP(size, dx[i] += dy[i] * (1.0f - y[i] * y[i])); break;
    case LMO_ELU: MAP(size, dx[i] += x[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha)); break;
    case LMO_SELU:
      MAP(size,
          dx[i] += x[i] > 0.0f ? SELU_SCALE * dy[i] : dy[i] * (y[i] + SELU_SCALE * SELU_ALPHA));
      break;
    case LMO_SOFTPLUS: /* sigmoid(x) = 1 - exp(-softplus(x)) */
      MAP(size, dx[i] += -dy[i] * expm1f(-y[i]));
      break;
    case LMO_SOFTSIGN: MAP(size, float d = 1.0f + fabsf(x[i]); dx[i] += dy[i] / (d * d)); break;
    case LMO_LEAKY_RELU:
      MAP(size, float d = dy[i]; float v = x[i]; dx[i] += v > 0.0f ? d : alpha * d);
      break;
    default: MAP(size, dx[i] += dy[i]); break;
  }
}

const lm_op lmo_op_activation = {"activation", activation_infer, activation_forward,
                                 activation_backward, NULL};

int lmo_activation(lmg_graph *g, int kind, int x, float alpha) {
  if (x < 0 || x >= g->n_nodes) return -1;
  if (kind == LMO_SOFTMAX) return lmo_softmax(g, x, lmg_at(g, x)->ndim - 1);
  if (kind == LMO_ELU && alpha == 0.0f) alpha = 1.0f;
  if (kind == LMO_LEAKY_RELU && alpha == 0.0f) alpha = 0.3f;
  lmg_node init = {0};
  init.iarg[0] = kind;
  init.farg[0] = alpha;
  return lmg_op(g, &lmo_op_activation, 1, &x, &init);
}
