/* model.compile(): the training graph, losses, loss weights, metrics, names. */
#include <string.h>

#include "core/json.h"
#include "ops/ops.h"
#include "train/train.h"

void lmt_train_free(lm_model *m) {
  lmt_train *t = m->train;
  if (!t) return;
  lm_ctx *ctx = m->ctx;
  lmg_profile_report(&t->g);
  lmg_release(&t->g);
  if (t->opt) {
    t->opt->owner = NULL;
    lm_optimizer_free(t->opt);
  }
  for (int i = 0; i < t->n_names; i++) lm_dealloc(ctx, t->names[i]);
  lm_dealloc(ctx, t->names);
  lm_dealloc(ctx, t->in_nodes);
  lm_dealloc(ctx, t->out_nodes);
  lm_dealloc(ctx, t->target_nodes);
  lm_dealloc(ctx, t->loss_kind);
  lm_dealloc(ctx, t->loss_w);
  lm_dealloc(ctx, t->loss_nodes);
  lm_dealloc(ctx, t->metric_kind);
  lm_dealloc(ctx, t->mask_train);
  lm_dealloc(ctx, t->mask_eval);
  lm_dealloc(ctx, t->params);
  lm_dealloc(ctx, t->param_nodes);
  lm_dealloc(ctx, t->grads);
  lm_dealloc(ctx, t->rows);
  lm_dealloc(ctx, t->config);
  lm_dealloc(ctx, t);
  m->train = NULL;
}

static int output_index(const lm_model *m, const char *name) {
  for (int i = 0; i < m->n_outputs; i++)
    if (strcmp(lm_model_output_name(m, i), name) == 0) return i;
  return -1;
}

static void names_list(const lm_model *m, char *out, size_t len) {
  size_t k = 0;
  k += (size_t)snprintf(out, len, "[");
  for (int i = 0; i < m->n_outputs && k < len; i++)
    k += (size_t)snprintf(out + k, len - k, "%s'%s'", i ? ", " : "", lm_model_output_name(m, i));
  if (k < len) snprintf(out + k, len - k, "]");
}

/* Resolve per-output losses and weights from the three accepted forms. */
static lm_status resolve_losses(lm_model *m, const lm_compile_opts *o, lmt_train *t) {
  lm_ctx *ctx = m->ctx;
  char outs[512];
  names_list(m, outs, sizeof outs);
  for (int i = 0; i < m->n_outputs; i++) {
    t->loss_kind[i] = -1;
    t->loss_w[i] = 1.0f;
  }
  if (o->n_losses <= 0 || !o->losses)
    return lm_fail(ctx, LM_ERR_ARG,
                   "The model cannot be compiled because it has no loss to optimize.");
  if (o->loss_outputs) {
    for (int k = 0; k < o->n_losses; k++) {
      int i = output_index(m, o->loss_outputs[k]);
      if (i < 0)
        return lm_fail(ctx, LM_ERR_ARG,
                       "Unknown entry in loss dictionary: \"%s\". Only expected the following "
                       "keys: %s",
                       o->loss_outputs[k], outs);
      t->loss_kind[i] = lmt_loss_parse(o->losses[k]);
      if (t->loss_kind[i] < 0)
        return lm_fail(ctx, LM_ERR_ARG, "Unknown loss function: %s", o->losses[k]);
    }
    for (int i = 0; i < m->n_outputs; i++)
      if (t->loss_kind[i] < 0)
        lm_log(ctx,
               "Output \"%s\" missing from loss dictionary. We assume this was done on purpose, "
               "and we will not be expecting any data to be passed to \"%s\" during training.\n",
               lm_model_output_name(m, i), lm_model_output_name(m, i));
  } else if (o->n_losses == 1) {
    int kind = lmt_loss_parse(o->losses[0]);
    if (kind < 0) return lm_fail(ctx, LM_ERR_ARG, "Unknown loss function: %s", o->losses[0]);
    for (int i = 0; i < m->n_outputs; i++) t->loss_kind[i] = kind;
  } else {
    if (o->n_losses != m->n_outputs)
      return lm_fail(ctx, LM_ERR_ARG,
                     "When passing a list as loss, it should have one entry per model outputs. "
                     "The model has %d outputs, but you passed loss=[%d entries]",
                     m->n_outputs, o->n_losses);
    for (int i = 0; i < m->n_outputs; i++) {
      t->loss_kind[i] = lmt_loss_parse(o->losses[i]);
      if (t->loss_kind[i] < 0)
        return lm_fail(ctx, LM_ERR_ARG, "Unknown loss function: %s", o->losses[i]);
    }
  }
  if (o->n_loss_weights > 0 && o->loss_weights) {
    if (o->loss_weight_outputs) {
      for (int k = 0; k < o->n_loss_weights; k++) {
        int i = output_index(m, o->loss_weight_outputs[k]);
        if (i < 0)
          return lm_fail(ctx, LM_ERR_ARG,
                         "Unknown entry in loss_weights dictionary: \"%s\". Only expected the "
                         "following keys: %s",
                         o->loss_weight_outputs[k], outs);
        t->loss_w[i] = o->loss_weights[k];
      }
    } else {
      if (o->n_loss_weights != m->n_outputs)
        return lm_fail(ctx, LM_ERR_ARG,
                       "When passing a list as loss_weights, it should have one entry per model "
                       "output. The model has %d outputs, but you passed loss_weights=[%d "
                       "entries]",
                       m->n_outputs, o->n_loss_weights);
      for (int i = 0; i < m->n_outputs; i++) t->loss_w[i] = o->loss_weights[i];
    }
  }
  return LM_OK;
}

static lm_status add_name(lmt_train *t, lm_ctx *ctx, const char *base) {
  char name[300];
  snprintf(name, sizeof name, "%s", base);
  for (int dup = 1;; dup++) {
    bool clash = false;
    for (int i = 0; i < t->n_names; i++)
      if (strcmp(t->names[i], name) == 0) clash = true;
    if (!clash) break;
    snprintf(name, sizeof name, "%s_%d", base, dup);
  }
  char *s = lm_strdup(ctx, name);
  if (!s) return LM_ERR_NOMEM;
  t->names[t->n_names++] = s;
  return LM_OK;
}

/* 'acc' -> binary/sparse/categorical by output shape and loss (Keras 2.2.4). */
static int resolve_metric(const char *name, int loss, int64_t last_dim, const char **key) {
  if (strcmp(name, "acc") == 0 || strcmp(name, "accuracy") == 0) {
    *key = "acc";
    if (last_dim == 1 || loss == LMT_BCE) return LMT_BINARY_ACC;
    if (loss == LMT_SCCE) return LMT_SPARSE_ACC;
    return LMT_CATEGORICAL_ACC;
  }
  static const struct {
    const char *name, *key;
    int kind;
  } tab[] = {
      {"mae", "mean_absolute_error", LMT_METRIC_MAE},
      {"mean_absolute_error", "mean_absolute_error", LMT_METRIC_MAE},
      {"mse", "mean_squared_error", LMT_METRIC_MSE},
      {"mean_squared_error", "mean_squared_error", LMT_METRIC_MSE},
      {"binary_accuracy", "binary_accuracy", LMT_BINARY_ACC},
      {"categorical_accuracy", "categorical_accuracy", LMT_CATEGORICAL_ACC},
      {"sparse_categorical_accuracy", "sparse_categorical_accuracy", LMT_SPARSE_ACC},
  };
  for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
    if (strcmp(tab[i].name, name) == 0) {
      *key = tab[i].key;
      return tab[i].kind;
    }
  return -1;
}

static lm_status build_graph(lm_model *m, lmt_train *t) {
  lm_ctx *ctx = m->ctx;
  lmg_graph *g = &t->g;
  lm_status st = lmm_emit(m, g, NULL, t->in_nodes, t->out_nodes);
  if (st) return st;
  int total = -1;
  for (int i = 0; i < m->n_outputs; i++) {
    t->target_nodes[i] = t->loss_nodes[i] = -1;
    if (t->loss_kind[i] < 0) continue;
    lmg_node *out = lmg_at(g, t->out_nodes[i]);
    lm_shape ts;
    ts.ndim = out->ndim;
    memcpy(ts.d, out->shape, sizeof ts.d);
    if (t->loss_kind[i] == LMT_SCCE) ts.d[ts.ndim - 1] = 1;
    g->label = lm_model_output_name(m, i);
    int y = lmg_input(g, LM_FLOAT32, ts.ndim, ts.d);
    int l = lmt_loss_build(g, t->loss_kind[i], y, t->out_nodes[i]);
    if (l < 0) return ctx->err ? ctx->err : LM_ERR_ARG;
    t->target_nodes[i] = y;
    t->loss_nodes[i] = l;
    int wl = t->loss_w[i] == 1.0f ? l : lmo_affine(g, l, t->loss_w[i], 0.0f);
    total = total < 0 ? wl : lmo_binary(g, LMO_ADD, total, wl);
    if (total < 0) return ctx->err;
  }
  g->label = NULL;
  if (total < 0)
    return lm_fail(ctx, LM_ERR_ARG, "The model cannot be compiled because it has no loss to optimize.");
  t->total_loss = total;
  /* read after forward (logs, metrics, predict): their buffers are not reused */
  lmg_keep(g, total);
  for (int i = 0; i < m->n_outputs; i++) {
    lmg_keep(g, t->out_nodes[i]);
    lmg_keep(g, t->loss_nodes[i]);
  }
  return LM_OK;
}

static lm_status collect_params(lm_model *m, lmt_train *t) {
  lm_ctx *ctx = m->ctx;
  lmg_graph *g = &t->g;
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == LMG_PARAM && g->nodes[i].trainable) n++;
  t->params = lm_alloc(ctx, sizeof(lm_tensor *) * (size_t)(n + 1));
  t->param_nodes = lm_alloc(ctx, sizeof(int) * (size_t)(n + 1));
  t->grads = lm_alloc(ctx, sizeof(float *) * (size_t)(n + 1));
  if (!t->params || !t->param_nodes || !t->grads) return LM_ERR_NOMEM;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].kind == LMG_PARAM && g->nodes[i].trainable) {
      t->params[t->n_params] = g->nodes[i].param;
      t->param_nodes[t->n_params++] = i;
    }
  return LM_OK;
}

static const char *const opt_class[] = {"SGD", "RMSprop", "Adam"};

static lm_status write_config(lm_model *m, const lm_compile_opts *o, const lm_optimizer *opt,
                              lmt_train *t) {
  lm_buf b;
  lm_buf_init(&b, m->ctx);
  lm_buf_puts(&b, "{\"loss\": {");
  int k = 0;
  for (int i = 0; i < m->n_outputs; i++) {
    if (t->loss_kind[i] < 0) continue;
    lm_buf_puts(&b, k++ ? ", " : "");
    lmj_write_str(&b, lm_model_output_name(m, i));
    lm_buf_printf(&b, ": \"%s\"", lmt_loss_name(t->loss_kind[i]));
  }
  lm_buf_puts(&b, "}, \"loss_weights\": {");
  for (int i = 0; i < m->n_outputs; i++) {
    lm_buf_puts(&b, i ? ", " : "");
    lmj_write_str(&b, lm_model_output_name(m, i));
    lm_buf_puts(&b, ": ");
    lmj_write_num(&b, t->loss_w[i]);
  }
  lm_buf_puts(&b, "}, \"metrics\": [");
  for (int i = 0; i < t->n_metrics_per_out; i++) {
    lm_buf_puts(&b, i ? ", " : "");
    lmj_write_str(&b, o->metrics[i]);
  }
  const lm_optimizer_opts *c = &opt->o;
  lm_buf_printf(&b, "], \"optimizer\": {\"class_name\": \"%s\", \"config\": {", opt_class[opt->kind]);
  const char *keys[] = {"lr", "momentum", "rho", "beta_1", "beta_2", "epsilon", "decay", "clipnorm", "clipvalue"};
  const float vals[] = {opt->lr, c->momentum, c->rho, c->beta_1, c->beta_2, c->epsilon, c->decay, c->clipnorm, c->clipvalue};
  for (int i = 0; i < 9; i++) {
    lm_buf_printf(&b, "%s\"%s\": ", i ? ", " : "", keys[i]);
    lmj_write_num(&b, vals[i]);
  }
  lm_buf_printf(&b, ", \"nesterov\": %s, \"amsgrad\": %s}}}", c->nesterov ? "true" : "false",
                c->amsgrad ? "true" : "false");
  if (b.oom) {
    lm_buf_free(&b);
    return LM_ERR_NOMEM;
  }
  t->config = b.data; /* keeps the buffer */
  return LM_OK;
}

lm_status lmt_compile_from_config(lm_model *m, const char *json, const char *path) {
  lm_ctx *ctx = m->ctx;
  lmj_value *root = lmj_parse(ctx, json, strlen(json), path);
  if (!root) return ctx->err;
  const lmj_value *loss = lmj_get(root, "loss"), *lw = lmj_get(root, "loss_weights");
  const lmj_value *met = lmj_get(root, "metrics"), *op = lmj_get(root, "optimizer");
  const lmj_value *oc = op ? lmj_get(op, "config") : NULL;
  lm_status st = LM_OK;
  if (!loss || loss->type != LMJ_OBJ || loss->n > 64 || (lw && (lw->type != LMJ_OBJ || lw->n > 64)) ||
      (met && (met->type != LMJ_ARR || met->n > 64)) || !oc) {
    lmj_free(ctx, root);
    return lm_fail(ctx, LM_ERR_FORMAT, "%s: malformed training_config", path);
  }
  const char *losses[64], *loss_out[64], *mets[64], *lw_out[64];
  float weights[64];
  for (int i = 0; i < loss->n; i++) {
    loss_out[i] = loss->keys[i];
    losses[i] = loss->items[i].type == LMJ_STR ? loss->items[i].str : "";
  }
  int n_lw = lw ? lw->n : 0;
  for (int i = 0; i < n_lw; i++) {
    lw_out[i] = lw->keys[i];
    weights[i] = (float)lw->items[i].num;
  }
  int n_met = met ? met->n : 0;
  for (int i = 0; i < n_met; i++) mets[i] = met->items[i].type == LMJ_STR ? met->items[i].str : "";
  lm_optimizer_opts oo = {
      .lr = (float)lmj_get_num(oc, "lr", 0), .momentum = (float)lmj_get_num(oc, "momentum", 0),
      .nesterov = lmj_get_bool(oc, "nesterov", false), .rho = (float)lmj_get_num(oc, "rho", 0),
      .beta_1 = (float)lmj_get_num(oc, "beta_1", 0), .beta_2 = (float)lmj_get_num(oc, "beta_2", 0),
      .epsilon = (float)lmj_get_num(oc, "epsilon", 0), .decay = (float)lmj_get_num(oc, "decay", 0),
      .amsgrad = lmj_get_bool(oc, "amsgrad", false), .clipnorm = (float)lmj_get_num(oc, "clipnorm", 0),
      .clipvalue = (float)lmj_get_num(oc, "clipvalue", 0)};
  const char *cls = lmj_get_str(op, "class_name", "RMSprop");
  lm_optimizer *opt = strcmp(cls, "SGD") == 0    ? lm_optimizer_sgd(ctx, &oo)
                      : strcmp(cls, "Adam") == 0 ? lm_optimizer_adam(ctx, &oo)
                                                 : lm_optimizer_rmsprop(ctx, &oo);
  if (!opt) st = ctx->err;
  if (!st) {
    lm_compile_opts co = {.optimizer = opt, .n_losses = loss->n, .losses = losses,
                          .loss_outputs = loss_out, .n_loss_weights = n_lw, .loss_weights = weights,
                          .loss_weight_outputs = lw_out, .n_metrics = n_met, .metrics = mets};
    st = lm_model_compile(m, &co);
    if (st) lm_optimizer_free(opt);
  }
  lmj_free(ctx, root);
  return st;
}

lm_status lm_model_compile(lm_model *m, const lm_compile_opts *o) {
  if (!m) return LM_ERR_ARG;
  lm_ctx *ctx = m->ctx;
  if (!o) return lm_fail(ctx, LM_ERR_ARG, "compile: no options given (a loss is required)");
  if (!m->built || m->n_outputs == 0)
    return lm_fail(ctx, LM_ERR_STATE,
                   "This model has not yet been built: add layers (with an input_shape on the "
                   "first one) before compile.");
  lm_optimizer *opt = o->optimizer;
  if (opt && opt->owner && opt->owner != m)
    return lm_fail(ctx, LM_ERR_ARG, "this optimizer already belongs to model %s",
                   opt->owner->name);
  lmt_train_free(m);
  int n_out = m->n_outputs;
  lmt_train *t = lm_alloc(ctx, sizeof *t);
  if (!t) return LM_ERR_NOMEM;
  m->train = t;
  lm_status st = lmg_init(&t->g, ctx);
  int nm = o->n_metrics > 0 && o->metrics ? o->n_metrics : 0;
  t->n_out = n_out;
  t->n_metrics_per_out = nm;
  t->in_nodes = lm_alloc(ctx, sizeof(int) * (size_t)m->n_inputs);
  t->out_nodes = lm_alloc(ctx, sizeof(int) * (size_t)n_out);
  t->target_nodes = lm_alloc(ctx, sizeof(int) * (size_t)n_out);
  t->loss_kind = lm_alloc(ctx, sizeof(int) * (size_t)n_out);
  t->loss_w = lm_alloc(ctx, sizeof(float) * (size_t)n_out);
  t->loss_nodes = lm_alloc(ctx, sizeof(int) * (size_t)n_out);
  t->metric_kind = lm_alloc(ctx, sizeof(int) * (size_t)(n_out * nm + 1));
  t->names = lm_alloc(ctx, sizeof(char *) * (size_t)(1 + n_out + n_out * nm));
  if (!t->in_nodes || !t->out_nodes || !t->target_nodes || !t->loss_kind || !t->loss_w ||
      !t->loss_nodes || !t->metric_kind || !t->names)
    st = LM_ERR_NOMEM;
  if (!st) st = resolve_losses(m, o, t);
  if (!st) st = build_graph(m, t);
  if (!st) st = collect_params(m, t);
  /* names: loss, <out>_loss (multi-output), then metrics per output */
  if (!st) st = add_name(t, ctx, "loss");
  for (int i = 0; !st && n_out > 1 && i < n_out; i++) {
    if (t->loss_kind[i] < 0) continue;
    char nm2[300];
    snprintf(nm2, sizeof nm2, "%s_loss", lm_model_output_name(m, i));
    st = add_name(t, ctx, nm2);
  }
  for (int i = 0; !st && i < n_out; i++) {
    lmg_node *out = lmg_at(&t->g, t->out_nodes[i]);
    for (int k = 0; !st && k < nm; k++) {
      const char *key = NULL;
      int kind = resolve_metric(o->metrics[k], t->loss_kind[i], out->shape[out->ndim - 1], &key);
      if (kind < 0) {
        st = lm_fail(ctx, LM_ERR_ARG, "Unknown metric function: %s", o->metrics[k]);
        break;
      }
      t->metric_kind[i * nm + k] = t->loss_kind[i] < 0 ? -1 : kind;
      if (t->loss_kind[i] < 0) continue;
      char full[300];
      if (n_out > 1)
        snprintf(full, sizeof full, "%s_%s", lm_model_output_name(m, i), key);
      else
        snprintf(full, sizeof full, "%s", key);
      st = add_name(t, ctx, full);
    }
  }
  /* masks */
  if (!st) {
    size_t nb = sizeof(bool) * (size_t)t->g.n_nodes;
    t->mask_train = lm_alloc(ctx, nb);
    t->mask_eval = lm_alloc(ctx, nb);
    int *targets = lm_alloc(ctx, sizeof(int) * (size_t)(2 * n_out + 1));
    if (!t->mask_train || !t->mask_eval || !targets) {
      st = LM_ERR_NOMEM;
    } else {
      int nt = 0;
      targets[nt++] = t->total_loss;
      for (int i = 0; i < n_out; i++) {
        targets[nt++] = t->out_nodes[i];
        if (t->loss_nodes[i] >= 0) targets[nt++] = t->loss_nodes[i];
      }
      lmg_mark(&t->g, nt, targets, t->mask_train);
      memcpy(t->mask_eval, t->mask_train, nb);
    }
    lm_dealloc(ctx, targets);
  }
  if (!st) {
    if (!opt) opt = lm_optimizer_by_name(ctx, o->optimizer_name ? o->optimizer_name : "rmsprop");
    if (!opt) st = ctx->err;
  }
  if (!st) st = lmt_opt_attach(opt, t->n_params, t->params);
  if (st) {
    if (opt && opt != o->optimizer) lm_optimizer_free(opt);
    lmt_train_free(m);
    return st ? st : LM_ERR_NOMEM;
  }
  st = write_config(m, o, opt, t);
  if (st) {
    if (opt != o->optimizer) lm_optimizer_free(opt);
    lmt_train_free(m);
    return st;
  }
  opt->owner = m;
  lm_obj_detach(&opt->obj); /* freed with the model from now on */
  t->opt = opt;
  return LM_OK;
}

const lmg_graph *lmm_train_graph(const lm_model *m) { return m->train ? &m->train->g : NULL; }
lm_optimizer *lm_model_optimizer(lm_model *m) { return m && m->train ? m->train->opt : NULL; }
int lm_model_n_metrics(const lm_model *m) { return m && m->train ? m->train->n_names : 0; }
const char *lm_model_metric_name(const lm_model *m, int i) {
  return m && m->train && i >= 0 && i < m->train->n_names ? m->train->names[i] : NULL;
}
