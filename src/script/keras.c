/* Keras objects in scripts: layers, symbolic tensors, models, optimizers,
 * History, and the methods compile/fit/evaluate/predict/summary/save. */
#include <math.h>
#include <string.h>

#include "script/hp.h"
#include "script/interp.h"

#define COMMON_LAYER_ARGS ", *, name:s?=, input_shape:S?=, input_dim:i?=, batch_input_shape:S?=, trainable:b=, dtype:s?="

lms_value *lms_layer_value(lms_interp *I, lm_layer *l) {
  lms_value *v = lms_new(I, V_LAYER);
  v->u.layer.l = l;
  return v;
}

lms_value *lms_model_value(lms_interp *I, lm_model *m, bool sequential) {
  lms_value *v = lms_new(I, V_MODEL);
  v->u.model.m = m;
  v->u.model.sequential = sequential;
  if (I->n_models == I->cap_models) {
    int cap = I->cap_models ? I->cap_models * 2 : 8;
    lms_value **nm = lms_alloc(I, (size_t)cap * sizeof *nm);
    if (I->n_models) memcpy(nm, I->models, (size_t)I->n_models * sizeof *nm);
    I->models = nm;
    I->cap_models = cap;
  }
  v->u.model.index = I->n_models;
  I->models[I->n_models++] = v;
  return v;
}

static lm_dtype parse_dtype(lms_interp *I, const char *s, const lms_node *at) {
  if (!s || strcmp(s, "float32") == 0 || strcmp(s, "float64") == 0 || strcmp(s, "float16") == 0 ||
      strcmp(s, "float") == 0)
    return LM_FLOAT32;
  if (strcmp(s, "int32") == 0 || strcmp(s, "int64") == 0 || strcmp(s, "int") == 0 ||
      strcmp(s, "uint8") == 0 || strcmp(s, "int8") == 0 || strcmp(s, "int16") == 0 ||
      strcmp(s, "uint16") == 0)
    return LM_INT32;
  lms_fail(I, at, "unsupported dtype '%s' (lamina has float32 and int32)", s);
}

/* layers.Dense(...) and friends: the registry entry is in the builtin's data */
lms_value *lms_keras_layer_new(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const lms_layer_entry *e = a->callee->data;
  size_t n = strlen(e->spec) + sizeof COMMON_LAYER_ARGS + 1;
  char *spec = lms_alloc(I, n);
  snprintf(spec, n, "%s%s", e->spec, COMMON_LAYER_ARGS);
  if (!e->spec[0]) memmove(spec, spec + 2, strlen(spec + 2) + 1); /* drop the leading ", " */
  lms_bind(I, a, e->name, spec);
  int s_name = lms_slot(a, "name"), s_shape = lms_slot(a, "input_shape"),
      s_dim = lms_slot(a, "input_dim"), s_bshape = lms_slot(a, "batch_input_shape"),
      s_train = lms_slot(a, "trainable"), s_dtype = lms_slot(a, "dtype");
  lm_layer *l = e->ctor(I, a, lms_arg_str(a, s_name, NULL));
  if (!l) lms_fail_lib(I, a->call);
  int64_t dims[LM_MAX_DIMS];
  int nd = -1;
  if (lms_arg(a, s_shape)) {
    nd = lms_arg_shape(I, a, s_shape, dims);
  } else if (lms_arg(a, s_dim) && strcmp(e->name, "Embedding") != 0) {
    dims[0] = lms_arg_int(a, s_dim, 0);
    nd = 1;
  } else if (lms_arg(a, s_bshape)) {
    int64_t bd[LM_MAX_DIMS];
    int bn = lms_arg_shape(I, a, s_bshape, bd);
    if (bn < 1) lms_fail(I, lms_arg_node(a, s_bshape), "batch_input_shape needs the batch dimension");
    nd = bn - 1;
    for (int i = 0; i < nd; i++) dims[i] = bd[i + 1];
  } else if (strcmp(e->name, "Embedding") == 0) {
    /* its own input_dim is the vocabulary; Keras gives it input_shape (input_length,) */
    int s_len = lms_slot(a, "input_length");
    dims[0] = lms_arg(a, s_len) ? lms_arg_int(a, s_len, 0) : LM_NONE;
    nd = 1;
  }
  if (nd >= 0) {
    lm_dtype dt = parse_dtype(I, lms_arg_str(a, s_dtype, NULL), lms_arg_node(a, s_dtype));
    if (!lm_layer_set_input_shape(l, nd, dims, dt)) lms_fail_lib(I, a->call);
  }
  if (a->slot[s_train]) lm_layer_set_trainable(l, lms_arg_bool(a, s_train, true));
  return lms_layer_value(I, l);
}

/* Collect symbolic tensors from a tensor or a list of them. */
static int syms_of(lms_interp *I, lms_value *v, const lms_node *at, lm_sym ***out, const char *what) {
  if (v->kind == V_SYM) {
    *out = lms_alloc(I, sizeof **out);
    (*out)[0] = v->u.sym;
    return 1;
  }
  if (v->kind != V_LIST && v->kind != V_TUPLE)
    lms_fail(I, at, "%s expects a Keras tensor or a list of them, not %s", what, lms_type_name(v));
  *out = lms_alloc(I, (size_t)(v->u.seq.n + 1) * sizeof **out);
  for (int i = 0; i < v->u.seq.n; i++) {
    lms_value *x = v->u.seq.items[i];
    if (x->kind != V_SYM)
      lms_fail(I, at, "%s expects Keras tensors, but item %d is %s", what, i, lms_type_name(x));
    (*out)[i] = x->u.sym;
  }
  return v->u.seq.n;
}

static lms_value *sym_result(lms_interp *I, lm_sym *s, const lms_node *at) {
  if (!s) lms_fail_lib(I, at);
  lms_value *v = lms_new(I, V_SYM);
  v->u.sym = s;
  return v;
}

lms_value *lms_call_layer(lms_interp *I, lms_value *layer, lms_args *a) {
  char fname[96];
  snprintf(fname, sizeof fname, "%s layer '%s'", lm_layer_class(layer->u.layer.l),
           lm_layer_name(layer->u.layer.l));
  lms_bind(I, a, fname, "inputs:x, *, initial_state:x?=None");
  lm_sym **xs;
  int n = syms_of(I, a->slot[0], a->slot_node[0], &xs, "a layer call");
  lm_sym *s;
  if (lms_arg(a, 1)) { /* Keras' initial_state=[h, c] of a recurrent layer */
    lm_sym **st;
    int ns = syms_of(I, a->slot[1], a->slot_node[1], &st, "initial_state");
    if (n != 1) lms_fail(I, a->slot_node[0], "%s: initial_state= needs one input tensor", fname);
    s = lm_layer_call_rnn(layer->u.layer.l, xs[0], ns, st);
  } else {
    s = a->slot[0]->kind == V_SYM ? lm_layer_call(layer->u.layer.l, xs[0])
                                  : lm_layer_call_n(layer->u.layer.l, n, xs);
  }
  if (s && lm_sym_output(s, 1)) { /* several outputs (return_state): a list, as Keras */
    int k = 0;
    while (lm_sym_output(s, k)) k++;
    lms_value *list = lms_seq(I, V_LIST, k);
    for (int i = 0; i < k; i++) list->u.seq.items[i] = sym_result(I, lm_sym_output(s, i), a->call);
    return list;
  }
  return sym_result(I, s, a->call);
}

/* layers.add([a, b]) / layers.concatenate([a, b], axis=-1) */
lms_value *lms_keras_merge_fn(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const lms_layer_entry *e = lms_find_layer(a->callee->data);
  lm_sym **xs;
  int n = syms_of(I, a->slot[0], a->slot_node[0], &xs, a->callee->name);
  lms_args la = *a;
  int s_axis = lms_slot(a, "axis");
  la.n_slots = 1;
  la.slot[0] = s_axis >= 0 ? a->slot[s_axis] : NULL;
  la.slot_node[0] = s_axis >= 0 ? a->slot_node[s_axis] : a->call;
  lm_layer *l = e->ctor(I, &la, lms_arg_str(a, lms_slot(a, "name"), NULL));
  if (!l) lms_fail_lib(I, a->call);
  return sym_result(I, lm_layer_call_n(l, n, xs), a->call);
}

lms_value *lms_keras_input(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  if (lms_arg(a, 5)) lms_fail(I, lms_arg_node(a, 5), "Input: tensor= is not supported");
  if (lms_arg_bool(a, 4, false)) lms_fail(I, lms_arg_node(a, 4), "Input: sparse inputs are not supported");
  int64_t dims[LM_MAX_DIMS];
  int nd;
  if (lms_arg(a, 0)) {
    nd = lms_arg_shape(I, a, 0, dims);
  } else if (lms_arg(a, 1)) {
    int64_t bd[LM_MAX_DIMS];
    int bn = lms_arg_shape(I, a, 1, bd);
    if (bn < 1) lms_fail(I, lms_arg_node(a, 1), "Input: batch_shape needs the batch dimension");
    nd = bn - 1;
    for (int i = 0; i < nd; i++) dims[i] = bd[i + 1];
  } else {
    lms_fail(I, a->call, "Input() needs shape= (or batch_shape=)");
  }
  lm_dtype dt = parse_dtype(I, lms_arg_str(a, 3, NULL), lms_arg_node(a, 3));
  return sym_result(I, lm_input(I->ctx, nd, dims, dt, lms_arg_str(a, 2, NULL)), a->call);
}

lms_value *lms_keras_model(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  lms_value *in = a->slot[0] ? a->slot[0] : a->slot[3];
  lms_value *out = a->slot[1] ? a->slot[1] : a->slot[4];
  const lms_node *in_at = a->slot[0] ? a->slot_node[0] : a->slot_node[3];
  const lms_node *out_at = a->slot[1] ? a->slot_node[1] : a->slot_node[4];
  if (!in || !out) lms_fail(I, a->call, "Model() needs inputs and outputs");
  lm_sym **ins, **outs;
  int ni = syms_of(I, in, in_at, &ins, "Model inputs");
  int no = syms_of(I, out, out_at, &outs, "Model outputs");
  lm_model *m = lm_model_new(I->ctx, ni, ins, no, outs, lms_arg_str(a, 2, NULL));
  if (!m) lms_fail_lib(I, a->call);
  return lms_model_value(I, m, false);
}

lms_value *lms_keras_sequential(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  lm_model *m = lm_sequential_new(I->ctx, lms_arg_str(a, 1, NULL));
  if (!m) lms_fail_lib(I, a->call);
  lms_value *v = lms_model_value(I, m, true);
  lms_value *ls = lms_arg(a, 0);
  for (int i = 0; ls && i < ls->u.seq.n; i++) {
    if (ls->u.seq.items[i]->kind != V_LAYER)
      lms_fail(I, a->slot_node[0], "Sequential: item %d is %s, not a layer", i, lms_type_name(ls->u.seq.items[i]));
    if (lm_sequential_add(m, ls->u.seq.items[i]->u.layer.l) != LM_OK) lms_fail_lib(I, a->slot_node[0]);
  }
  return v;
}

lms_value *lms_keras_load_model(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  if (lms_arg(a, 1)) lms_fail(I, lms_arg_node(a, 1), "load_model: custom_objects are not supported");
  lm_model *m = lm_model_load(I->ctx, lms_arg_str(a, 0, ""));
  if (!m) lms_fail_lib(I, a->call);
  lms_value *v = lms_model_value(I, m, false);
  v->u.model.compiled = true;
  return v;
}

lms_value *lms_keras_optimizer(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const char *kind = a->callee->data;
  const char *fname = a->callee->name;
  lm_optimizer_opts o = {0};
  int s_lr = lms_slot(a, "learning_rate");
  o.lr = (float)lms_arg_float(a, lms_arg(a, s_lr) ? s_lr : 0, 0);
  o.momentum = (float)lms_arg_float(a, lms_slot(a, "momentum"), 0);
  o.nesterov = lms_arg_bool(a, lms_slot(a, "nesterov"), false);
  o.rho = (float)lms_arg_float(a, lms_slot(a, "rho"), 0);
  o.beta_1 = (float)lms_arg_float(a, lms_slot(a, "beta_1"), 0);
  o.beta_2 = (float)lms_arg_float(a, lms_slot(a, "beta_2"), 0);
  o.epsilon = (float)lms_arg_float(a, lms_slot(a, "epsilon"), 0);
  o.decay = (float)lms_arg_float(a, lms_slot(a, "decay"), 0);
  o.amsgrad = lms_arg_bool(a, lms_slot(a, "amsgrad"), false);
  o.clipnorm = (float)lms_arg_float(a, lms_slot(a, "clipnorm"), 0);
  o.clipvalue = (float)lms_arg_float(a, lms_slot(a, "clipvalue"), 0);
  /* arguments that belong to another optimizer are Keras' TypeError */
  static const struct { const char *arg, *only; } own[] = {
      {"momentum", "sgd"}, {"nesterov", "sgd"}, {"rho", "rmsprop"}, {"beta_1", "adam"},
      {"beta_2", "adam"}, {"amsgrad", "adam"}};
  for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
    int s = lms_slot(a, own[i].arg);
    if (a->slot[s] && strcmp(own[i].only, kind) != 0)
      lms_fail(I, a->slot_node[s], "%s() got an unexpected keyword argument '%s'", fname, own[i].arg);
  }
  if (o.lr < 0) lms_fail(I, a->call, "%s: the learning rate must be positive", fname);
  lm_optimizer *opt = strcmp(kind, "sgd") == 0       ? lm_optimizer_sgd(I->ctx, &o)
                      : strcmp(kind, "rmsprop") == 0 ? lm_optimizer_rmsprop(I->ctx, &o)
                                                     : lm_optimizer_adam(I->ctx, &o);
  if (!opt) lms_fail_lib(I, a->call);
  lms_value *v = lms_new(I, V_OPTIMIZER);
  v->u.opt = opt;
  return v;
}

lms_value *lms_keras_clear_session(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  (void)a;
  lm_ctx_reset_names(I->ctx);
  return lms_none(I);
}

lms_value *lms_keras_to_categorical(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  lms_value *y = a->slot[0];
  lm_tensor *t = y->kind == V_ARRAY ? y->u.arr : lms_to_tensor(I, y, a->slot_node[0], -1);
  int64_t n = lm_tensor_size(t);
  int nd = lm_tensor_ndim(t);
  if (nd == 2 && lm_tensor_dim(t, 1) != 1)
    lms_fail(I, a->slot_node[0], "to_categorical expects class indices of shape (N,) or (N, 1)");
  if (nd > 2) lms_fail(I, a->slot_node[0], "to_categorical expects class indices of shape (N,) or (N, 1)");
  int64_t maxv = -1;
  for (int64_t i = 0; i < n; i++) {
    double v = lm_tensor_dtype(t) == LM_INT32 ? lm_tensor_i32(t)[i] : lm_tensor_f32(t)[i];
    if (v < 0 || v != floor(v))
      lms_fail(I, a->slot_node[0], "to_categorical: label %g at index %lld is not a class index", v, (long long)i);
    if ((int64_t)v > maxv) maxv = (int64_t)v;
  }
  int64_t c = lms_arg(a, 1) ? lms_arg_int(a, 1, 0) : maxv + 1;
  if (c <= 0 || c > 1000000) lms_fail(I, a->call, "to_categorical: num_classes must be positive");
  if (maxv >= c)
    lms_fail(I, a->call, "to_categorical: label %lld is out of range for num_classes=%lld", (long long)maxv,
             (long long)c);
  lm_dtype dt = parse_dtype(I, lms_arg_str(a, 2, "float32"), lms_arg_node(a, 2));
  int64_t shape[2] = {nd == 0 ? 1 : lm_tensor_dim(t, 0), c};
  lm_tensor *o = lm_tensor_new(I->ctx, dt, 2, shape);
  if (!o) lms_fail_lib(I, a->call);
  for (int64_t i = 0; i < n; i++) {
    int64_t k = lm_tensor_dtype(t) == LM_INT32 ? lm_tensor_i32(t)[i] : (int64_t)lm_tensor_f32(t)[i];
    if (dt == LM_FLOAT32) lm_tensor_f32(o)[i * c + k] = 1.0f;
    else lm_tensor_i32(o)[i * c + k] = 1;
  }
  return lms_array(I, o, a->call);
}

/* ---- callbacks ----------------------------------------------------------------------- */

/* LearningRateScheduler(schedule): the script's function called from fit. An
 * error inside it cannot unwind through the library: it is kept and NaN is
 * returned, which makes the scheduler fail on_epoch_begin, so fit stops at
 * once (no batch of that epoch runs, no checkpoint is written after it) and
 * m_fit reports the kept error when the library returns. */
typedef struct sched_ud {
  lms_interp *I;
  lms_value *fn;
  const lms_node *at;
  lm_callback *cb;
} sched_ud;

static double run_schedule(int epoch, double lr_in, void *ud) {
  sched_ud *s = ud;
  lms_interp *I = s->I;
  if (I->pending) return NAN;
  jmp_buf saved;
  memcpy(saved, I->jmp, sizeof saved);
  volatile double lr = lr_in, out = lr_in; /* survive the longjmp */
  if (setjmp(I->jmp) == 0) {
    lms_args a = {0};
    lms_value *args[2] = {lms_int(I, epoch), lms_float(I, lr)};
    const lms_node *nodes[2] = {s->at, s->at};
    a.call = s->at;
    a.pos = args;
    a.pos_nodes = nodes;
    /* Keras 2.2 passes the epoch only; accept schedule(epoch, lr) too */
    a.n_pos = s->fn->kind == V_LAMBDA && s->fn->u.lambda.node->n_names == 2 ? 2 : 1;
    lms_value *r = lms_call(I, s->fn, &a);
    if (!lms_is_number(r))
      lms_fail(I, s->at, "The output of the \"schedule\" function should be float, not %s", lms_type_name(r));
    out = lms_num(r);
  } else {
    I->pending = true;
    out = NAN;
    if (s->cb->model) lm_model_stop_training(s->cb->model);
  }
  memcpy(I->jmp, saved, sizeof saved);
  return out;
}

/* LambdaCallback(on_epoch_begin=..., ...): script functions as hooks, called
 * as Keras calls them: on_epoch_begin/end(epoch, logs), on_batch_begin/end(batch,
 * logs), on_train_begin/end(logs), logs a dict of the hook's log values. An
 * error inside one is kept as in run_schedule, and the hook fails, so fit
 * stops at once and m_fit reports the kept error. */
enum { LH_EPOCH_BEGIN, LH_EPOCH_END, LH_BATCH_BEGIN, LH_BATCH_END, LH_TRAIN_BEGIN, LH_TRAIN_END, LH_N };

typedef struct lambda_cb {
  lm_callback cb; /* first: the library's callback */
  lms_interp *I;
  lms_value *fn[LH_N];
  const lms_node *at[LH_N];
} lambda_cb;

static lm_status lambda_hook(lm_callback *cb, int hook, int index, lm_logs *logs) {
  lambda_cb *l = (lambda_cb *)cb;
  lms_interp *I = l->I;
  if (!l->fn[hook]) return LM_OK;
  if (I->pending) return LM_ERR_STATE;
  jmp_buf saved;
  memcpy(saved, I->jmp, sizeof saved);
  volatile lm_status st = LM_OK; /* survives the longjmp */
  if (setjmp(I->jmp) == 0) {
    lms_value *d = lms_dict(I);
    for (int i = 0; logs && i < lm_logs_n(logs); i++) {
      const char *k = lm_logs_key(logs, i);
      double v = lm_logs_value(logs, i);
      bool integral = strcmp(k, "batch") == 0 || strcmp(k, "size") == 0;
      lms_dict_set(I, d, lms_cstr(I, k), integral ? lms_int(I, (int64_t)v) : lms_float(I, v));
    }
    lms_args a = {0};
    lms_value *args[2];
    const lms_node *nodes[2] = {l->at[hook], l->at[hook]};
    int n = 0;
    if (hook < LH_TRAIN_BEGIN) args[n++] = lms_int(I, index);
    args[n++] = d;
    a.call = l->at[hook];
    a.pos = args;
    a.pos_nodes = nodes;
    a.n_pos = n;
    lms_call(I, l->fn[hook], &a);
  } else {
    I->pending = true;
    st = LM_ERR_STATE;
  }
  memcpy(I->jmp, saved, sizeof saved);
  if (st) lm_fail(I->ctx, st, "LambdaCallback: the script's function failed");
  return st;
}

static lm_status lh_train_begin(lm_callback *cb, lm_logs *l) { return lambda_hook(cb, LH_TRAIN_BEGIN, 0, l); }
static lm_status lh_train_end(lm_callback *cb, lm_logs *l) { return lambda_hook(cb, LH_TRAIN_END, 0, l); }
static lm_status lh_epoch_begin(lm_callback *cb, int e, lm_logs *l) { return lambda_hook(cb, LH_EPOCH_BEGIN, e, l); }
static lm_status lh_epoch_end(lm_callback *cb, int e, lm_logs *l) { return lambda_hook(cb, LH_EPOCH_END, e, l); }
static lm_status lh_batch_begin(lm_callback *cb, int b, lm_logs *l) { return lambda_hook(cb, LH_BATCH_BEGIN, b, l); }
static lm_status lh_batch_end(lm_callback *cb, int b, lm_logs *l) { return lambda_hook(cb, LH_BATCH_END, b, l); }

static const lm_callback_vt lambda_vt = {.name = "LambdaCallback",
                                         .on_train_begin = lh_train_begin,
                                         .on_train_end = lh_train_end,
                                         .on_epoch_begin = lh_epoch_begin,
                                         .on_epoch_end = lh_epoch_end,
                                         .on_batch_begin = lh_batch_begin,
                                         .on_batch_end = lh_batch_end};

lms_value *lms_keras_callback(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  const char *k = a->callee->data;
  lm_callback *cb = NULL;
  if (strcmp(k, "es") == 0) {
    lm_early_stopping_opts o = {.monitor = lms_arg_str(a, 0, NULL), .min_delta = lms_arg_float(a, 1, 0),
                                .patience = (int)lms_arg_int(a, 2, 0), .verbose = (int)lms_arg_int(a, 3, 0),
                                .mode = lms_arg_str(a, 4, NULL), .has_baseline = lms_arg(a, 5) != NULL,
                                .baseline = lms_arg_float(a, 5, 0), .restore_best_weights = lms_arg_bool(a, 6, false)};
    cb = lm_callback_early_stopping(I->ctx, &o);
  } else if (strcmp(k, "rlr") == 0) {
    double md = lms_arg(a, 5) ? lms_arg_float(a, 5, 1e-4) : lms_arg_float(a, 8, 1e-4);
    lm_reduce_lr_opts o = {.monitor = lms_arg_str(a, 0, NULL), .factor = lms_arg_float(a, 1, 0.1),
                           .patience = (int)lms_arg_int(a, 2, 10), .verbose = (int)lms_arg_int(a, 3, 0),
                           .mode = lms_arg_str(a, 4, NULL), .min_delta = md, .no_min_delta = md == 0,
                           .cooldown = (int)lms_arg_int(a, 6, 0), .min_lr = lms_arg_float(a, 7, 0)};
    if (o.factor >= 1.0) lms_fail(I, lms_arg_node(a, 1), "ReduceLROnPlateau does not support a factor >= 1.0.");
    cb = lm_callback_reduce_lr_on_plateau(I->ctx, &o);
  } else if (strcmp(k, "lrs") == 0) {
    lms_value *fn = a->slot[0];
    if (fn->kind != V_LAMBDA && fn->kind != V_BUILTIN)
      lms_fail(I, a->slot_node[0], "LearningRateScheduler: schedule must be a function (a lambda), not %s", lms_type_name(fn));
    sched_ud *s = lms_alloc(I, sizeof *s);
    s->I = I;
    s->fn = fn;
    s->at = a->slot_node[0];
    cb = lm_callback_lr_scheduler(I->ctx, run_schedule, s, (int)lms_arg_int(a, 1, 0));
    s->cb = cb;
  } else if (strcmp(k, "csv") == 0) {
    cb = lm_callback_csv_logger(I->ctx, lms_arg_str(a, 0, ""), lms_arg_str(a, 1, NULL), lms_arg_bool(a, 2, false));
  } else if (strcmp(k, "nan") == 0) {
    cb = lm_callback_terminate_on_nan(I->ctx);
  } else if (strcmp(k, "lambda") == 0) {
    lambda_cb *l = lms_alloc(I, sizeof *l); /* lives as long as the script */
    l->cb.vt = &lambda_vt;
    l->I = I;
    for (int h = 0; h < LH_N; h++) {
      lms_value *fn = lms_arg(a, h);
      if (fn && fn->kind != V_LAMBDA && fn->kind != V_BUILTIN)
        lms_fail(I, a->slot_node[h], "LambdaCallback: %s must be a function (a lambda), not %s",
                 a->slot_names[h], lms_type_name(fn));
      l->fn[h] = fn;
      l->at[h] = a->slot_node[h];
    }
    cb = &l->cb;
  } else {
    lm_model_checkpoint_opts o = {.monitor = lms_arg_str(a, 1, NULL), .verbose = (int)lms_arg_int(a, 2, 0),
                                  .save_best_only = lms_arg_bool(a, 3, false),
                                  .save_weights_only = lms_arg_bool(a, 4, false), .mode = lms_arg_str(a, 5, NULL),
                                  .period = (int)lms_arg_int(a, 6, 1)};
    cb = lm_callback_model_checkpoint(I->ctx, lms_arg_str(a, 0, ""), &o);
  }
  if (!cb) lms_fail_lib(I, a->call);
  lms_value *v = lms_new(I, V_CALLBACK);
  v->u.cb.cls = a->callee->name;
  v->u.cb.cfg = lms_dict(I);
  v->u.cb.cb = cb;
  return v;
}

/* ---- model methods ------------------------------------------------------------------- */

/* x for fit/evaluate/predict: an array, a list of arrays, or a dict by name */
static lm_data *to_data(lms_interp *I, lms_value *v, const lms_node *at, const char *what) {
  lm_data *d = lms_alloc(I, sizeof *d);
  if (v->kind == V_ARRAY) {
    lm_tensor **arr = lms_alloc(I, sizeof *arr);
    arr[0] = v->u.arr;
    d->n = 1;
    d->arrays = arr;
    return d;
  }
  if (v->kind == V_LIST || v->kind == V_TUPLE) {
    lm_tensor **arr = lms_alloc(I, (size_t)(v->u.seq.n + 1) * sizeof *arr);
    for (int i = 0; i < v->u.seq.n; i++) {
      if (v->u.seq.items[i]->kind != V_ARRAY)
        lms_fail(I, at, "%s: item %d is %s, not an array", what, i, lms_type_name(v->u.seq.items[i]));
      arr[i] = v->u.seq.items[i]->u.arr;
    }
    d->n = v->u.seq.n;
    d->arrays = arr;
    return d;
  }
  if (v->kind == V_DICT) {
    lm_tensor **arr = lms_alloc(I, (size_t)(v->u.dict.n + 1) * sizeof *arr);
    const char **names = lms_alloc(I, (size_t)(v->u.dict.n + 1) * sizeof *names);
    for (int i = 0; i < v->u.dict.n; i++) {
      if (v->u.dict.keys[i]->kind != V_STR || v->u.dict.vals[i]->kind != V_ARRAY)
        lms_fail(I, at, "%s: a dict must map names to arrays", what);
      names[i] = v->u.dict.keys[i]->u.str.s;
      arr[i] = v->u.dict.vals[i]->u.arr;
    }
    d->n = v->u.dict.n;
    d->arrays = arr;
    d->names = names;
    return d;
  }
  lms_fail(I, at, "%s must be an array, a list of arrays or a dict of arrays, not %s", what, lms_type_name(v));
}

static const char **str_list(lms_interp *I, lms_value *v, const lms_node *at, const char *what, int *n) {
  if (v->kind == V_STR) {
    const char **s = lms_alloc(I, sizeof *s);
    s[0] = v->u.str.s;
    *n = 1;
    return s;
  }
  if (v->kind != V_LIST && v->kind != V_TUPLE)
    lms_fail(I, at, "%s must be a string or a list of strings, not %s", what, lms_type_name(v));
  const char **s = lms_alloc(I, (size_t)(v->u.seq.n + 1) * sizeof *s);
  for (int i = 0; i < v->u.seq.n; i++) {
    lms_value *x = v->u.seq.items[i];
    if (x->kind == V_LAMBDA || x->kind == V_BUILTIN)
      lms_fail(I, at, "%s: custom functions are not supported; use a Keras name such as 'mse'", what);
    if (x->kind != V_STR) lms_fail(I, at, "%s: item %d is %s, not a string", what, i, lms_type_name(x));
    s[i] = x->u.str.s;
  }
  *n = v->u.seq.n;
  return s;
}

static lms_value *m_compile(lms_interp *I, lms_value *self, lms_args *a) {
  lm_compile_opts co = {0};
  lms_value *opt = a->slot[0];
  if (opt && opt->kind == V_STR) {
    co.optimizer_name = opt->u.str.s;
  } else if (opt && opt->kind == V_OPTIMIZER) {
    co.optimizer = opt->u.opt;
  } else if (opt && opt->kind != V_NONE) {
    lms_fail(I, a->slot_node[0], "compile(): optimizer must be a name or an optimizer, not %s", lms_type_name(opt));
  }
  lms_value *loss = lms_arg(a, 1);
  if (!loss) lms_fail(I, a->call, "compile(): loss is required (lamina trains with a Keras loss)");
  if (loss->kind == V_DICT) {
    co.n_losses = loss->u.dict.n;
    const char **ls = lms_alloc(I, (size_t)(co.n_losses + 1) * sizeof *ls);
    const char **ks = lms_alloc(I, (size_t)(co.n_losses + 1) * sizeof *ks);
    for (int i = 0; i < co.n_losses; i++) {
      if (loss->u.dict.keys[i]->kind != V_STR || loss->u.dict.vals[i]->kind != V_STR)
        lms_fail(I, a->slot_node[1], "compile(): a loss dict maps output names to loss names");
      ks[i] = loss->u.dict.keys[i]->u.str.s;
      ls[i] = loss->u.dict.vals[i]->u.str.s;
    }
    co.losses = ls;
    co.loss_outputs = ks;
  } else {
    co.losses = str_list(I, loss, a->slot_node[1], "compile(): loss", &co.n_losses);
  }
  lms_value *lw = lms_arg(a, 3);
  if (lw) {
    bool is_dict = lw->kind == V_DICT;
    if (!is_dict && lw->kind != V_LIST && lw->kind != V_TUPLE)
      lms_fail(I, a->slot_node[3], "compile(): loss_weights must be a list or a dict");
    int n = is_dict ? lw->u.dict.n : lw->u.seq.n;
    float *w = lms_alloc(I, (size_t)(n + 1) * sizeof *w);
    const char **ks = is_dict ? lms_alloc(I, (size_t)(n + 1) * sizeof *ks) : NULL;
    for (int i = 0; i < n; i++) {
      lms_value *x = is_dict ? lw->u.dict.vals[i] : lw->u.seq.items[i];
      if (!lms_is_number(x)) lms_fail(I, a->slot_node[3], "compile(): loss weights must be numbers");
      w[i] = (float)lms_num(x);
      if (is_dict) {
        if (lw->u.dict.keys[i]->kind != V_STR) lms_fail(I, a->slot_node[3], "compile(): loss_weights keys are output names");
        ks[i] = lw->u.dict.keys[i]->u.str.s;
      }
    }
    co.n_loss_weights = n;
    co.loss_weights = w;
    co.loss_weight_outputs = ks;
  }
  lms_value *met = lms_arg(a, 2);
  if (met) {
    if (met->kind == V_DICT)
      lms_fail(I, a->slot_node[2], "compile(): per-output metrics (a dict) are not supported; pass a list");
    co.metrics = str_list(I, met, a->slot_node[2], "compile(): metrics", &co.n_metrics);
  }
  if (lm_model_compile(self->u.model.m, &co) != LM_OK) lms_fail_lib(I, a->call);
  self->u.model.compiled = true;
  return lms_none(I);
}

static lms_value *history_value(lms_interp *I, lm_history *h, lms_value *model) {
  lms_value *v = lms_new(I, V_HISTORY);
  v->u.hist.h = h;
  v->u.hist.model = model;
  return v;
}

/* keras.callbacks.History(): empty until a fit it is passed to (callbacks=[h])
 * ends; then it holds that fit's history, as the History fit returns. */
lms_value *lms_keras_history(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  (void)a;
  return history_value(I, NULL, NULL);
}

static lms_value *fill_histories(lms_value *cbs, lm_history *h, lms_value *model, lms_value *ret) {
  for (int i = 0; cbs && i < cbs->u.seq.n; i++)
    if (cbs->u.seq.items[i]->kind == V_HISTORY) {
      cbs->u.seq.items[i]->u.hist.h = h;
      cbs->u.seq.items[i]->u.hist.model = model;
    }
  return ret;
}

static lms_value *m_fit(lms_interp *I, lms_value *self, lms_args *a) {
  /* x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
   * shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps */
  if (!a->slot[0] || !a->slot[1]) lms_fail(I, a->call, "fit() needs x and y");
  for (int s = 9; s <= 10; s++)
    if (lms_arg(a, s)) lms_fail(I, a->slot_node[s], "fit(): %s is not supported", a->slot_names[s]);
  for (int s = 12; s <= 13; s++)
    if (lms_arg(a, s)) lms_fail(I, a->slot_node[s], "fit(): %s is not supported (arrays only)", a->slot_names[s]);
  lms_value *cbs = lms_arg(a, 5);
  if (cbs && (cbs->kind != V_LIST && cbs->kind != V_TUPLE))
    lms_fail(I, a->slot_node[5], "fit(): callbacks must be a list");
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  if (cbs && cbs->u.seq.n > 0) {
    lm_callback **list = lms_alloc(I, (size_t)cbs->u.seq.n * sizeof *list);
    for (int i = 0; i < cbs->u.seq.n; i++) {
      if (cbs->u.seq.items[i]->kind == V_HISTORY) continue; /* keras.callbacks.History(): filled after fit */
      if (cbs->u.seq.items[i]->kind != V_CALLBACK)
        lms_fail(I, a->slot_node[5], "fit(): callbacks item %d is %s, not a callback", i,
                 lms_type_name(cbs->u.seq.items[i]));
      list[fo.n_callbacks++] = cbs->u.seq.items[i]->u.cb.cb;
    }
    fo.callbacks = list;
  }
  fo.batch_size = (int)lms_arg_int(a, 2, 32);
  fo.epochs = (int)lms_arg_int(a, 3, 1);
  fo.verbose = (int)lms_arg_int(a, 4, 1);
  fo.validation_split = (float)lms_arg_float(a, 6, 0);
  fo.shuffle = lms_arg_bool(a, 8, true);
  fo.initial_epoch = (int)lms_arg_int(a, 11, 0);
  if (lms_arg_int(a, 2, 32) <= 0 || lms_arg_int(a, 2, 32) > INT32_MAX)
    lms_fail(I, a->slot_node[2], "fit(): batch_size must be a positive integer");
  if (lms_arg_int(a, 3, 1) < 0 || lms_arg_int(a, 3, 1) > 1000000)
    lms_fail(I, a->slot_node[3], "fit(): epochs must be a non-negative integer");
  if (I->opts.sandbox && fo.epochs > 2) fo.epochs = 2; /* fuzzing: milliseconds per input */
  if (I->opts.sandbox && fo.initial_epoch > fo.epochs) fo.initial_epoch = fo.epochs;
  lms_value *vd = lms_arg(a, 7);
  if (vd) {
    if ((vd->kind != V_TUPLE && vd->kind != V_LIST) || vd->u.seq.n != 2)
      lms_fail(I, a->slot_node[7], "fit(): validation_data must be a tuple (x_val, y_val)");
    fo.val_x = to_data(I, vd->u.seq.items[0], a->slot_node[7], "validation_data x");
    fo.val_y = to_data(I, vd->u.seq.items[1], a->slot_node[7], "validation_data y");
  }
  lm_data *x = to_data(I, a->slot[0], a->slot_node[0], "fit(): x");
  lm_data *y = to_data(I, a->slot[1], a->slot_node[1], "fit(): y");
  if (I->opts.mode == LMS_MODE_SUMMARY) return fill_histories(cbs, NULL, self, history_value(I, NULL, self));
  lms_hp_fit_hook(I, &fo); /* lamina tune: report each epoch to the trial */
  if (I->opts.checkpoint) { /* lamina run --checkpoint FILE: after the script's callbacks */
    lm_callback *ck = lm_callback_checkpoint(I->ctx, I->opts.checkpoint, I->opts.checkpoint_every);
    if (!ck) lms_fail_lib(I, a->call);
    lm_callback **list = lms_alloc(I, (size_t)(fo.n_callbacks + 1) * sizeof *list);
    for (int i = 0; i < fo.n_callbacks; i++) list[i] = fo.callbacks[i];
    list[fo.n_callbacks] = ck;
    fo.callbacks = list;
    fo.n_callbacks++;
  }
  if (I->opts.resume && I->n_fits == 0) fo.resume_from = I->opts.resume; /* lamina run --resume */
  I->n_fits++;
  I->pending = false;
  lm_history *h = lm_model_fit(self->u.model.m, x, y, &fo);
  if (I->pending) {
    /* an error inside a schedule function: its message and position are kept */
    I->pending = false;
    I->status = LMS_SCRIPT_ERROR;
    longjmp(I->jmp, 1);
  }
  if (!h) lms_fail_lib(I, a->call);
  return fill_histories(cbs, h, self, history_value(I, h, self));
}

static lms_value *m_evaluate(lms_interp *I, lms_value *self, lms_args *a) {
  if (!a->slot[0] || !a->slot[1]) lms_fail(I, a->call, "evaluate() needs x and y");
  if (lms_arg(a, 4)) lms_fail(I, a->slot_node[4], "evaluate(): sample_weight is not supported");
  if (lms_arg(a, 5)) lms_fail(I, a->slot_node[5], "evaluate(): steps is not supported (arrays only)");
  lm_data *x = to_data(I, a->slot[0], a->slot_node[0], "evaluate(): x");
  lm_data *y = to_data(I, a->slot[1], a->slot_node[1], "evaluate(): y");
  int64_t bs = lms_arg_int(a, 2, 32);
  if (bs <= 0 || bs > INT32_MAX) lms_fail(I, a->slot_node[2], "evaluate(): batch_size must be a positive integer");
  lm_model *m = self->u.model.m;
  int n = lm_model_n_metrics(m);
  if (n <= 0) lms_fail(I, a->call, "You must compile a model before training/testing. Use `model.compile(optimizer, loss)`.");
  double *vals = lms_alloc(I, (size_t)n * sizeof *vals);
  if (I->opts.mode != LMS_MODE_SUMMARY &&
      lm_model_evaluate(m, x, y, (int)bs, (int)lms_arg_int(a, 3, 1), vals) != LM_OK)
    lms_fail_lib(I, a->call);
  if (n == 1) return lms_float(I, vals[0]);
  lms_value *l = lms_seq(I, V_LIST, n);
  for (int i = 0; i < n; i++) l->u.seq.items[i] = lms_float(I, vals[i]);
  return l;
}

/* predict (batch_size > 0) or predict_on_batch (0): an array, or a list of them */
static lms_value *predicted(lms_interp *I, lm_model *m, lm_data *x, int batch_size,
                            const lms_node *at) {
  int n = lm_model_n_outputs(m);
  lm_tensor **outs = lms_alloc(I, (size_t)(n + 1) * sizeof *outs);
  lm_status st = batch_size > 0 ? lm_model_predict(m, x, batch_size, outs)
                                : lm_model_predict_on_batch(m, x, outs);
  if (st != LM_OK) lms_fail_lib(I, at);
  if (n == 1) return lms_array(I, outs[0], at);
  lms_value *l = lms_seq(I, V_LIST, n);
  for (int i = 0; i < n; i++) l->u.seq.items[i] = lms_array(I, outs[i], at);
  return l;
}

static lms_value *m_predict(lms_interp *I, lms_value *self, lms_args *a) {
  if (lms_arg(a, 3)) lms_fail(I, a->slot_node[3], "predict(): steps is not supported (arrays only)");
  lm_data *x = to_data(I, a->slot[0], a->slot_node[0], "predict(): x");
  int64_t bs = lms_arg_int(a, 1, 32);
  if (bs <= 0 || bs > INT32_MAX) lms_fail(I, a->slot_node[1], "predict(): batch_size must be a positive integer");
  return predicted(I, self->u.model.m, x, (int)bs, a->call);
}

/* Keras predict_on_batch: all of x as one batch */
static lms_value *m_predict_on_batch(lms_interp *I, lms_value *self, lms_args *a) {
  lm_data *x = to_data(I, a->slot[0], a->slot_node[0], "predict_on_batch(): x");
  return predicted(I, self->u.model.m, x, 0, a->call);
}

static lms_value *m_train_on_batch(lms_interp *I, lms_value *self, lms_args *a) {
  lm_data *x = to_data(I, a->slot[0], a->slot_node[0], "train_on_batch(): x");
  lm_data *y = to_data(I, a->slot[1], a->slot_node[1], "train_on_batch(): y");
  lm_model *m = self->u.model.m;
  int n = lm_model_n_metrics(m);
  if (n <= 0) lms_fail(I, a->call, "You must compile a model before training/testing. Use `model.compile(optimizer, loss)`.");
  double *vals = lms_alloc(I, (size_t)n * sizeof *vals);
  if (I->opts.mode != LMS_MODE_SUMMARY && lm_model_train_on_batch(m, x, y, vals) != LM_OK)
    lms_fail_lib(I, a->call);
  if (n == 1) return lms_float(I, vals[0]);
  lms_value *l = lms_seq(I, V_LIST, n);
  for (int i = 0; i < n; i++) l->u.seq.items[i] = lms_float(I, vals[i]);
  return l;
}

static lms_value *m_summary(lms_interp *I, lms_value *self, lms_args *a) {
  if (lms_arg(a, 0) || lms_arg(a, 1) || lms_arg(a, 2))
    lms_fail(I, a->call, "summary(): line_length, positions and print_fn are not supported");
  if (I->opts.mode == LMS_MODE_SUMMARY) return lms_none(I); /* printed at the end */
  if (lm_model_summary(self->u.model.m, NULL, NULL) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *m_add(lms_interp *I, lms_value *self, lms_args *a) {
  if (!self->u.model.sequential) lms_fail(I, a->call, "add() is a method of Sequential models");
  if (a->slot[0]->kind == V_MODEL)
    lms_fail(I, a->slot_node[0], "add(): adding a model to a Sequential model is not supported yet");
  if (a->slot[0]->kind != V_LAYER)
    lms_fail(I, a->slot_node[0], "The added layer must be an instance of class Layer. Found: %s",
             lms_type_name(a->slot[0]));
  if (lm_sequential_add(self->u.model.m, a->slot[0]->u.layer.l) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *m_save(lms_interp *I, lms_value *self, lms_args *a) {
  if (I->opts.mode == LMS_MODE_SUMMARY) return lms_none(I);
  if (lm_model_save(self->u.model.m, lms_arg_str(a, 0, "")) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *m_save_weights(lms_interp *I, lms_value *self, lms_args *a) {
  if (I->opts.mode == LMS_MODE_SUMMARY) return lms_none(I);
  if (lm_model_save_weights(self->u.model.m, lms_arg_str(a, 0, "")) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *m_load_weights(lms_interp *I, lms_value *self, lms_args *a) {
  if (lm_model_load_weights(self->u.model.m, lms_arg_str(a, 0, "")) != LM_OK) lms_fail_lib(I, a->call);
  return lms_none(I);
}

static lms_value *m_get_layer(lms_interp *I, lms_value *self, lms_args *a) {
  lm_model *m = self->u.model.m;
  if (lms_arg(a, 0)) {
    lm_layer *l = lm_model_get_layer(m, lms_arg_str(a, 0, ""));
    if (!l) lms_fail(I, a->slot_node[0], "No such layer: %s", lms_arg_str(a, 0, ""));
    return lms_layer_value(I, l);
  }
  if (lms_arg(a, 1)) {
    int64_t i = lms_arg_int(a, 1, 0);
    if (i < 0 || i >= lm_model_n_layers(m))
      lms_fail(I, a->slot_node[1], "Was asked to retrieve layer at index %lld but model only has %d layers.",
               (long long)i, lm_model_n_layers(m));
    return lms_layer_value(I, lm_model_layer(m, (int)i));
  }
  lms_fail(I, a->call, "Provide either a layer name or layer index.");
}

static lms_value *m_count_params(lms_interp *I, lms_value *self, lms_args *a) {
  (void)a;
  return lms_int(I, lm_model_count_params(self->u.model.m, 0));
}

static lms_value *weights_list(lms_interp *I, lm_layer *l, const lms_node *at) {
  int n = lm_layer_n_weights(l);
  lms_value *out = lms_seq(I, V_LIST, n);
  for (int i = 0; i < n; i++) out->u.seq.items[i] = lms_array(I, lm_tensor_copy(lm_layer_weight(l, i)), at);
  return out;
}

static lms_value *m_get_weights(lms_interp *I, lms_value *self, lms_args *a) {
  lm_model *m = self->u.model.m;
  lms_value *out = lms_seq(I, V_LIST, 0);
  for (int i = 0; i < lm_model_n_layers(m); i++) {
    lms_value *w = weights_list(I, lm_model_layer(m, i), a->call);
    for (int k = 0; k < w->u.seq.n; k++) lms_list_append(I, out, w->u.seq.items[k]);
  }
  return out;
}

static const lms_builtin model_methods[] = {
    {"compile", m_compile, "optimizer:x=, loss:x=, metrics:x?=, loss_weights:x?=", NULL},
    {"fit", m_fit,
     "x:x?=, y:x?=, batch_size:i?=, epochs:i=, verbose:i=, callbacks:x?=, validation_split:f=, "
     "validation_data:x?=, shuffle:b=, class_weight:x?=, sample_weight:x?=, initial_epoch:i=, "
     "steps_per_epoch:x?=, validation_steps:x?=",
     NULL},
    {"evaluate", m_evaluate, "x:x?=, y:x?=, batch_size:i?=, verbose:i=, sample_weight:x?=, steps:x?=", NULL},
    {"predict", m_predict, "x:x, batch_size:i?=, verbose:i=, steps:x?=", NULL},
    {"predict_on_batch", m_predict_on_batch, "x:x", NULL},
    {"train_on_batch", m_train_on_batch, "x:x, y:x", NULL},
    {"summary", m_summary, "line_length:x?=, positions:x?=, print_fn:x?=", NULL},
    {"add", m_add, "layer:x", NULL},
    {"save", m_save, "filepath:s, overwrite:b=, include_optimizer:b=", NULL},
    {"save_weights", m_save_weights, "filepath:s, overwrite:b=", NULL},
    {"load_weights", m_load_weights, "filepath:s, by_name:b=", NULL},
    {"get_layer", m_get_layer, "name:s?=, index:i?=", NULL},
    {"count_params", m_count_params, "", NULL},
    {"get_weights", m_get_weights, "", NULL},
};

lms_value *lms_model_attr(lms_interp *I, lms_value *mv, const char *name, const lms_node *at) {
  for (size_t i = 0; i < sizeof model_methods / sizeof *model_methods; i++)
    if (strcmp(model_methods[i].name, name) == 0) return lms_builtin_value(I, &model_methods[i], mv);
  lm_model *m = mv->u.model.m;
  if (strcmp(name, "layers") == 0) {
    lms_value *l = lms_seq(I, V_LIST, 0);
    for (int i = 0; i < lm_model_n_layers(m); i++) {
      lm_layer *ly = lm_model_layer(m, i);
      /* Sequential.layers omits the implicit InputLayer, as Keras does */
      if (mv->u.model.sequential && strcmp(lm_layer_class(ly), "InputLayer") == 0) continue;
      lms_list_append(I, l, lms_layer_value(I, ly));
    }
    return l;
  }
  if (strcmp(name, "name") == 0) return lms_cstr(I, lm_model_name(m));
  if (strcmp(name, "input_names") == 0 || strcmp(name, "output_names") == 0) {
    bool in = name[0] == 'i';
    int n = in ? lm_model_n_inputs(m) : lm_model_n_outputs(m);
    lms_value *l = lms_seq(I, V_LIST, n);
    for (int i = 0; i < n; i++)
      l->u.seq.items[i] = lms_cstr(I, in ? lm_model_input_name(m, i) : lm_model_output_name(m, i));
    return l;
  }
  if (strcmp(name, "metrics_names") == 0) {
    int n = lm_model_n_metrics(m);
    lms_value *l = lms_seq(I, V_LIST, n > 0 ? n : 0);
    for (int i = 0; i < n; i++) l->u.seq.items[i] = lms_cstr(I, lm_model_metric_name(m, i));
    return l;
  }
  if (strcmp(name, "optimizer") == 0) {
    lm_optimizer *o = lm_model_optimizer(m);
    if (!o) return lms_none(I);
    lms_value *v = lms_new(I, V_OPTIMIZER);
    v->u.opt = o;
    return v;
  }
  lms_fail(I, at, "'%s' object has no attribute '%s'", lms_type_name(mv), name);
}

/* ---- layers ------------------------------------------------------------------------- */

static lms_value *l_get_weights(lms_interp *I, lms_value *self, lms_args *a) {
  return weights_list(I, self->u.layer.l, a->call);
}

static lms_value *l_set_weights(lms_interp *I, lms_value *self, lms_args *a) {
  lm_layer *l = self->u.layer.l;
  lms_value *ws = a->slot[0];
  int n = lm_layer_n_weights(l);
  if (ws->u.seq.n != n)
    lms_fail(I, a->slot_node[0],
             "You called `set_weights(weights)` on layer \"%s\" with a weight list of length %d, but "
             "the layer was expecting %d weights.",
             lm_layer_name(l), ws->u.seq.n, n);
  for (int i = 0; i < n; i++) {
    lms_value *w = ws->u.seq.items[i];
    lm_tensor *dst = lm_layer_weight(l, i);
    lm_tensor *src = w->kind == V_ARRAY ? w->u.arr : lms_to_tensor(I, w, a->slot_node[0], LM_FLOAT32);
    bool same = lm_tensor_ndim(src) == lm_tensor_ndim(dst);
    for (int k = 0; same && k < lm_tensor_ndim(dst); k++) same = lm_tensor_dim(src, k) == lm_tensor_dim(dst, k);
    if (!same) {
      char s1[160], s2[160];
      lm_shape_str(lm_tensor_ndim(dst), lm_tensor_shape(dst), s1, sizeof s1);
      lm_shape_str(lm_tensor_ndim(src), lm_tensor_shape(src), s2, sizeof s2);
      lms_fail(I, a->slot_node[0], "Layer weight shape %s not compatible with provided weight shape %s", s1, s2);
    }
    float *d = lm_tensor_f32(dst);
    for (int64_t k = 0; k < lm_tensor_size(dst); k++)
      d[k] = lm_tensor_dtype(src) == LM_FLOAT32 ? lm_tensor_f32(src)[k] : (float)lm_tensor_i32(src)[k];
  }
  return lms_none(I);
}

static lms_value *l_count_params(lms_interp *I, lms_value *self, lms_args *a) {
  (void)a;
  return lms_int(I, lm_layer_count_params(self->u.layer.l));
}

static const lms_builtin layer_methods[] = {
    {"get_weights", l_get_weights, "", NULL},
    {"set_weights", l_set_weights, "weights:l", NULL},
    {"count_params", l_count_params, "", NULL},
};

lms_value *lms_layer_attr(lms_interp *I, lms_value *lv, const char *name, const lms_node *at) {
  for (size_t i = 0; i < sizeof layer_methods / sizeof *layer_methods; i++)
    if (strcmp(layer_methods[i].name, name) == 0) return lms_builtin_value(I, &layer_methods[i], lv);
  lm_layer *l = lv->u.layer.l;
  if (strcmp(name, "name") == 0) return lms_cstr(I, lm_layer_name(l));
  if (strcmp(name, "trainable") == 0) return lms_bool(I, lm_layer_trainable(l));
  if (strcmp(name, "weights") == 0) return weights_list(I, l, at);
  lms_fail(I, at, "'%s' object has no attribute '%s'", lms_type_name(lv), name);
}

void lms_set_layer_attr(lms_interp *I, lms_value *lv, const char *name, lms_value *v, const lms_node *at) {
  if (strcmp(name, "trainable") == 0) {
    lm_layer_set_trainable(lv->u.layer.l, lms_truthy(v));
    return;
  }
  lms_fail(I, at, "cannot set attribute '%s' of a layer (only 'trainable')", name);
}

/* ---- History, optimizers ------------------------------------------------------------- */

lms_value *lms_history_attr(lms_interp *I, lms_value *hv, const char *name, const lms_node *at) {
  lm_history *h = hv->u.hist.h;
  int n_ep = h ? lm_history_n_epochs(h) : 0;
  if (strcmp(name, "history") == 0) {
    lms_value *d = lms_dict(I);
    if (!h && !hv->u.hist.model) return d; /* a History() no fit has filled yet */
    if (!h) {
      /* lamina summary: no training, the keys without values */
      lm_model *m = hv->u.hist.model->u.model.m;
      for (int i = 0; i < lm_model_n_metrics(m); i++)
        lms_dict_set(I, d, lms_cstr(I, lm_model_metric_name(m, i)), lms_seq(I, V_LIST, 0));
      return d;
    }
    for (int k = 0; k < lm_history_n_keys(h); k++) {
      const char *key = lm_history_key(h, k);
      const double *vals = lm_history_get(h, key);
      lms_value *l = lms_seq(I, V_LIST, n_ep);
      for (int e = 0; e < n_ep; e++) l->u.seq.items[e] = lms_float(I, vals[e]);
      lms_dict_set(I, d, lms_cstr(I, key), l);
    }
    return d;
  }
  if (strcmp(name, "epoch") == 0) {
    lms_value *l = lms_seq(I, V_LIST, n_ep);
    for (int e = 0; e < n_ep; e++) l->u.seq.items[e] = lms_int(I, e);
    return l;
  }
  if (strcmp(name, "model") == 0) return hv->u.hist.model ? hv->u.hist.model : lms_none(I);
  lms_fail(I, at, "'History' object has no attribute '%s'", name);
}

lms_value *lms_optimizer_attr(lms_interp *I, lms_value *ov, const char *name, const lms_node *at) {
  if (strcmp(name, "lr") == 0 || strcmp(name, "learning_rate") == 0)
    return lms_float(I, lm_optimizer_lr(ov->u.opt));
  if (strcmp(name, "iterations") == 0) return lms_int(I, lm_optimizer_iterations(ov->u.opt));
  lms_fail(I, at, "'Optimizer' object has no attribute '%s'", name);
}
