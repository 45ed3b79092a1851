/* Helpers shared by bench/cnn.c and bench/resnet.c (lamina's side of
 * shared/bench/peers/cnn.py and resnet.py): clocks, the competing-load
 * measure of peers/_common.py (other_cpu_pct: the machine's busy CPU time
 * minus this process' CPU time over the timed regions, as % of one core),
 * fixed-seed synthetic data, medians and the common command line
 * [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]. */
#ifndef LAMINA_BENCH_CONV_H
#define LAMINA_BENCH_CONV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lamina.h"

static inline double cb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double cb_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double cb_busy(void) {
  static long hz;
  if (!hz) hz = sysconf(_SC_CLK_TCK);
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0.0;
  unsigned long long v[8] = {0};
  int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (got != 8 || hz <= 0) return 0.0;
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
}

/* Timed regions: accumulate wall time and other processes' CPU time. */
typedef struct cb_region {
  double wall, other, cpu, t0, c0, b0; /* cpu: this process' CPU seconds */
} cb_region;
static inline void cb_begin(cb_region *r) {
  r->b0 = cb_busy();
  r->c0 = cb_cpu();
  r->t0 = cb_now();
}
static inline void cb_end(cb_region *r) {
  double cpu = cb_cpu() - r->c0, wall = cb_now() - r->t0, other = (cb_busy() - r->b0) - cpu;
  r->wall += wall;
  r->cpu += cpu;
  r->other += other > 0 ? other : 0.0;
}
static inline double cb_other_pct(const cb_region *r) {
  return r->wall > 0 ? 100.0 * r->other / r->wall : 0.0;
}

static uint64_t cb_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t cb_next(void) {
  uint64_t z = (cb_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline float cb_uniform(void) { return (float)((double)(cb_next() >> 11) * 0x1.0p-53); }

static inline int cb_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static inline double cb_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cb_cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct cb_args {
  int threads, steps, repeats, warmup;
  int train_only; /* --train-only: skip the inference part (profiling) */
  char config[32];
} cb_args;

/* Parses the command line into a (defaults already set); -1 on a bad one. */
static inline int cb_parse(int argc, char **argv, cb_args *a) {
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    int *dst = NULL, lo = 1;
    if (!strcmp(argv[i], "--threads")) dst = &a->threads;
    else if (!strcmp(argv[i], "--steps")) dst = &a->steps;
    else if (!strcmp(argv[i], "--repeats")) dst = &a->repeats;
    else if (!strcmp(argv[i], "--warmup")) dst = &a->warmup, lo = 0;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      config = argv[++i];
      continue;
    } else if (!strcmp(argv[i], "--train-only")) {
      a->train_only = 1;
      continue;
    }
    if (!dst || i + 1 >= argc) goto bad;
    char *end;
    long v = strtol(argv[++i], &end, 10);
    if (*end || v < lo || v > 1000000000L) goto bad;
    *dst = (int)v;
  }
  if (config)
    snprintf(a->config, sizeof a->config, "%s", config);
  else
    snprintf(a->config, sizeof a->config, "t%d", a->threads);
  return 0;
bad:
  fprintf(stderr,
          "usage: %s [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME] "
          "[--train-only]\n"
          "  defaults: threads %d, steps %d, repeats %d, warmup %d, config t<N>\n",
          argv[0], a->threads, a->steps, a->repeats, a->warmup);
  return -1;
}

static inline double cb_peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

/* R windows of S train_on_batch steps over nb batches after W warmup steps:
 * median and best window seconds; -1 on error. */
static inline int cb_time_train(lm_model *m, int nb, lm_data *dx, lm_data *dy, const cb_args *a,
                         cb_region *reg, double *med, double *best, double *loss_end) {
  double logs[4];
  for (int i = 0; i < a->warmup; i++)
    if (lm_model_train_on_batch(m, &dx[i % nb], &dy[i % nb], logs)) return -1;
  double *wins = calloc((size_t)a->repeats, sizeof *wins);
  if (!wins) return -1;
  cb_begin(reg);
  for (int r = 0; r < a->repeats; r++) {
    double t0 = cb_now();
    for (int i = 0; i < a->steps; i++)
      if (lm_model_train_on_batch(m, &dx[i % nb], &dy[i % nb], logs)) {
        free(wins);
        return -1;
      }
    wins[r] = cb_now() - t0;
  }
  cb_end(reg);
  *loss_end = logs[0];
  *best = wins[0];
  for (int r = 1; r < a->repeats; r++)
    if (wins[r] < *best) *best = wins[r];
  *med = cb_median(wins, a->repeats);
  free(wins);
  return 0;
}

#endif
