/* Layer objects, symbolic tensors and layer calls: the Keras graph. */
#include "layers/layer.h"
#include "layers/conv_layers.h"

#include <string.h>

void lml_shape_str(const lm_shape *s, char *out, size_t len) {
  lm_shape_str(s->ndim, s->d, out, len);
}

static void layer_destroy(lm_obj *o) {
  lm_layer *l = (lm_layer *)o;
  lm_ctx *ctx = l->ctx;
  for (int i = 0; i < l->n_calls; i++) {
    lm_dealloc(ctx, l->calls[i]->in);
    lm_dealloc(ctx, l->calls[i]->outs);
    lm_dealloc(ctx, l->calls[i]);
  }
  lm_dealloc(ctx, l->calls);
  for (int i = 0; i < l->n_weights; i++) {
    lm_dealloc(ctx, l->weights[i].name);
    lmt_free(l->weights[i].t);
  }
  lm_dealloc(ctx, l->weights);
  lm_dealloc(ctx, l->cfg);
  lm_dealloc(ctx, l->name);
  lm_dealloc(ctx, l);
}

lm_layer *lml_new(lm_ctx *ctx, const lml_class *cls, const char *name, size_t cfg_size) {
  if (!ctx) return NULL;
  char autoname[128];
  if (!name || !*name) {
    if (lm_auto_name(ctx, cls->prefix, autoname, sizeof autoname)) return NULL;
    name = autoname;
  }
  lm_layer *l = lm_alloc(ctx, sizeof *l);
  if (!l) return NULL;
  l->ctx = ctx;
  l->cls = cls;
  l->trainable = true;
  l->name = lm_strdup(ctx, name);
  l->cfg = cfg_size ? lm_alloc(ctx, cfg_size) : NULL;
  if (!l->name || (cfg_size && !l->cfg)) {
    lm_dealloc(ctx, l->name);
    lm_dealloc(ctx, l->cfg);
    lm_dealloc(ctx, l);
    return NULL;
  }
  lm_obj_attach(ctx, &l->obj, layer_destroy);
  return l;
}

lm_tensor *lml_add_weight(lm_layer *l, const char *short_name, int ndim, const int64_t *shape,
                          const char *initializer, bool trainable) {
  lm_ctx *ctx = l->ctx;
  if (lm_grow(ctx, (void **)&l->weights, &l->cap_weights, l->n_weights + 1, sizeof *l->weights))
    return NULL;
  lm_tensor *t = lmt_new(ctx, LM_FLOAT32, ndim, shape);
  if (!t) return NULL;
  if (lml_init_tensor(ctx, t, initializer)) {
    lmt_free(t);
    return NULL;
  }
  size_t n = strlen(l->name) + strlen(short_name) + 4;
  char *full = lm_alloc(ctx, n);
  if (!full) {
    lmt_free(t);
    return NULL;
  }
  snprintf(full, n, "%s/%s:0", l->name, short_name);
  lml_weight *w = &l->weights[l->n_weights++];
  w->name = full;
  w->t = t;
  w->trainable = trainable;
  return t;
}

static void sym_destroy(lm_obj *o) {
  lm_sym *s = (lm_sym *)o;
  lm_dealloc(s->ctx, s);
}

static lm_sym *sym_new(lm_ctx *ctx, const lm_shape *shape, lm_call *call, int index) {
  lm_sym *s = lm_alloc(ctx, sizeof *s);
  if (!s) return NULL;
  s->ctx = ctx;
  s->shape = *shape;
  s->call = call;
  s->index = index;
  snprintf(s->label, sizeof s->label, "%s[%d][%d]", call->layer->name, call->index, index);
  lm_obj_attach(ctx, &s->obj, sym_destroy);
  return s;
}

int lml_n_outputs(const lm_layer *l) { return l->cls->n_outputs ? l->cls->n_outputs(l) : 1; }

/* Record a call of l on xs producing n_out outputs of out_shape[]; returns
 * the first output symbol. */
static lm_sym *record_call(lm_layer *l, int n, lm_sym *const *xs, int n_out,
                           const lm_shape *out_shape) {
  lm_ctx *ctx = l->ctx;
  if (lm_grow(ctx, (void **)&l->calls, &l->cap_calls, l->n_calls + 1, sizeof *l->calls))
    return NULL;
  lm_call *c = lm_alloc(ctx, sizeof *c);
  if (!c) return NULL;
  c->in = n ? lm_alloc(ctx, sizeof(lm_sym *) * (size_t)n) : NULL;
  c->outs = lm_alloc(ctx, sizeof(lm_sym *) * (size_t)n_out);
  if ((n && !c->in) || !c->outs) {
    lm_dealloc(ctx, c->in);
    lm_dealloc(ctx, c->outs);
    lm_dealloc(ctx, c);
    return NULL;
  }
  for (int i = 0; i < n; i++) c->in[i] = xs[i];
  c->n_in = n;
  c->layer = l;
  c->index = l->n_calls;
  for (int k = 0; k < n_out; k++) {
    c->outs[k] = sym_new(ctx, &out_shape[k], c, k);
    if (!c->outs[k]) { /* the symbols made so far stay with the context */
      lm_dealloc(ctx, c->in);
      lm_dealloc(ctx, c->outs);
      lm_dealloc(ctx, c);
      return NULL;
    }
  }
  c->n_out = n_out;
  c->out = c->outs[0];
  l->calls[l->n_calls++] = c;
  return c->out;
}

lm_sym *lml_call(lm_layer *l, int n, lm_sym *const *xs) {
  if (!l) return NULL;
  lm_ctx *ctx = l->ctx;
  if (n < 0 || (n > 0 && !xs)) {
    lm_fail(ctx, LM_ERR_ARG, "Layer %s: no input tensors given", l->name);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (!xs[i]) return NULL; /* an earlier call failed; its message stands */
  const lml_class *cls = l->cls;
  if (n < cls->min_inputs || (cls->max_inputs && n > cls->max_inputs)) {
    if (cls->max_inputs == 1)
      lm_fail(ctx, LM_ERR_ARG, "Layer %s expects 1 input, but it received %d input tensors",
              l->name, n);
    else
      lm_fail(ctx, LM_ERR_ARG,
              "A merge layer should be called on a list of at least %d inputs. Got %d inputs "
              "(layer %s).",
              cls->min_inputs, n, l->name);
    return NULL;
  }
  lm_shape in[16];
  lm_shape *shapes = in;
  if (n > 16) {
    shapes = lm_alloc(ctx, sizeof *shapes * (size_t)n);
    if (!shapes) return NULL;
  }
  for (int i = 0; i < n; i++) shapes[i] = xs[i]->shape;
  lm_sym *out = NULL;
  lm_shape os[LML_MAX_OUTPUTS];
  memset(os, 0, sizeof os);
  int n_out = lml_n_outputs(l);
  if (n_out < 1 || n_out > LML_MAX_OUTPUTS) {
    lm_fail(ctx, LM_ERR_ARG, "Layer %s: %d outputs (at most %d)", l->name, n_out,
            LML_MAX_OUTPUTS);
    goto done;
  }
  if (!l->built && cls->build && cls->build(l, n, shapes) != LM_OK) goto done;
  l->built = true;
  if (cls->out_shape(l, n, shapes, os) != LM_OK) goto done;
  out = record_call(l, n, xs, n_out, os);
done:
  if (shapes != in) lm_dealloc(ctx, shapes);
  return out;
}

lm_sym *lm_layer_call(lm_layer *layer, lm_sym *x) { return lml_call(layer, 1, &x); }
lm_sym *lm_layer_call_n(lm_layer *layer, int n, lm_sym *const *xs) {
  return lml_call(layer, n, xs);
}

lm_sym *lm_sym_output(const lm_sym *y, int i) {
  return y && i >= 0 && i < y->call->n_out ? y->call->outs[i] : NULL;
}

int lm_layer_call_multi(lm_layer *layer, int n, lm_sym *const *xs, int max_out, lm_sym **outs) {
  lm_sym *y = lml_call(layer, n, xs);
  if (!y) return -1;
  for (int k = 0; k < y->call->n_out && k < max_out; k++) outs[k] = y->call->outs[k];
  return y->call->n_out;
}

/* ---- InputLayer ---- */

typedef struct input_cfg {
  lm_shape shape;
} input_cfg;

static lm_status input_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out) {
  *out = ((input_cfg *)l->cfg)->shape;
  return LM_OK;
}

static lm_status input_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out) {
  const lm_shape *s = &((input_cfg *)l->cfg)->shape;
  *out = lmg_input(g, s->dtype, s->ndim, s->d);
  return *out < 0 ? g->ctx->err : LM_OK;
}

static void input_config(const lm_layer *l, lm_buf *b) {
  const lm_shape *s = &((const input_cfg *)l->cfg)->shape;
  lm_buf_puts(b, ", \"batch_input_shape\": [");
  for (int i = 0; i < s->ndim; i++) {
    if (i) lm_buf_puts(b, ", ");
    if (s->d[i] == LM_NONE)
      lm_buf_puts(b, "null");
    else
      lm_buf_printf(b, "%lld", (long long)s->d[i]);
  }
  lm_buf_printf(b, "], \"dtype\": \"%s\"", lm_dtype_name(s->dtype));
}

static lm_layer *input_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name);

const lml_class lml_input_class = {
    .class_name = "InputLayer",
    .prefix = "input",
    .min_inputs = 0,
    .max_inputs = 1,
    .out_shape = input_out_shape,
    .emit = input_emit,
    .config = input_config,
    .from_config = input_from_config,
};

static lm_sym *make_input(lm_ctx *ctx, int ndim, const int64_t *shape, lm_dtype dtype,
                          const char *name, bool with_batch) {
  if (!ctx) return NULL;
  int full = ndim + (with_batch ? 0 : 1);
  if (ndim < 0 || full > LM_MAX_DIMS || (ndim > 0 && !shape)) {
    lm_fail(ctx, LM_ERR_ARG, "Input: shape must have between 0 and %d dimensions",
            LM_MAX_DIMS - 1);
    return NULL;
  }
  if (dtype != LM_FLOAT32 && dtype != LM_INT32) {
    lm_fail(ctx, LM_ERR_ARG, "Input: unknown dtype %d", (int)dtype);
    return NULL;
  }
  lm_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = full;
  s.dtype = dtype;
  s.d[0] = LM_NONE;
  for (int i = 0; i < ndim; i++) {
    int64_t d = shape[i];
    if (d < 0 && d != LM_NONE) {
      lm_fail(ctx, LM_ERR_ARG, "Input: dimension %d is negative (%lld)", i, (long long)d);
      return NULL;
    }
    s.d[i + (with_batch ? 0 : 1)] = d;
  }
  lm_layer *l = lml_new(ctx, &lml_input_class, name, sizeof(input_cfg));
  if (!l) return NULL;
  ((input_cfg *)l->cfg)->shape = s;
  l->built = true;
  return record_call(l, 0, NULL, 1, &s);
}

lm_sym *lm_input(lm_ctx *ctx, int ndim, const int64_t *shape, lm_dtype dtype, const char *name) {
  return make_input(ctx, ndim, shape, dtype, name, false);
}

lm_sym *lml_input_batch_shape(lm_ctx *ctx, const lm_shape *s, const char *name) {
  return make_input(ctx, s->ndim, s->d, s->dtype, name, true);
}

static lm_layer *input_from_config(lm_ctx *ctx, const lmj_value *cfg, const char *name) {
  const lmj_value *bs = lmj_get(cfg, "batch_input_shape");
  if (!bs || bs->type != LMJ_ARR || bs->n < 1 || bs->n > LM_MAX_DIMS) {
    lm_fail(ctx, LM_ERR_FORMAT, "InputLayer %s: missing or bad batch_input_shape", name);
    return NULL;
  }
  lm_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = bs->n;
  for (int i = 0; i < bs->n; i++)
    s.d[i] = bs->items[i].type == LMJ_NUM ? (int64_t)bs->items[i].num : LM_NONE;
  s.dtype = strcmp(lmj_get_str(cfg, "dtype", "float32"), "int32") == 0 ? LM_INT32 : LM_FLOAT32;
  lm_sym *x = lml_input_batch_shape(ctx, &s, name);
  return x ? x->call->layer : NULL;
}

/* ---- symbolic tensor and layer accessors ---- */

int lm_sym_ndim(const lm_sym *s) { return s ? s->shape.ndim : 0; }
int64_t lm_sym_dim(const lm_sym *s, int axis) {
  if (!s) return 0;
  if (axis < 0) axis += s->shape.ndim;
  return axis >= 0 && axis < s->shape.ndim ? s->shape.d[axis] : 0;
}
const char *lm_sym_name(const lm_sym *s) { return s ? s->label : ""; }

const char *lm_layer_name(const lm_layer *l) { return l ? l->name : ""; }
const char *lm_layer_class(const lm_layer *l) { return l ? l->cls->class_name : ""; }
void lm_layer_set_trainable(lm_layer *l, bool trainable) {
  if (l) l->trainable = trainable;
}
bool lm_layer_trainable(const lm_layer *l) { return l && l->trainable; }

lm_layer *lm_layer_set_input_shape(lm_layer *l, int ndim, const int64_t *shape, lm_dtype dtype) {
  if (!l) return NULL;
  if (ndim < 0 || ndim + 1 > LM_MAX_DIMS || (ndim && !shape)) {
    lm_fail(l->ctx, LM_ERR_ARG, "input_shape of %s must have between 0 and %d dimensions",
            l->name, LM_MAX_DIMS - 1);
    return NULL;
  }
  memset(&l->input_shape, 0, sizeof l->input_shape);
  l->input_shape.ndim = ndim + 1;
  l->input_shape.d[0] = LM_NONE;
  for (int i = 0; i < ndim; i++) l->input_shape.d[i + 1] = shape[i];
  l->input_shape.dtype = dtype;
  l->has_input_shape = true;
  return l;
}

int lm_layer_n_weights(const lm_layer *l) { return l ? l->n_weights : 0; }
lm_tensor *lm_layer_weight(lm_layer *l, int i) {
  return l && i >= 0 && i < l->n_weights ? l->weights[i].t : NULL;
}
const char *lm_layer_weight_name(const lm_layer *l, int i) {
  return l && i >= 0 && i < l->n_weights ? l->weights[i].name : NULL;
}
int64_t lm_layer_count_params(const lm_layer *l) {
  int64_t n = 0;
  for (int i = 0; l && i < l->n_weights; i++) n += l->weights[i].t->size;
  return n;
}

/* ---- class registry (for loading) ---- */

const lml_class *const lml_registry[] = {
    &lml_input_class,   &lml_dense_class,    &lml_activation_class, &lml_flatten_class,
    &lml_reshape_class, &lml_dropout_class,  &lml_add_class,        &lml_subtract_class,
    &lml_multiply_class, &lml_average_class, &lml_maximum_class,    &lml_concatenate_class,
    &lml_embedding_class, &lml_lstm_class, &lml_conv1d_class, &lml_max_pooling1d_class,
    &lml_average_pooling1d_class, &lml_global_max_pooling1d_class,
    &lml_global_average_pooling1d_class, &lml_simple_rnn_class, /* issue 5 */
    &lml_gru_class, &lml_bidirectional_class, &lml_time_distributed_class, /* issue 5: gru.c, wrappers.c */
    &lml_depthwise_conv2d_class, &lml_separable_conv2d_class, &lml_zero_padding2d_class,
    &lml_cropping2d_class, &lml_upsampling2d_class, &lml_leaky_relu_class, &lml_relu_class,
    &lml_softmax_class, &lml_conv2d_transpose_class, /* issue 4: depthwise.c, spatial.c, relu.c */
    &lml_conv2d_class, &lml_max_pooling2d_class, &lml_average_pooling2d_class,
    &lml_global_average_pooling2d_class, &lml_global_max_pooling2d_class,
    &lml_batch_normalization_class, /* issue 4: conv2d.c, pooling.c, batchnorm.c */
};

const int lml_registry_n = (int)(sizeof lml_registry / sizeof *lml_registry);

const lml_class *lml_find_class(const char *class_name) {
  for (int i = 0; i < lml_registry_n; i++)
    if (strcmp(lml_registry[i]->class_name, class_name) == 0) return lml_registry[i];
  return NULL;
}
