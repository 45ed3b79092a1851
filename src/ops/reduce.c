/* sum / mean / max over the axes of a bitmask, with or without keepdims.
 *
 * The input's dims are split into kept and reduced ones; size-1 dims are
 * dropped and neighbours of the same class merged, so "reduce the last axis"
 * is one kept and one reduced dim. Every output element is reduced in a fixed
 * order by one thread, so results do not depend on the thread count. */
#include <math.h>

#include "ops/ops.h"

#define MAP(count, ...) LMO_MAP(g->threads, count, __VA_ARGS__)

enum { CHUNKS = 64, COLS = 64 };

static unsigned reduce_mask(const lmg_node *n, int ndim) {
  unsigned m = (unsigned)n->iarg[1];
  return m ? m : (ndim >= 32 ? ~0u : (1u << ndim) - 1u);
}

static lm_status reduce_infer(lmg_graph *g, lmg_node *n) {
  if (n->iarg[0] < LMO_SUM || n->iarg[0] > LMO_MAX)
    return lm_fail(g->ctx, LM_ERR_ARG, "unknown reduce kind %d", n->iarg[0]);
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *x = lmg_in(g, n, 0);
  unsigned mask = reduce_mask(n, x->ndim);
  if (x->ndim < 32 && (mask >> x->ndim) != 0) {
    int bad = x->ndim;
    while (!((mask >> bad) & 1u)) bad++;
    char s[128];
    lm_shape_str(x->ndim, x->shape, s, sizeof s);
    return lm_fail(g->ctx, LM_ERR_SHAPE, "reduce: axis %d is out of range for input shape %s", bad,
                   s);
  }
  bool keep = n->iarg[2] != 0;
  int nd = 0;
  for (int i = 0; i < x->ndim; i++) {
    if ((mask >> i) & 1u) {
      if (keep) n->shape[nd++] = 1;
    } else {
      n->shape[nd++] = x->shape[i];
    }
  }
  n->ndim = nd;
  n->dtype = LM_FLOAT32;
  return LM_OK;
}

typedef struct rplan {
  int nk, nr;
  int64_t kd[LM_MAX_DIMS], ks[LM_MAX_DIMS]; /* kept dims and their input strides */
  int64_t rd[LM_MAX_DIMS], rs[LM_MAX_DIMS]; /* reduced dims and strides */
  int64_t nout, nred;
} rplan;

static void rplan_make(rplan *p, const lmg_node *n, const lmg_node *x) {
  unsigned mask = reduce_mask(n, x->ndim);
  int64_t st[LM_MAX_DIMS], run = 1;
  for (int i = x->ndim - 1; i >= 0; i--) {
    st[i] = run;
    run *= x->shape[i];
  }
  p->nk = p->nr = 0;
  p->nout = p->nred = 1;
  int prev = -1; /* class of the previous dim kept: 0 kept, 1 reduced */
  for (int i = 0; i < x->ndim; i++) {
    int64_t d = x->shape[i];
    int red = (mask >> i) & 1u;
    if (red)
      p->nred *= d;
    else
      p->nout *= d;
    if (d == 1) continue;
    int64_t *dims = red ? p->rd : p->kd, *strides = red ? p->rs : p->ks;
    int *cnt = red ? &p->nr : &p->nk;
    if (prev == red) {
      dims[*cnt - 1] *= d; /* contiguous neighbours of the same class */
      strides[*cnt - 1] = st[i];
    } else {
      dims[*cnt] = d;
      strides[*cnt] = st[i];
      (*cnt)++;
    }
    prev = red;
  }
  if (p->nr == 0) { /* nothing to reduce: one run of one element */
    p->nr = 1;
    p->rd[0] = 1;
    p->rs[0] = 0;
  }
}

/* Input offset of output element o. */
static int64_t rplan_base(const rplan *p, int64_t o) {
  int64_t off = 0;
  for (int d = p->nk - 1; d >= 0; d--) {
    off += (o % p->kd[d]) * p->ks[d];
    o /= p->kd[d];
  }
  return off;
}

/* Visit the reduced set of one output in runs: the body sees off (start of
 * the run), len and st (its stride). */
#define RED_LOOP(p, ...)                                                      \
  do {                                                                        \
    int64_t idx_[LM_MAX_DIMS] = {0};                                          \
    int64_t len = (p)->rd[(p)->nr - 1], st = (p)->rs[(p)->nr - 1];            \
    (void)len;                                                                \
    (void)st;                                                                 \
    for (;;) {                                                                \
      int64_t off = 0;                                                        \
      for (int d_ = 0; d_ < (p)->nr - 1; d_++) off += idx_[d_] * (p)->rs[d_]; \
      __VA_ARGS__;                                                            \
      int d_ = (p)->nr - 2;                                                   \
      while (d_ >= 0 && ++idx_[d_] == (p)->rd[d_]) idx_[d_--] = 0;            \
      if (d_ < 0) break;                                                      \
    }                                                                         \
  } while (0)

/* Whole tensor into one value: fixed chunks, partials combined in order. */
static float reduce_all(lmg_graph *g, int kind, const float *x, int64_t size) {
  double part[CHUNKS];
  int64_t chunk = (size + CHUNKS - 1) / CHUNKS;
  LMO_PAR_FOR(g->threads, size > LMO_PAR_MIN)
  for (int c = 0; c < CHUNKS; c++) {
    int64_t i0 = c * chunk, i1 = i0 + chunk < size ? i0 + chunk : size;
    if (kind == LMO_MAX) {
      float m = -INFINITY;
      for (int64_t i = i0; i < i1; i++)
        if (x[i] > m) m = x[i];
      part[c] = m;
    } else {
      double s = 0.0;
      for (int64_t i = i0; i < i1; i++) s += x[i];
      part[c] = s;
    }
  }
  double r = kind == LMO_MAX ? -INFINITY : 0.0;
  for (int c = 0; c < CHUNKS; c++) r = kind == LMO_MAX ? (part[c] > r ? part[c] : r) : r + part[c];
  return (float)(kind == LMO_MEAN ? r / (double)size : r);
}

/* (R, C) -> (C): column blocks, rows in order. */
static void reduce_rows(lmg_graph *g, int kind, const float *x, int64_t R, int64_t C, float *y) {
  int64_t n_blk = (C + COLS - 1) / COLS;
  LMO_PAR_FOR(g->threads, R * C > LMO_PAR_MIN)
  for (int64_t bi = 0; bi < n_blk; bi++) {
    int64_t c0 = bi * COLS, w = C - c0 < COLS ? C - c0 : COLS;
    double acc[COLS];
    for (int64_t j = 0; j < w; j++) acc[j] = kind == LMO_MAX ? -INFINITY : 0.0;
    for (int64_t r = 0; r < R; r++) {
      const float *row = x + r * C + c0;
      if (kind == LMO_MAX) {
        for (int64_t j = 0; j < w; j++)
          if (row[j] > acc[j]) acc[j] = row[j];
      } else {
        for (int64_t j = 0; j < w; j++) acc[j] += row[j];
      }
    }
    for (int64_t j = 0; j < w; j++)
      y[c0 + j] = (float)(kind == LMO_MEAN ? acc[j] / (double)R : acc[j]);
  }
}

static void reduce_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *xn = lmg_in(g, n, 0);
  rplan p;
  rplan_make(&p, n, xn);
  int kind = n->iarg[0];
  const float *x = xn->val;
  float *y = n->val;
  if (p.nred == 0) {
    float v = kind == LMO_SUM ? 0.0f : kind == LMO_MEAN ? NAN : -INFINITY;
    MAP(n->size, y[i] = v);
    return;
  }
  if (p.nout == 1) {
    y[0] = reduce_all(g, kind, x, p.nred);
    return;
  }
  if (p.nk == 1 && p.nr == 1 && p.ks[0] == 1 && p.rs[0] == p.kd[0]) {
    reduce_rows(g, kind, x, p.rd[0], p.kd[0], y);
    return;
  }
  double inv = 1.0 / (double)p.nred;
  LMO_PAR_FOR(g->threads, xn->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < p.nout; o++) {
    const float *xb = x + rplan_base(&p, o);
    if (kind == LMO_MAX) {
      float m = -INFINITY;
      RED_LOOP(&p,
               for (int64_t j = 0; j < len; j++) if (xb[off + j * st] > m) m = xb[off + j * st]);
      y[o] = m;
    } else {
      double s = 0.0;
      RED_LOOP(&p, for (int64_t j = 0; j < len; j++) s += xb[off + j * st]);
      y[o] = (float)(kind == LMO_MEAN ? s * inv : s);
    }
  }
}

/* Max passes the gradient to the maxima, split evenly between ties (as
 * TensorFlow's reduce_max). */
static void reduce_max_backward(lmg_graph *g, lmg_node *n, const rplan *p, const float *x,
                                float *dx) {
  const float *y = n->val, *dy = n->grad;
  LMO_PAR_FOR(g->threads, lmg_in(g, n, 0)->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < p->nout; o++) {
    int64_t base = rplan_base(p, o);
    const float *xb = x + base;
    float *db = dx + base, m = y[o];
    int64_t cnt = 0;
    RED_LOOP(p, for (int64_t j = 0; j < len; j++) cnt += xb[off + j * st] == m);
    if (!cnt) continue;
    float c = dy[o] / (float)cnt;
    RED_LOOP(p, for (int64_t j = 0; j < len; j++) {
      if (xb[off + j * st] == m) db[off + j * st] += c;
    });
  }
}

static void reduce_backward(lmg_graph *g, lmg_node *n) {
  lmg_node *xn = lmg_in(g, n, 0);
  float *dx = xn->grad;
  if (!dx) return;
  rplan p;
  rplan_make(&p, n, xn);
  if (p.nred == 0) return;
  int kind = n->iarg[0];
  if (kind == LMO_MAX) {
    reduce_max_backward(g, n, &p, xn->val, dx);
    return;
  }
  const float *dy = n->grad;
  float scale = kind == LMO_MEAN ? (float)(1.0 / (double)p.nred) : 1.0f;
  if (p.nout == 1) {
    float c = dy[0] * scale;
    MAP(p.nred, dx[i] += c);
    return;
  }
  if (p.nk == 1 && p.nr == 1 && p.ks[0] == 1 && p.rs[0] == p.kd[0]) {
    int64_t C = p.kd[0];
    MAP(p.rd[0], for (int64_t j = 0; j < C; j++) dx[i * C + j] += dy[j] * scale);
    return;
  }
  LMO_PAR_FOR(g->threads, xn->size > LMO_PAR_MIN)
  for (int64_t o = 0; o < p.nout; o++) {
    float *db = dx + rplan_base(&p, o), c = dy[o] * scale;
    RED_LOOP(&p, for (int64_t j = 0; j < len; j++) db[off + j * st] += c);
  }
}

const lm_op lmo_op_reduce = {"reduce", reduce_infer, reduce_forward, reduce_backward, NULL};

int lmo_reduce(lmg_graph *g, int kind, int x, unsigned axes, bool keepdims) {
  if (axes >> LM_MAX_DIMS) {
    lm_fail(g->ctx, LM_ERR_SHAPE, "reduce: axis mask 0x%x names axes beyond %d", axes,
            LM_MAX_DIMS - 1);
    return -1;
  }
  lmg_node init = {0};
  init.iarg[0] = kind;
  init.iarg[1] = (int)axes;
  init.iarg[2] = keepdims;
  return lmg_op(g, &lmo_op_reduce, 1, &x, &init);
}
