/* Training and batch-1 inference throughput of the lecture's SeparableConv2D
 * classifier: lamina's side of shared/bench/peers/sepconv.py.
 *
 *   bench_sepconv [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]
 *                 [--train-only]
 *
 * Input(64, 64, 3) -> SeparableConv2D(32, 3, relu) -> SeparableConv2D(64, 3, relu)
 * -> MaxPooling2D(2) -> SeparableConv2D(64, 3, relu) -> SeparableConv2D(128, 3, relu)
 * -> MaxPooling2D(2) -> SeparableConv2D(64, 3, relu) -> SeparableConv2D(128, 3, relu)
 * -> GlobalAveragePooling2D -> Dense(32, relu) -> Dense(10, softmax); 'valid'
 * padding; categorical_crossentropy, RMSprop(lr 1e-3, rho 0.9, eps 1e-7), batch
 * 32, 4 synthetic batches (uniform x, random one-hot y) cycled through
 * lm_model_train_on_batch. After W warmup steps, R timed windows of S steps:
 * train_samples_per_sec is the median window, _best the fastest. Then batch-1
 * predict latency (median of 200 calls after 20 warmup).
 *
 * Prints one JSON line with the peer's keys (see bench/mlp.c for
 * other_cpu_pct and train_step_cpu_ms). LAMINA_PROFILE=1 adds the per-op profile;
 * --train-only skips the batch-1 inference (its keys are null), so the
 * profile shows training steps only. */
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

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME] "
          "[--train-only]\n"
          "  defaults: threads 2, steps 20, repeats 3, warmup 5, config t<N>\n",
          argv0);
}

static int fail(lm_ctx *ctx, const char *what) {
  fprintf(stderr, "bench_sepconv: %s: %s\n", what, lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

enum { BATCH = 32, NB = 4, HW = 64, CH = 3, OUT = 10, N_INFER = 200 };

static lm_sym *sep(lm_ctx *ctx, lm_sym *x, int filters) {
  return lm_layer_call(
      lm_layer_separable_conv2d(ctx, filters, 3, 3, &(lm_separable_opts){.activation = "relu"}), x);
}

/* Analytic forward FLOPs per sample (2 per multiply-add), conv and dense
 * layers only, as the peer's count_fwd_flops. */
static double fwd_flops(void) {
  double f = 0;
  int hw = HW;
  const int cin[6] = {3, 32, 64, 64, 128, 64}, cout[6] = {32, 64, 64, 128, 64, 128};
  for (int i = 0; i < 6; i++) {
    hw -= 2;
    f += 2.0 * hw * hw * (9.0 * cin[i] + (double)cin[i] * cout[i]);
    if (i == 1 || i == 3) hw /= 2;
  }
  return f + 2.0 * (128.0 * 32 + 32.0 * OUT);
}

int main(int argc, char **argv) {
  int threads = 2, steps = 20, repeats = 3, warmup = 5, train_only = 0;
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    int *dst = NULL, lo = 1;
    if (!strcmp(argv[i], "--threads"))
      dst = &threads;
    else if (!strcmp(argv[i], "--steps"))
      dst = &steps;
    else if (!strcmp(argv[i], "--repeats"))
      dst = &repeats;
    else if (!strcmp(argv[i], "--warmup"))
      dst = &warmup, lo = 0;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      config = argv[++i];
      continue;
    } else if (!strcmp(argv[i], "--train-only")) {
      train_only = 1;
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
    fprintf(stderr, "bench_sepconv: out of memory\n");
    return 1;
  }
  lm_ctx_set_seed(ctx, 0);
  lm_ctx_set_threads(ctx, threads);

  int64_t in_shape[3] = {HW, HW, CH};
  lm_sym *x = lm_input(ctx, 3, in_shape, LM_FLOAT32, NULL);
  lm_sym *h = sep(ctx, sep(ctx, x, 32), 64);
  h = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), h);
  h = sep(ctx, sep(ctx, h, 64), 128);
  h = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), h);
  h = sep(ctx, sep(ctx, h, 64), 128);
  h = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), h);
  h = lm_layer_call(lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}), h);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, OUT, &(lm_dense_opts){.activation = "softmax"}), h);
  lm_model *model = lm_model_new(ctx, 1, &x, 1, &y, "sepconv");
  if (!model) return fail(ctx, "building the model");
  lm_optimizer *opt =
      lm_optimizer_rmsprop(ctx, &(lm_optimizer_opts){.lr = 1e-3f, .rho = 0.9f, .epsilon = 1e-7f});
  if (!opt) return fail(ctx, "RMSprop");
  const char *loss = "categorical_crossentropy";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss};
  if (lm_model_compile(model, &co)) return fail(ctx, "compile");

  lm_tensor *xs[NB], *ys[NB];
  lm_data dx[NB], dy[NB];
  int64_t xshape[4] = {BATCH, HW, HW, CH}, yshape[2] = {BATCH, OUT};
  for (int b = 0; b < NB; b++) {
    xs[b] = lm_tensor_new(ctx, LM_FLOAT32, 4, xshape);
    ys[b] = lm_tensor_new(ctx, LM_FLOAT32, 2, yshape);
    if (!xs[b] || !ys[b]) return fail(ctx, "tensors");
    float *xv = lm_tensor_f32(xs[b]), *yv = lm_tensor_f32(ys[b]);
    for (int64_t k = 0; k < lm_tensor_size(xs[b]); k++) xv[k] = (float)rng_uniform();
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
  double *wins = malloc(sizeof(double) * (size_t)(repeats > N_INFER ? repeats : N_INFER));
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

  /* batch-1 inference latency */
  int64_t x1shape[4] = {1, HW, HW, CH};
  lm_tensor *x1 = lm_tensor_new(ctx, LM_FLOAT32, 4, x1shape);
  if (!x1) return fail(ctx, "tensors");
  for (int64_t k = 0; k < lm_tensor_size(x1); k++) lm_tensor_f32(x1)[k] = (float)rng_uniform();
  lm_data d1 = {1, &x1, NULL};
  for (int i = 0; i < (train_only ? 0 : 20 + N_INFER); i++) {
    lm_tensor *p = NULL;
    double t0 = now_s();
    if (lm_model_predict(model, &d1, 1, &p)) return fail(ctx, "predict");
    if (i >= 20) wins[i - 20] = now_s() - t0;
    lm_tensor_free(p);
  }
  double lat1 = train_only ? NAN : median(wins, N_INFER);
  free(wins);
  char b1s[32] = "null", b1l[32] = "null", b1g[32] = "null";
  if (!train_only) {
    snprintf(b1s, sizeof b1s, "%.1f", 1.0 / lat1);
    snprintf(b1l, sizeof b1l, "%.4f", 1e3 * lat1);
    snprintf(b1g, sizeof b1g, "%.3f", fwd_flops() / lat1 / 1e9);
  }

  double fwd = fwd_flops(), sps = (double)steps * BATCH / med;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf(
      "{\"config\": \"%s\", \"bench\": \"sepconv\", \"framework\": \"lamina\", "
      "\"lamina_version\": \"%s\", \"threads\": %d, \"steps\": %d, \"repeats\": %d, "
      "\"warmup\": %d, \"batch\": %d, \"train_samples_per_sec\": %.1f, "
      "\"train_samples_per_sec_best\": %.1f, \"train_step_ms\": %.4f, "
      "\"train_step_cpu_ms\": %.4f, \"infer_b1_samples_per_sec\": %s, "
      "\"infer_b1_latency_ms\": %s, \"fwd_flops_per_sample\": %.1f, "
      "\"train_gflops_per_sec\": %.3f, \"infer_b1_gflops_per_sec\": %s, "
      "\"loss_start\": %.4f, \"loss_end\": %.4f, \"peak_rss_mb\": %.1f, "
      "\"timed_wall_s\": %.2f, \"other_cpu_pct\": %.1f}\n",
      config, LAMINA_VERSION, lm_ctx_threads(ctx), steps, repeats, warmup, BATCH, sps,
      (double)steps * BATCH / best, 1e3 * med / steps, 1e3 * own_cpu / ((double)steps * repeats),
      b1s, b1l, fwd, sps * 3.0 * fwd / 1e9, b1g, loss_start, loss_end,
      (double)ru.ru_maxrss / 1024.0, wall, wall > 0 ? 100.0 * other / wall : 0.0);
  fflush(stdout);
  lm_model_free(model);
  lm_ctx_free(ctx);
  return 0;
}
