/* The trial store: one SQLite file per study (":memory:" without a file).
 * Writers take the lock up front (BEGIN IMMEDIATE) and wait on a busy
 * timeout, so several processes can share a study. */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tune/tune.h"

struct lmh_store {
  lm_ctx *ctx;
  sqlite3 *db;
};

double lmh_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lm_status db_fail(lmh_store *s, const char *what) {
  return lm_fail(s->ctx, LM_ERR_IO, "study store: %s: %s", what, sqlite3_errmsg(s->db));
}

static lm_status exec(lmh_store *s, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
    lm_fail(s->ctx, LM_ERR_IO, "study store: %s", err ? err : sqlite3_errmsg(s->db));
    sqlite3_free(err);
    return LM_ERR_IO;
  }
  return LM_OK;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS study(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS trials(number INTEGER PRIMARY KEY, status INTEGER NOT NULL,"
    " value REAL, params TEXT NOT NULL, t_start REAL, t_end REAL, pid INTEGER);"
    "CREATE TABLE IF NOT EXISTS steps(number INTEGER NOT NULL, step INTEGER NOT NULL,"
    " value REAL, PRIMARY KEY(number, step));";

static lm_status check_signature(lmh_store *s, const char *sig) {
  sqlite3_stmt *q = NULL;
  lm_status st = LM_OK;
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM study WHERE key='space'", -1, &q, NULL))
    return db_fail(s, "reading the study");
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    const char *have = (const char *)sqlite3_column_text(q, 0);
    if (!have || strcmp(have, sig) != 0)
      st = lm_fail(s->ctx, LM_ERR_FORMAT, "the study file was made for a different search "
                   "space (stored: %.200s)", have ? have : "");
    sqlite3_finalize(q);
    return st;
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return db_fail(s, "reading the study");
  if (sqlite3_prepare_v2(s->db, "INSERT INTO study(key, value) VALUES('space', ?)", -1, &q, NULL))
    return db_fail(s, "writing the study");
  sqlite3_bind_text(q, 1, sig, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(q) != SQLITE_DONE) st = db_fail(s, "writing the study");
  sqlite3_finalize(q);
  return st;
}

/* Waits on another worker's lock in 1 ms steps (SQLite's own timeout backs off
 * to 100 ms sleeps, which starves the waiting worker), up to a minute. */
static int busy_wait(void *ud, int n) {
  (void)ud;
  if (n >= 60000) return 0;
  nanosleep(&(struct timespec){0, 1000000}, NULL);
  return 1;
}

lmh_store *lmh_store_open(lm_ctx *ctx, const char *path, const char *signature) {
  lmh_store *s = lm_alloc(ctx, sizeof *s);
  if (!s) return NULL;
  s->ctx = ctx;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path ? path : ":memory:", &s->db, flags, NULL) != SQLITE_OK) {
    lm_fail(ctx, LM_ERR_IO, "cannot open study file %s: %s", path ? path : ":memory:",
            s->db ? sqlite3_errmsg(s->db) : "out of memory");
    lmh_store_close(s);
    return NULL;
  }
  sqlite3_busy_handler(s->db, busy_wait, NULL);
  if (exec(s, "PRAGMA synchronous=NORMAL") || lmh_store_begin(s)) goto fail;
  if (exec(s, schema) || check_signature(s, signature)) {
    lmh_store_rollback(s);
    goto fail;
  }
  if (lmh_store_commit(s)) goto fail;
  return s;
fail:
  if (path) { /* name the file: the SQLite message alone may not */
    char msg[sizeof ctx->errmsg];
    snprintf(msg, sizeof msg, "%s", lm_errmsg(ctx));
    lm_fail(ctx, lm_errcode(ctx) ? lm_errcode(ctx) : LM_ERR_IO, "%s: %s", path, msg);
  }
  lmh_store_close(s);
  return NULL;
}

void lmh_store_close(lmh_store *s) {
  if (!s) return;
  sqlite3_close(s->db);
  lm_dealloc(s->ctx, s);
}

lm_status lmh_store_begin(lmh_store *s) { return exec(s, "BEGIN IMMEDIATE"); }
lm_status lmh_store_commit(lmh_store *s) { return exec(s, "COMMIT"); }
void lmh_store_rollback(lmh_store *s) {
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void lmh_recs_free(lm_ctx *ctx, lmh_rec *recs, int n) {
  for (int i = 0; i < n; i++) {
    lm_dealloc(ctx, recs[i].x);
    lm_dealloc(ctx, recs[i].iv);
  }
  lm_dealloc(ctx, recs);
}

static lm_status parse_params(lm_ctx *ctx, const char *text, double *x, int n) {
  const char *p = text ? text : "";
  for (int i = 0; i < n; i++) {
    char *end;
    x[i] = strtod(p, &end);
    if (end == p) return lm_fail(ctx, LM_ERR_FORMAT, "study store: bad parameter list '%s'", text);
    p = end;
  }
  return LM_OK;
}

static lm_status load_steps(lmh_store *s, lmh_rec *recs, int n) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT number, step, value FROM steps ORDER BY number, step",
                         -1, &q, NULL))
    return db_fail(s, "reading steps");
  int rc, r = 0;
  lm_status st = LM_OK;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    int number = sqlite3_column_int(q, 0), step = sqlite3_column_int(q, 1);
    double v = sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 2);
    while (r < n && recs[r].number < number) r++;
    if (r == n || recs[r].number != number || step < 0 || step > 10000000) continue;
    lmh_rec *rec = &recs[r];
    if (step >= rec->n_iv) {
      int cap = step + 1 > 2 * rec->n_iv ? step + 1 : 2 * rec->n_iv;
      double *iv = lm_realloc(s->ctx, rec->iv, sizeof(double) * (size_t)cap);
      if (!iv) {
        st = LM_ERR_NOMEM;
        break;
      }
      for (int j = rec->n_iv; j < cap; j++) iv[j] = NAN;
      rec->iv = iv;
      rec->n_iv = cap;
    }
    rec->iv[step] = v;
  }
  if (!st && rc != SQLITE_DONE) st = db_fail(s, "reading steps");
  sqlite3_finalize(q);
  return st;
}

lm_status lmh_store_load(lmh_store *s, int n_params, lmh_rec **recs, int *n_recs, int *cap) {
  lmh_recs_free(s->ctx, *recs, *n_recs);
  *recs = NULL;
  *n_recs = *cap = 0;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT number, status, value, params, t_start, t_end, pid "
                         "FROM trials ORDER BY number", -1, &q, NULL))
    return db_fail(s, "reading trials");
  lm_status st = LM_OK;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if ((st = lm_grow(s->ctx, (void **)recs, cap, *n_recs + 1, sizeof **recs))) break;
    lmh_rec *r = &(*recs)[*n_recs];
    memset(r, 0, sizeof *r);
    r->x = lm_alloc(s->ctx, sizeof(double) * (size_t)(n_params ? n_params : 1));
    if (!r->x) {
      st = LM_ERR_NOMEM;
      break;
    }
    (*n_recs)++;
    r->number = sqlite3_column_int(q, 0);
    int status = sqlite3_column_int(q, 1);
    r->status = status >= 0 && status <= LM_TRIAL_ABANDONED ? (lm_trial_status)status
                                                            : LM_TRIAL_FAILED;
    r->loss = sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 2);
    r->t_start = sqlite3_column_double(q, 4);
    r->t_end = sqlite3_column_double(q, 5);
    r->pid = (long)sqlite3_column_int64(q, 6);
    if ((st = parse_params(s->ctx, (const char *)sqlite3_column_text(q, 3), r->x, n_params)))
      break;
  }
  if (!st && rc != SQLITE_DONE) st = db_fail(s, "reading trials");
  sqlite3_finalize(q);
  if (!st) st = load_steps(s, *recs, *n_recs);
  return st;
}

static lm_status run_stmt(lmh_store *s, const char *sql, const char *what, int n_int,
                          const long long *ints, int n_real, const double *reals,
                          const char *text) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL)) return db_fail(s, what);
  int k = 1;
  for (int i = 0; i < n_int; i++) sqlite3_bind_int64(q, k++, ints[i]);
  for (int i = 0; i < n_real; i++) {
    if (isnan(reals[i])) sqlite3_bind_null(q, k++);
    else sqlite3_bind_double(q, k++, reals[i]);
  }
  if (text) sqlite3_bind_text(q, k++, text, -1, SQLITE_TRANSIENT);
  lm_status st = sqlite3_step(q) == SQLITE_DONE ? LM_OK : db_fail(s, what);
  sqlite3_finalize(q);
  return st;
}

lm_status lmh_store_insert(lmh_store *s, int number, const double *x, int n_params, long pid,
                           double t_start) {
  lm_buf b;
  lm_buf_init(&b, s->ctx);
  for (int i = 0; i < n_params; i++) lm_buf_printf(&b, "%s%.17g", i ? " " : "", x[i]);
  if (b.oom) {
    lm_buf_free(&b);
    return lm_fail(s->ctx, LM_ERR_NOMEM, "out of memory");
  }
  long long ints[3] = {number, LM_TRIAL_RUNNING, pid};
  double reals[1] = {t_start};
  lm_status st = run_stmt(s, "INSERT INTO trials(number, status, pid, t_start, params) "
                          "VALUES(?, ?, ?, ?, ?)", "adding a trial", 3, ints, 1, reals,
                          b.data ? b.data : "");
  lm_buf_free(&b);
  return st;
}

lm_status lmh_store_finish(lmh_store *s, int number, lm_trial_status status, double loss,
                           double t_end) {
  long long key = number;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(s->db, "UPDATE trials SET status=?, value=?, t_end=? WHERE number=?",
                         -1, &q, NULL))
    return db_fail(s, "finishing a trial");
  sqlite3_bind_int(q, 1, (int)status);
  if (isnan(loss)) sqlite3_bind_null(q, 2);
  else sqlite3_bind_double(q, 2, loss);
  sqlite3_bind_double(q, 3, t_end);
  sqlite3_bind_int64(q, 4, key);
  lm_status st = sqlite3_step(q) == SQLITE_DONE ? LM_OK : db_fail(s, "finishing a trial");
  sqlite3_finalize(q);
  return st;
}

lm_status lmh_store_set_status(lmh_store *s, int number, lm_trial_status status) {
  long long ints[2] = {status, number};
  return run_stmt(s, "UPDATE trials SET status=? WHERE number=?", "updating a trial", 2, ints,
                  0, NULL, NULL);
}

lm_status lmh_store_step(lmh_store *s, int number, int step, double value) {
  long long ints[2] = {number, step};
  double reals[1] = {value};
  return run_stmt(s, "INSERT OR REPLACE INTO steps(number, step, value) VALUES(?, ?, ?)",
                  "recording a step", 2, ints, 1, reals, NULL);
}

char *lmh_store_signature(lm_ctx *ctx, const char *path) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  char *out = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    lm_fail(ctx, LM_ERR_IO, "cannot open study file %s: %s", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_handler(db, busy_wait, NULL);
  if (sqlite3_prepare_v2(db, "SELECT value FROM study WHERE key='space'", -1, &q, NULL) ||
      sqlite3_step(q) != SQLITE_ROW)
    lm_fail(ctx, LM_ERR_FORMAT, "%s is not a lamina study file (%s)", path, sqlite3_errmsg(db));
  else
    out = lm_strdup(ctx, (const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}
