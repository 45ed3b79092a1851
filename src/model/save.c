/* save / load: one safetensors file, weights named like Keras
 * (dense_1/kernel:0), the architecture (Keras get_config layout) and the
 * training config in __metadata__. */
#include <string.h>

#include "core/json.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "train/train.h"

/* Index of call c among the calls of its layer that belong to m. */
static int model_node_index(const lm_model *m, const lm_call *c) {
  int k = 0;
  for (int i = 0; i < c->layer->n_calls; i++) {
    if (c->layer->calls[i] == c) return k;
    if (lmm_owns_call(m, c->layer->calls[i])) k++;
  }
  return -1;
}

static void write_ref(lm_buf *b, const lm_model *m, const lm_sym *s) {
  lm_buf_puts(b, "[");
  lmj_write_str(b, s->call->layer->name);
  lm_buf_printf(b, ", %d, %d]", model_node_index(m, s->call), s->index);
}

static void write_config(const lm_model *m, lm_buf *b) {
  lm_buf_printf(b, "{\"class_name\": \"%s\", \"config\": {\"name\": ",
                m->sequential ? "Sequential" : "Model");
  lmj_write_str(b, m->name);
  lm_buf_puts(b, ", \"layers\": [");
  for (int i = 0; i < m->n_layers; i++) {
    const lm_layer *l = m->layers[i];
    lm_buf_printf(b, "%s{\"class_name\": \"%s\", \"name\": ", i ? ", " : "", l->cls->class_name);
    lmj_write_str(b, l->name);
    lm_buf_puts(b, ", \"config\": {\"name\": ");
    lmj_write_str(b, l->name);
    lm_buf_printf(b, ", \"trainable\": %s", l->trainable ? "true" : "false");
    if (l->cls->config) l->cls->config(l, b);
    lm_buf_puts(b, "}, \"inbound_nodes\": [");
    int printed = 0;
    for (int k = 0; k < l->n_calls; k++) {
      const lm_call *c = l->calls[k];
      if (!lmm_owns_call(m, c) || c->n_in == 0) continue;
      lm_buf_puts(b, printed++ ? ", [" : "[");
      for (int j = 0; j < c->n_in; j++) {
        if (j) lm_buf_puts(b, ", ");
        write_ref(b, m, c->in[j]);
      }
      lm_buf_puts(b, "]");
    }
    lm_buf_puts(b, "]}");
  }
  lm_buf_puts(b, "], \"input_layers\": [");
  for (int i = 0; i < m->n_inputs; i++) {
    if (i) lm_buf_puts(b, ", ");
    write_ref(b, m, m->inputs[i]);
  }
  lm_buf_puts(b, "], \"output_layers\": [");
  for (int i = 0; i < m->n_outputs; i++) {
    if (i) lm_buf_puts(b, ", ");
    write_ref(b, m, m->outputs[i]);
  }
  lm_buf_puts(b, "]}}");
}

static lm_status save(lm_model *m, const char *path, bool with_arch) {
  if (!m) return LM_ERR_ARG;
  lm_ctx *ctx = m->ctx;
  if (!path) return lm_fail(ctx, LM_ERR_ARG, "save: no path given");
  if (!m->built) return lm_fail(ctx, LM_ERR_STATE, "save: the model has no layers yet");
  int n = 0;
  for (int i = 0; i < m->n_layers; i++) n += m->layers[i]->n_weights;
  const char **names = lm_alloc(ctx, sizeof(char *) * (size_t)(n + 1));
  lm_tensor **ts = lm_alloc(ctx, sizeof(lm_tensor *) * (size_t)(n + 1));
  lm_buf arch, train;
  lm_buf_init(&arch, ctx);
  lm_buf_init(&train, ctx);
  lm_status st = LM_OK;
  if (!names || !ts) st = LM_ERR_NOMEM;
  int k = 0;
  for (int i = 0; !st && i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i]->n_weights; j++) {
      names[k] = m->layers[i]->weights[j].name;
      ts[k++] = m->layers[i]->weights[j].t;
    }
  if (!st && with_arch) {
    write_config(m, &arch);
    if (m->train && m->train->config) lm_buf_puts(&train, m->train->config);
    if (arch.oom || train.oom) st = LM_ERR_NOMEM;
  }
  if (!st) {
    const char *keys[4] = {"format", "lamina_version", "model_config", "training_config"};
    const char *vals[4] = {"lamina", LAMINA_VERSION, arch.data, train.data};
    int n_meta = with_arch ? (train.data ? 4 : 3) : 2;
    st = lms_write(ctx, path, k, names, ts, n_meta, keys, vals);
  }
  lm_buf_free(&arch);
  lm_buf_free(&train);
  lm_dealloc(ctx, names);
  lm_dealloc(ctx, ts);
  return st;
}

lm_status lm_model_save(lm_model *m, const char *path) { return save(m, path, true); }
lm_status lm_model_save_weights(lm_model *m, const char *path) { return save(m, path, false); }

static lm_status load_weights_from(lm_model *m, const lms_file *f, const char *path) {
  lm_ctx *ctx = m->ctx;
  for (int i = 0; i < m->n_layers; i++) {
    lm_layer *l = m->layers[i];
    for (int j = 0; j < l->n_weights; j++) {
      lm_tensor *w = l->weights[j].t, *src = lms_get(f, l->weights[j].name);
      if (!src)
        return lm_fail(ctx, LM_ERR_FORMAT, "%s: no tensor named \"%s\" for layer %s", path,
                       l->weights[j].name, l->name);
      if (src->ndim != w->ndim || memcmp(src->shape, w->shape, sizeof(int64_t) * (size_t)w->ndim) ||
          src->dtype != w->dtype) {
        char a[160], b[160];
        lm_shape_str(src->ndim, src->shape, a, sizeof a);
        lm_shape_str(w->ndim, w->shape, b, sizeof b);
        return lm_fail(ctx, LM_ERR_SHAPE,
                       "%s: weight \"%s\" has shape %s in the file but layer %s expects %s", path,
                       l->weights[j].name, a, l->name, b);
      }
    }
  }
  for (int i = 0; i < m->n_layers; i++) {
    lm_layer *l = m->layers[i];
    for (int j = 0; j < l->n_weights; j++) {
      memcpy(l->weights[j].t->data, lms_get(f, l->weights[j].name)->data,
             (size_t)l->weights[j].t->size * 4);
      l->weights[j].t->version++;
    }
  }
  return LM_OK;
}

lm_status lm_model_load_weights(lm_model *m, const char *path) {
  if (!m) return LM_ERR_ARG;
  lms_file *f = lms_read(m->ctx, path);
  if (!f) return m->ctx->err;
  lm_status st = load_weights_from(m, f, path);
  lms_free(m->ctx, f);
  return st;
}

/* ---- rebuilding the architecture ---- */

typedef struct loader {
  lm_ctx *ctx;
  const char *path;
  int n;
  lm_layer **layers;
  const lmj_value **nodes; /* inbound_nodes arrays */
  int *done;               /* nodes replayed per layer */
} loader;

static lm_sym *find_ref(loader *ld, const lmj_value *ref) {
  if (ref->type != LMJ_ARR || ref->n < 2 || ref->items[0].type != LMJ_STR) return NULL;
  int node = (int)ref->items[1].num;
  int tensor = ref->n > 2 && ref->items[2].type == LMJ_NUM ? (int)ref->items[2].num : 0;
  for (int i = 0; i < ld->n; i++)
    if (ld->layers[i] && strcmp(ld->layers[i]->name, ref->items[0].str) == 0)
      return node >= 0 && node < ld->layers[i]->n_calls
                 ? lm_sym_output(ld->layers[i]->calls[node]->out, tensor)
                 : NULL;
  return NULL;
}

static lm_status replay(loader *ld) {
  bool progress = true;
  while (progress) {
    progress = false;
    for (int i = 0; i < ld->n; i++) {
      const lmj_value *nodes = ld->nodes[i];
      while (nodes && ld->done[i] < nodes->n) {
        const lmj_value *node = &nodes->items[ld->done[i]];
        if (node->type != LMJ_ARR || node->n < 1 || node->n > 64)
          return lm_fail(ld->ctx, LM_ERR_FORMAT, "%s: bad inbound_nodes for layer %s", ld->path,
                         ld->layers[i]->name);
        lm_sym *xs[64];
        bool ready = true;
        for (int k = 0; k < node->n && ready; k++) ready = (xs[k] = find_ref(ld, &node->items[k])) != NULL;
        if (!ready) break;
        if (!lml_call(ld->layers[i], node->n, xs)) return ld->ctx->err;
        ld->done[i]++;
        progress = true;
      }
    }
  }
  for (int i = 0; i < ld->n; i++)
    if (ld->nodes[i] && ld->done[i] < ld->nodes[i]->n)
      return lm_fail(ld->ctx, LM_ERR_FORMAT,
                     "%s: layer %s refers to a layer that does not exist in the file", ld->path,
                     ld->layers[i]->name);
  return LM_OK;
}

static lm_status refs(loader *ld, const lmj_value *arr, lm_sym **out, int *n) {
  if (!arr || arr->type != LMJ_ARR || arr->n < 1 || arr->n > 64)
    return lm_fail(ld->ctx, LM_ERR_FORMAT, "%s: bad input_layers/output_layers", ld->path);
  for (int i = 0; i < arr->n; i++)
    if (!(out[i] = find_ref(ld, &arr->items[i])))
      return lm_fail(ld->ctx, LM_ERR_FORMAT, "%s: input or output layer not found", ld->path);
  *n = arr->n;
  return LM_OK;
}

static lm_model *build_from_config(lm_ctx *ctx, const lmj_value *root, const char *path) {
  const lmj_value *cfg = lmj_get(root, "config");
  const lmj_value *layers = cfg ? lmj_get(cfg, "layers") : NULL;
  if (!layers || layers->type != LMJ_ARR) {
    lm_fail(ctx, LM_ERR_FORMAT, "%s: model_config has no layer list", path);
    return NULL;
  }
  loader ld = {.ctx = ctx, .path = path, .n = layers->n};
  ld.layers = lm_alloc(ctx, sizeof(lm_layer *) * (size_t)(ld.n + 1));
  ld.nodes = lm_alloc(ctx, sizeof(lmj_value *) * (size_t)(ld.n + 1));
  ld.done = lm_alloc(ctx, sizeof(int) * (size_t)(ld.n + 1));
  lm_model *m = NULL;
  lm_status st = !ld.layers || !ld.nodes || !ld.done ? LM_ERR_NOMEM : LM_OK;
  for (int i = 0; !st && i < ld.n; i++) {
    const lmj_value *lj = &layers->items[i];
    const char *cls_name = lmj_get_str(lj, "class_name", "");
    const lmj_value *lc = lmj_get(lj, "config");
    const lml_class *cls = lml_find_class(cls_name);
    const char *name = lc ? lmj_get_str(lc, "name", NULL) : NULL;
    if (!cls || !cls->from_config || !lc || !name) {
      st = lm_fail(ctx, LM_ERR_FORMAT, "%s: unknown or incomplete layer \"%s\" (%s)", path,
                   name ? name : "?", cls_name);
      break;
    }
    ld.layers[i] = cls->from_config(ctx, lc, name);
    if (!ld.layers[i]) {
      st = ctx->err ? ctx->err : LM_ERR_FORMAT;
      break;
    }
    ld.layers[i]->trainable = lmj_get_bool(lc, "trainable", true);
    const lmj_value *nodes = lmj_get(lj, "inbound_nodes");
    ld.nodes[i] = nodes && nodes->type == LMJ_ARR ? nodes : NULL;
  }
  if (!st) st = replay(&ld);
  lm_sym *ins[64], *outs[64];
  int n_in = 0, n_out = 0;
  if (!st) st = refs(&ld, lmj_get(cfg, "input_layers"), ins, &n_in);
  if (!st) st = refs(&ld, lmj_get(cfg, "output_layers"), outs, &n_out);
  if (!st) {
    m = lm_model_new(ctx, n_in, ins, n_out, outs, lmj_get_str(cfg, "name", NULL));
    if (m) m->sequential = strcmp(lmj_get_str(root, "class_name", ""), "Sequential") == 0;
  }
  lm_dealloc(ctx, ld.layers);
  lm_dealloc(ctx, ld.nodes);
  lm_dealloc(ctx, ld.done);
  return m;
}

lm_model *lm_model_load(lm_ctx *ctx, const char *path) {
  if (!ctx) return NULL;
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "load: no path given");
    return NULL;
  }
  lms_file *f = lms_read(ctx, path);
  if (!f) return NULL;
  lm_model *m = NULL;
  const char *arch = lms_meta(f, "model_config");
  if (!arch) {
    lm_fail(ctx, LM_ERR_FORMAT,
            "%s: no model_config in the metadata (a weights-only file? use load_weights)", path);
  } else {
    lmj_value *root = lmj_parse(ctx, arch, strlen(arch), path);
    if (root) {
      m = build_from_config(ctx, root, path);
      lmj_free(ctx, root);
    }
  }
  if (m && load_weights_from(m, f, path)) {
    lm_model_free(m);
    m = NULL;
  }
  const char *tc = m ? lms_meta(f, "training_config") : NULL;
  if (m && tc && *tc && lmt_compile_from_config(m, tc, path)) {
    lm_model_free(m);
    m = NULL;
  }
  lms_free(ctx, f);
  return m;
}
