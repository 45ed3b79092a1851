/* Elementwise add/sub/mul/div/maximum/minimum with numpy broadcasting.
 *
 * Shapes are right-aligned; size-1 dims of an operand get stride 0. Dims of
 * size 1 in the output are dropped and neighbours that step alike in both
 * operands are merged, so most cases become one or two dims: same shape
 * (one contiguous dim), a bias-like trailing vector (rows x inner, stride 0
 * on rows), a column (N, 1) against (N, C), a scalar. The last merged dim
 * is the "inner" span; the others are "rows". */
#include "ops/ops.h"

lm_status lmo_broadcast_shape(lm_ctx *ctx, int na, const int64_t *a, int nb, const int64_t *b,
                              int *nout, int64_t *out) {
  int n = na > nb ? na : nb;
  int64_t tmp[LM_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    int ia = i - (n - na), ib = i - (n - nb);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1)
      tmp[i] = da;
    else if (da == 1)
      tmp[i] = db;
    else if (da == LM_NONE) /* an unknown size meets a known one: assume it fits */
      tmp[i] = db;
    else if (db == LM_NONE)
      tmp[i] = da;
    else {
      char sa[128], sb[128];
      lm_shape_str(na, a, sa, sizeof sa);
      lm_shape_str(nb, b, sb, sizeof sb);
      return lm_fail(ctx, LM_ERR_SHAPE,
                     "Operands could not be broadcast together with shapes %s %s", sa, sb);
    }
  }
  *nout = n;
  for (int i = 0; i < n; i++) out[i] = tmp[i];
  return LM_OK;
}

static lm_status binary_infer(lmg_graph *g, lmg_node *n) {
  if (n->iarg[0] < LMO_ADD || n->iarg[0] > LMO_MINIMUM)
    return lm_fail(g->ctx, LM_ERR_ARG, "unknown binary op kind %d", n->iarg[0]);
  if (lmo_check_f32(g, n)) return g->ctx->err;
  const lmg_node *a = lmg_in(g, n, 0), *b = lmg_in(g, n, 1);
  n->dtype = LM_FLOAT32;
  return lmo_broadcast_shape(g->ctx, a->ndim, a->shape, b->ndim, b->shape, &n->ndim, n->shape);
}

/* ---- the broadcast plan ---- */

typedef struct bplan {
  int nd;
  int64_t dim[LM_MAX_DIMS];
  int64_t st[2][LM_MAX_DIMS]; /* element strides of a and b (0: broadcast) */
  int64_t rows, inner;
} bplan;

static void bplan_make(bplan *p, const lmg_node *y, const lmg_node *a, const lmg_node *b) {
  const lmg_node *op[2] = {a, b};
  int64_t dim[LM_MAX_DIMS], st[2][LM_MAX_DIMS], run[2] = {1, 1};
  int c = 0; /* collected right to left: dim[c - 1] is the leftmost so far */
  for (int i = y->ndim - 1; i >= 0; i--) {
    int64_t s[2];
    for (int k = 0; k < 2; k++) {
      int j = i - (y->ndim - op[k]->ndim);
      int64_t dk = j >= 0 ? op[k]->shape[j] : 1;
      s[k] = dk == 1 ? 0 : run[k];
      run[k] *= dk;
    }
    int64_t d = y->shape[i];
    if (d == 1) continue;
    if (c > 0 && s[0] == st[0][c - 1] * dim[c - 1] && s[1] == st[1][c - 1] * dim[c - 1]) {
      dim[c - 1] *= d; /* steps alike in both operands: one dim */
      continue;
    }
    dim[c] = d;
    st[0][c] = s[0];
    st[1][c] = s[1];
    c++;
  }
  if (c == 0) {
    dim[0] = 1;
    st[0][0] = st[1][0] = 0;
    c = 1;
  }
  p->nd = c;
  p->rows = 1;
  for (int i = 0; i < c; i++) {
    p->dim[i] = dim[c - 1 - i];
    p->st[0][i] = st[0][c - 1 - i];
    p->st[1][i] = st[1][c - 1 - i];
    if (i < c - 1) p->rows *= p->dim[i];
  }
  p->inner = p->dim[c - 1];
}

/* Offsets of row r in a and b. */
static inline void bplan_row(const bplan *p, int64_t r, int64_t off[2]) {
  off[0] = off[1] = 0;
  for (int d = p->nd - 2; d >= 0; d--) {
    int64_t i = r % p->dim[d];
    r /= p->dim[d];
    off[0] += i * p->st[0][d];
    off[1] += i * p->st[1][d];
  }
}

/* ---- elementwise kernels ---- */

static inline float bin_f(int kind, float a, float b) {
  switch (kind) {
    case LMO_ADD: return a + b;
    case LMO_SUB: return a - b;
    case LMO_MUL: return a * b;
    case LMO_DIV: return a / b;
    case LMO_MAXIMUM: return a >= b ? a : b;
    default: return a <= b ? a : b;
  }
}

/* d y / d operand k, times dy. Ties go to a, as in TensorFlow. */
static inline float bin_d(int kind, int k, float dy, float a, float b) {
  switch (kind) {
    case LMO_ADD: return dy;
    case LMO_SUB: return k ? -dy : dy;
    case LMO_MUL: return k ? dy * a : dy * b;
    case LMO_DIV: return k ? -dy * a / (b * b) : dy / b;
    case LMO_MAXIMUM: return (a >= b) == (k == 0) ? dy : 0.0f;
    default: return (a <= b) == (k == 0) ? dy : 0.0f;
  }
}

/* Inner strides are 0 (broadcast) or 1, so each span is one of four simple
 * loops over restrict pointers, which the compiler vectorises. */
#define SPAN4(STMT)                                     \
  do {                                                  \
    if (sa && sb)                                       \
      for (int64_t i = 0; i < n; i++) STMT(a[i], b[i]); \
    else if (sa)                                        \
      for (int64_t i = 0; i < n; i++) STMT(a[i], b0);   \
    else if (sb)                                        \
      for (int64_t i = 0; i < n; i++) STMT(a0, b[i]);   \
    else                                                \
      for (int64_t i = 0; i < n; i++) STMT(a0, b0);     \
  } while (0)

static inline void fwd_span_k(int kind, int64_t n, const float *restrict a, int64_t sa,
                              const float *restrict b, int64_t sb, float *restrict y) {
  if (n <= 0) return;
  const float a0 = a[0], b0 = b[0];
#define FWD(x, z) y[i] = bin_f(kind, x, z)
  SPAN4(FWD);
#undef FWD
}

/* The switch outside the loop lets the compiler specialise each kind. */
static void fwd_span(int kind, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                     float *y) {
  switch (kind) {
    case LMO_ADD: fwd_span_k(LMO_ADD, n, a, sa, b, sb, y); break;
    case LMO_SUB: fwd_span_k(LMO_SUB, n, a, sa, b, sb, y); break;
    case LMO_MUL: fwd_span_k(LMO_MUL, n, a, sa, b, sb, y); break;
    case LMO_DIV: fwd_span_k(LMO_DIV, n, a, sa, b, sb, y); break;
    case LMO_MAXIMUM: fwd_span_k(LMO_MAXIMUM, n, a, sa, b, sb, y); break;
    default: fwd_span_k(LMO_MINIMUM, n, a, sa, b, sb, y); break;
  }
}

/* gk[i * sg] += term over a span; sg 0 sums the span into gk[0]. */
static inline void bwd_span_k(int kind, int k, int64_t n, const float *restrict dy,
                              const float *restrict a, int64_t sa, const float *restrict b,
                              int64_t sb, float *restrict gk, int64_t sg) {
  if (n <= 0) return;
  const float a0 = a[0], b0 = b[0];
  if (sg) {
#define BWD(x, z) gk[i] += bin_d(kind, k, dy[i], x, z)
    SPAN4(BWD);
#undef BWD
  } else {
    double s = 0.0;
#define SUM(x, z) s += bin_d(kind, k, dy[i], x, z)
    SPAN4(SUM);
#undef SUM
    gk[0] += (float)s;
  }
}

static void bwd_span(int kind, int k, int64_t n, const float *dy, const float *a, int64_t sa,
                     const float *b, int64_t sb, float *gk, int64_t sg) {
  switch (kind) {
    case LMO_ADD: bwd_span_k(LMO_ADD, k, n, dy, a, sa, b, sb, gk, sg); break;
    case LMO_SUB: bwd_span_k(LMO_SUB, k, n, dy, a, sa, b, sb, gk, sg); break;
    case LMO_MUL: bwd_span_k(LMO_MUL, k, n, dy, a, sa, b, sb, gk, sg); break;
    case LMO_DIV: bwd_span_k(LMO_DIV, k, n, dy, a, sa, b, sb, gk, sg); break;
    case LMO_MAXIMUM: bwd_span_k(LMO_MAXIMUM, k, n, dy, a, sa, b, sb, gk, sg); break;
    default: bwd_span_k(LMO_MINIMUM, k, n, dy, a, sa, b, sb, gk, sg); break;
  }
}

enum { SPAN = 8192, COLS = 256 };

static void binary_forward(lmg_graph *g, lmg_node *n) {
  const lmg_node *a = lmg_in(g, n, 0), *b = lmg_in(g, n, 1);
  bplan p;
  bplan_make(&p, n, a, b);
  int kind = n->iarg[0], last = p.nd - 1;
  int64_t sa = p.st[0][last], sb = p.st[1][last];
  int64_t cpr = (p.inner + SPAN - 1) / SPAN, items = p.rows * cpr;
  const float *av = a->val, *bv = b->val;
  float *y = n->val;
  LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
  for (int64_t it = 0; it < items; it++) {
    int64_t r = it / cpr, c0 = (it % cpr) * SPAN;
    int64_t len = p.inner - c0 < SPAN ? p.inner - c0 : SPAN, off[2];
    bplan_row(&p, r, off);
    fwd_span(kind, len, av + off[0] + c0 * sa, sa, bv + off[1] + c0 * sb, sb, y + r * p.inner + c0);
  }
}

static void backward_operand(lmg_graph *g, lmg_node *n, const bplan *p, int k) {
  const lmg_node *a = lmg_in(g, n, 0), *b = lmg_in(g, n, 1);
  float *gk = lmg_in(g, n, k)->grad;
  if (!gk) return;
  int kind = n->iarg[0], last = p->nd - 1;
  int64_t sa = p->st[0][last], sb = p->st[1][last], sg = p->st[k][last];
  const float *av = a->val, *bv = b->val, *dy = n->grad;
  bool outer_full = true, outer_zero = true;
  for (int d = 0; d < last; d++) {
    if (p->st[k][d])
      outer_zero = false;
    else
      outer_full = false;
  }
  if (outer_full) {
    /* every row owns its part of gk; split rows into spans when gk steps */
    int64_t span = sg ? SPAN : (p->inner ? p->inner : 1);
    int64_t cpr = (p->inner + span - 1) / span, items = p->rows * cpr;
    LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
    for (int64_t it = 0; it < items; it++) {
      int64_t r = it / cpr, c0 = (it % cpr) * span;
      int64_t len = p->inner - c0 < span ? p->inner - c0 : span, off[2];
      bplan_row(p, r, off);
      bwd_span(kind, k, len, dy + r * p->inner + c0, av + off[0] + c0 * sa, sa,
               bv + off[1] + c0 * sb, sb, gk + off[k] + c0 * sg, sg);
    }
  } else if (outer_zero && sg == 1) {
    /* bias-like: gk is one row shared by all rows; columns are independent
     * and each sums its rows in order */
    int64_t n_blk = (p->inner + COLS - 1) / COLS;
    LMO_PAR_FOR(g->threads, n->size > LMO_PAR_MIN)
    for (int64_t bi = 0; bi < n_blk; bi++) {
      int64_t c0 = bi * COLS, len = p->inner - c0 < COLS ? p->inner - c0 : COLS, off[2];
      for (int64_t r = 0; r < p->rows; r++) {
        bplan_row(p, r, off);
        bwd_span(kind, k, len, dy + r * p->inner + c0, av + off[0] + c0 * sa, sa,
                 bv + off[1] + c0 * sb, sb, gk + c0, 1);
      }
    }
  } else {
    for (int64_t r = 0; r < p->rows; r++) {
      int64_t off[2];
      bplan_row(p, r, off);
      bwd_span(kind, k, p->inner, dy + r * p->inner, av + off[0], sa, bv + off[1], sb, gk + off[k],
               sg);
    }
  }
}

static void binary_backward(lmg_graph *g, lmg_node *n) {
  bplan p;
  bplan_make(&p, n, lmg_in(g, n, 0), lmg_in(g, n, 1));
  backward_operand(g, n, &p, 0);
  backward_operand(g, n, &p, 1);
}

const lm_op lmo_op_binary = {"binary", binary_infer, binary_forward, binary_backward, NULL};

int lmo_binary(lmg_graph *g, int kind, int a, int b) {
  lmg_node init = {0};
  init.iarg[0] = kind;
  int in[2] = {a, b};
  return lmg_op(g, &lmo_op_binary, 2, in, &init);
}
