/* sgemm throughput: lmk_sgemm (BLAS when built with it) and the portable gemm (best and
 * generic microkernels), 1 and 2 threads, on shapes from shared/reference/perf-baselines.md.
 *
 *   bench_gemm [--json] [--ms N] [--samples N] [--only TEXT]
 *
 * --only runs the shapes whose name contains TEXT.
 * Each cell is best (median) GFLOP/s over samples of at least N ms (default 100 ms, 7 samples).
 * The machine is shared, so a sample counts only when other processes used under a quarter of
 * a core during it (from /proc/stat); after 10x the samples asked for it takes what it has and
 * says how many were clean.
 * With --json, one JSON line per cell: {"bench":"gemm","impl":...,"threads":...,"M":...}. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"


typedef struct shape {
  const char *name;
  bool ta, tb;
  int M, N, K;
} shape;

static const shape SHAPES[] = {
    {"mlp layer b128", false, false, 128, 32, 64},
    {"lstm gates b128", false, false, 128, 128, 96},
    {"square 256", false, false, 256, 256, 256},
    {"square 512", false, false, 512, 512, 512},
    {"square 512 TN", true, false, 512, 512, 512},
    {"square 512 NT", false, true, 512, 512, 512},
    {"cnn conv2 b64", false, false, 64, 7744, 288},
    {"M64 N784 K288", false, false, 64, 784, 288},
    {"NHWC 25088x64x288", false, false, 25088, 64, 288},
    {"yolo conv7", false, false, 1024, 169, 4608},
    {"cnn conv1 K=9", false, false, 32, 43264, 9},
};

typedef struct impl {
  const char *name;
  bool portable;
  int kernel;
} impl;

/* "lmk_sgemm" is OpenBLAS when the library was built with it (LAMINA_BLAS=ON), else the
 * portable gemm again. */
static const impl IMPLS[] = {
    {"lmk_sgemm", false, 0},
    {"portable", true, 0},
    {"portable-generic", true, 1},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* CPU seconds all processes have used (from /proc/stat), or -1 if unknown. */
static double machine_busy_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 7) return -1;
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)sysconf(_SC_CLK_TCK);
}

static double process_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void call(const impl *im, const shape *s, const float *A, const float *B, float *C) {
  int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
  (im->portable ? lmk_sgemm_portable : lmk_sgemm)(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B,
                                                  ldb, 0.0f, C, s->N);
}

/* Returns how many of the samples were clean. */
static int run(const impl *im, const shape *s, const float *A, const float *B, float *C,
               double min_s, int samples, double *best, double *median) {
  double flop = 2.0 * s->M * s->N * s->K, gf[64];
  int n = 0, clean = 0;
  lmk_gemm_set_mode(im->kernel);
  for (int r = 0; r < 2; r++) call(im, s, A, B, C); /* caches, packing buffers, thread pool */
  for (int tries = 0; clean < samples && tries < 10 * samples; tries++) {
    long reps = 0;
    double busy0 = machine_busy_s(), cpu0 = process_cpu_s(), t0 = lmk_now(), t;
    do {
      call(im, s, A, B, C);
      reps++;
      t = lmk_now() - t0;
    } while (t < min_s);
    double other = machine_busy_s() - busy0 - (process_cpu_s() - cpu0);
    bool ok = busy0 < 0 || other < 0.25 * t;
    double g = flop * reps / t * 1e-9;
    if (ok && clean == 0) n = 0; /* the first clean sample drops the noisy ones */
    if ((ok || clean == 0) && n < samples) gf[n++] = g;
    clean += ok;
  }
  lmk_gemm_set_mode(0);
  qsort(gf, (size_t)n, sizeof gf[0], cmp_double);
  *best = gf[n - 1];
  *median = gf[n / 2];
  return clean;
}

int main(int argc, char **argv) {
  bool json = false;
  double min_s = 0.1;
  int samples = 7;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = true;
    else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
      min_s = atof(argv[++i]) * 1e-3;
    else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
      samples = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--json] [--ms N] [--samples N] [--only TEXT]\n", argv[0]);
      return 2;
    }
  }
  if (samples < 1) samples = 1;
  if (samples > 64) samples = 64;
  size_t n_impl = sizeof IMPLS / sizeof IMPLS[0], n_shape = sizeof SHAPES / sizeof SHAPES[0];
  if (!json) {
    printf("%-20s %6s %6s %6s", "shape", "M", "N", "K");
    for (size_t i = 0; i < n_impl; i++) printf(" %13s 1t %13s 2t", IMPLS[i].name, IMPLS[i].name);
    printf("\n");
  }
  for (size_t si = 0; si < n_shape; si++) {
    const shape *s = &SHAPES[si];
    if (only && !strstr(s->name, only)) continue;
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    if (!A || !B || !C) return 1;
    for (size_t i = 0; i < na; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < nb; i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    if (!json) printf("%-20s %6d %6d %6d", s->name, s->M, s->N, s->K);
    for (size_t ii = 0; ii < n_impl; ii++)
      for (int nt = 1; nt <= 2; nt++) {
        double best, median;
        lmk_set_threads(nt);
        int clean = run(&IMPLS[ii], s, A, B, C, min_s, samples, &best, &median);
        if (json)
          printf("{\"bench\":\"gemm\",\"shape\":\"%s\",\"impl\":\"%s\",\"threads\":%d,\"M\":%d,"
                 "\"N\":%d,\"K\":%d,\"ta\":%d,\"tb\":%d,\"gflops_best\":%.1f,"
                 "\"gflops_median\":%.1f,\"clean_samples\":%d}\n",
                 s->name, IMPLS[ii].name, nt, s->M, s->N, s->K, s->ta, s->tb, best, median, clean);
        else
          printf("   %6.1f (%5.1f)%c", best, median, clean < samples ? '*' : ' ');
        fflush(stdout);
      }
    if (!json) printf("\n");
    free(A), free(B), free(C);
  }
  if (!json) printf("best (median) GFLOP/s; * = fewer clean samples than asked for\n");
  return 0;
}
