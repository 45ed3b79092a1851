/* Training throughput of a small MLP: lamina's side of shared/bench/peers/mlp.py.
 *
 *   bench_mlp [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]
 *
 * Input(64) -> Dense(32, relu) -> Dense(32, relu) -> Dense(10, softmax),
 * categorical_crossentropy, RMSprop(lr=1e-3, rho=0.9, epsilon=1e-7), batch 128,
 * 16 distinct synthetic batches (x ~ N(0, 1), one-hot y with uniform random classes)
 * cycled through lm_model_train_on_batch. After W warmup steps, R timed windows of
 * S steps each: train_samples_per_sec is the median window, _best the fastest.
 *
 * Prints exactly one JSON line (the only stdout line starting with '{'), with the
 * same keys as the PyTorch peer. With LAMINA_PROFILE=1 the library's per-op profile
 * table follows it (printed when the model is freed).
 *
 * other_cpu_pct follows shared/bench/peers/_common.py: over the timed windows, the
 * machine's busy CPU time (/proc/stat, all but idle and iowait) minus this process'
 * CPU time, as a percentage of one core. Above ~5 the numbers are disturbed.
 * train_step_cpu_ms (an extra key) is this process' CPU time per timed step, all threads
 * together (spinning OpenMP workers included): on a busy host it is a steadier measure of
 * the work than the wall time, at 1 thread. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "lamina.h"

enum { BATCH = 128, NB = 16, IN = 64, H1 = 32, H2 = 32, OUT = 10 };

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]\n"
          "  defaults: threads 2, steps 200, repeats 10, warmup 20, config t<N>\n",
          argv0);
}

static int fail(lm_ctx *ctx, const char *what) {
  fprintf(stderr, "bench_mlp: %s: %s\n", what, lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

int main(int argc, char **argv) {
  int threads = 2, steps = 200, repeats = 10, warmup = 20;
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    int *dst = NULL, lo = 1;
    if (!strcmp(argv[i], "--threads")) dst = &threads;
    else if (!strcmp(argv[i], "--steps")) dst = &steps;
    else if (!strcmp(argv[i], "--repeats")) dst = &repeats;
    else if (!strcmp(argv[i], "--warmup")) dst = &warmup, lo = 0;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      config = argv[++i];
      continue;
    } else {
      usage(argv[0]);
      return 2;
    }
    if (i + 1 >= argc || parse_int(argv[++i], lo, dst)) {
      usage(argv[0]);
      return 2;
    }
  }
  char config_buf[32];
  if (!config) {
    snprintf(config_buf, sizeof config_buf, "t%d", threads);
    config = config_buf;
  }

  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) {
    fprintf(stderr, "bench_mlp: out of memory\n");
    return 1;
  }
  lm_ctx_set_seed(ctx, 0);
  lm_ctx_set_threads(ctx, threads); /* before compile: the graph takes the count then */

  /* the model */
  int64_t in_shape[1] = {IN};
  lm_sym *x = lm_input(ctx, 1, in_shape, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, H1, &(lm_dense_opts){.activation = "relu"}), x);
  h = lm_layer_call(lm_layer_dense(ctx, H2, &(lm_dense_opts){.activation = "relu"}), h);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, OUT, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *model = lm_model_new(ctx, 1, &x, 1, &y, "mlp");
  if (!model) return fail(ctx, "building the model");
  lm_optimizer *opt =
      lm_optimizer_rmsprop(ctx, &(lm_optimizer_opts){.lr = 1e-3f, .rho = 0.9f, .epsilon = 1e-7f});
  if (!opt) return fail(ctx, "RMSprop");
  const char *loss = "categorical_crossentropy";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss};
  if (lm_model_compile(model, &co)) return fail(ctx, "compile");

  /* 16 synthetic batches, made once; train_on_batch copies them into the graph */
  lm_tensor *xs[NB], *ys[NB];
  lm_data dx[NB], dy[NB];
  int64_t xshape[2] = {BATCH, IN}, yshape[2] = {BATCH, OUT};
  for (int b = 0; b < NB; b++) {
    xs[b] = lm_tensor_new(ctx, LM_FLOAT32, 2, xshape);
    ys[b] = lm_tensor_new(ctx, LM_FLOAT32, 2, yshape);
    if (!xs[b] || !ys[b]) return fail(ctx, "tensors");
    float *xv = lm_tensor_f32(xs[b]), *yv = lm_tensor_f32(ys[b]);
    for (int k = 0; k < BATCH * IN; k++) xv[k] = rng_normal();
    for (int r = 0; r < BATCH; r++) yv[r * OUT + (int)(rng_next() % OUT)] = 1.0f;
    dx[b] = (lm_data){1, &xs[b], NULL};
    dy[b] = (lm_data){1, &ys[b], NULL};
  }

  double loss_start = NAN, loss_end = NAN, logs[8];
  long step = 0;
  for (int i = 0; i < warmup; i++, step++) {
    if (lm_model_train_on_batch(model, &dx[step % NB], &dy[step % NB], logs))
      return fail(ctx, "train_on_batch");
    if (i == 0) loss_start = logs[0];
  }

  double *wins = malloc(sizeof(double) * (size_t)repeats);
  if (!wins) return fail(ctx, "malloc");
  double b0 = busy_s(), c0 = cpu_s(), w0 = now_s();
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    for (int i = 0; i < steps; i++, step++)
      if (lm_model_train_on_batch(model, &dx[step % NB], &dy[step % NB], NULL))
        return fail(ctx, "train_on_batch");
    wins[r] = now_s() - t0;
  }
  double wall = now_s() - w0;
  double own_cpu = cpu_s() - c0;
  double other = (busy_s() - b0) - own_cpu;
  if (other < 0) other = 0;
  if (lm_model_train_on_batch(model, &dx[step % NB], &dy[step % NB], logs))
    return fail(ctx, "train_on_batch");
  loss_end = logs[0];
  if (isnan(loss_start)) loss_start = loss_end;

  double best = wins[0];
  for (int r = 1; r < repeats; r++)
    if (wins[r] < best) best = wins[r];
  double med = median(wins, repeats);
  free(wins);

  double fwd = 2.0 * ((double)IN * H1 + (double)H1 * H2 + (double)H2 * OUT);
  double sps = (double)steps * BATCH / med;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"config\": \"%s\", \"bench\": \"mlp\", \"framework\": \"lamina\", "
         "\"lamina_version\": \"%s\", \"threads\": %d, \"steps\": %d, \"repeats\": %d, "
         "\"warmup\": %d, \"batch\": %d, \"train_samples_per_sec\": %.1f, "
         "\"train_samples_per_sec_best\": %.1f, \"train_step_ms\": %.4f, "
         "\"train_step_cpu_ms\": %.4f, "
         "\"fwd_flops_per_sample\": %.1f, \"train_gflops_per_sec\": %.3f, "
         "\"loss_start\": %.4f, \"loss_end\": %.4f, \"peak_rss_mb\": %.1f, "
         "\"timed_wall_s\": %.2f, \"other_cpu_pct\": %.1f}\n",
         config, LAMINA_VERSION, lm_ctx_threads(ctx), steps, repeats, warmup, BATCH, sps,
         (double)steps * BATCH / best, 1e3 * med / steps,
         1e3 * own_cpu / ((double)steps * repeats), fwd, sps * 3.0 * fwd / 1e9, loss_start,
         loss_end, (double)ru.ru_maxrss / 1024.0, wall, wall > 0 ? 100.0 * other / wall : 0.0);
  fflush(stdout);

  /* Freeing the model prints the per-op profile when LAMINA_PROFILE=1. */
  lm_model_free(model);
  lm_ctx_free(ctx);
  return 0;
}
