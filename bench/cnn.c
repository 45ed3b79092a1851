/* The convnet of shared/bench/peers/cnn.py, lamina's side:
 *
 *   bench_cnn [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]
 *             [--train-only]
 *
 * Input(28, 28, 1) -> Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu)
 * -> MaxPooling2D -> Flatten -> Dense(128, relu) -> Dense(10, softmax), 'valid'
 * padding; Adam(lr 1e-3, epsilon 1e-7), sparse categorical crossentropy, batch
 * 64 over 8 synthetic batches (x ~ U[0, 1), random labels). Training: R windows
 * of S steps after W warmup steps (median and best window). Inference: predict
 * latency at batch 1 and throughput at batch 64. Prints one JSON line with
 * the peer's keys (plus peak_rss_mb, train_step_ms, train_step_cpu_ms);
 * LAMINA_PROFILE=1 adds the per-op table. --train-only skips the inference
 * part (its keys are null), so the profile shows training steps only. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "conv_bench.h"

enum { BATCH = 64, NB = 8 };

static int fail(lm_ctx *ctx, const char *what) {
  fprintf(stderr, "bench_cnn: %s: %s\n", what, lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

/* v formatted, or JSON null when it was not measured (NaN) */
static const char *num(char buf[32], const char *fmt, double v) {
  if (isnan(v)) return "null";
  snprintf(buf, 32, fmt, v);
  return buf;
}

static double median_predict(lm_model *m, lm_data *x, int batch, int warm, int iters,
                             cb_region *reg) {
  double *ts = calloc((size_t)iters, sizeof *ts);
  if (!ts) return -1;
  lm_tensor *out = NULL;
  for (int i = 0; i < warm; i++) {
    if (lm_model_predict(m, x, batch, &out)) goto bad;
    lm_tensor_free(out);
  }
  cb_begin(reg);
  for (int i = 0; i < iters; i++) {
    double t0 = cb_now();
    if (lm_model_predict(m, x, batch, &out)) goto bad;
    ts[i] = cb_now() - t0;
    lm_tensor_free(out);
  }
  cb_end(reg);
  double med = cb_median(ts, iters);
  free(ts);
  return med;
bad:
  free(ts);
  return -1;
}

int main(int argc, char **argv) {
  cb_args a = {.threads = 2, .steps = 50, .repeats = 3, .warmup = 5};
  if (cb_parse(argc, argv, &a)) return 2;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_ctx_set_seed(ctx, 0);
  lm_ctx_set_threads(ctx, a.threads);
  int64_t in_shape[3] = {28, 28, 1};
  lm_sym *in = lm_input(ctx, 3, in_shape, LM_FLOAT32, NULL);
  lm_conv2d_opts relu = {.activation = "relu"};
  lm_sym *x = lm_layer_call(lm_layer_conv2d(ctx, 32, 3, 3, &relu), in);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_conv2d(ctx, 64, 3, 3, &relu), x);
  x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, NULL), x);
  x = lm_layer_call(lm_layer_flatten(ctx, NULL), x);
  x = lm_layer_call(lm_layer_dense(ctx, 128, &(lm_dense_opts){.activation = "relu"}), x);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, "cnn");
  if (!m) return fail(ctx, "building the model");
  lm_optimizer *opt = lm_optimizer_adam(ctx, &(lm_optimizer_opts){.lr = 1e-3f, .epsilon = 1e-7f});
  const char *loss = "sparse_categorical_crossentropy";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss};
  if (!opt || lm_model_compile(m, &co)) return fail(ctx, "compile");

  lm_tensor *xs[NB], *ys[NB], *x1;
  lm_data dx[NB], dy[NB], d1;
  int64_t xshape[4] = {BATCH, 28, 28, 1}, yshape[1] = {BATCH}, x1shape[4] = {1, 28, 28, 1};
  for (int b = 0; b < NB; b++) {
    xs[b] = lm_tensor_new(ctx, LM_FLOAT32, 4, xshape);
    ys[b] = lm_tensor_new(ctx, LM_INT32, 1, yshape);
    if (!xs[b] || !ys[b]) return fail(ctx, "tensors");
    for (int64_t k = 0; k < lm_tensor_size(xs[b]); k++) lm_tensor_f32(xs[b])[k] = cb_uniform();
    for (int k = 0; k < BATCH; k++) lm_tensor_i32(ys[b])[k] = (int32_t)(cb_next() % 10);
    dx[b] = (lm_data){1, &xs[b], NULL};
    dy[b] = (lm_data){1, &ys[b], NULL};
  }
  x1 = lm_tensor_new(ctx, LM_FLOAT32, 4, x1shape);
  if (!x1) return fail(ctx, "tensors");
  for (int k = 0; k < 784; k++) lm_tensor_f32(x1)[k] = cb_uniform();
  d1 = (lm_data){1, &x1, NULL};

  cb_region reg = {0};
  double med, best, loss_end;
  if (cb_time_train(m, NB, dx, dy, &a, &reg, &med, &best, &loss_end)) return fail(ctx, "train");
  double train_cpu_ms = 1e3 * reg.cpu / ((double)a.steps * a.repeats);
  int iters1 = a.steps * 5 > 200 ? a.steps * 5 : 200, iters64 = a.steps > 50 ? a.steps : 50;
  double lat1 = NAN, lat64 = NAN; /* NaN prints as nan: --train-only (profiling) skips them */
  if (!a.train_only) {
    lat1 = median_predict(m, &d1, 1, 20, iters1, &reg);
    lat64 = median_predict(m, &dx[0], BATCH, 5, iters64, &reg);
    if (lat1 < 0 || lat64 < 0) return fail(ctx, "predict");
  }

  /* 2 FLOP per multiply-accumulate, convolutions and dense layers only */
  char b1s[32], b1l[32], b64s[32], b64g[32];
  double fwd = 2.0 * (26.0 * 26 * 32 * 9 + 11.0 * 11 * 64 * 288 + 1600.0 * 128 + 128.0 * 10);
  double sps = (double)a.steps * BATCH / med;
  printf("{\"config\": \"%s\", \"bench\": \"cnn\", \"framework\": \"lamina\", "
         "\"lamina_version\": \"%s\", \"threads\": %d, \"steps\": %d, \"repeats\": %d, "
         "\"warmup\": %d, \"batch\": %d, \"train_samples_per_sec\": %.1f, "
         "\"train_samples_per_sec_best\": %.1f, \"train_step_ms\": %.4f, "
         "\"train_step_cpu_ms\": %.4f, \"infer_b1_samples_per_sec\": %s, "
         "\"infer_b1_latency_ms\": %s, \"infer_b64_samples_per_sec\": %s, "
         "\"fwd_flops_per_sample\": %.1f, \"train_gflops_per_sec\": %.3f, "
         "\"infer_b64_gflops_per_sec\": %s, \"loss_end\": %.4f, \"peak_rss_mb\": %.1f, "
         "\"timed_wall_s\": %.2f, \"other_cpu_pct\": %.1f}\n",
         a.config, LAMINA_VERSION, lm_ctx_threads(ctx), a.steps, a.repeats, a.warmup, BATCH,
         sps, (double)a.steps * BATCH / best, 1e3 * med / a.steps, train_cpu_ms, num(b1s, "%.1f", 1.0 / lat1),
         num(b1l, "%.4f", 1e3 * lat1), num(b64s, "%.1f", BATCH / lat64), fwd, sps * 3.0 * fwd / 1e9,
         num(b64g, "%.3f", BATCH / lat64 * fwd / 1e9), loss_end, cb_peak_rss_mb(), reg.wall,
         cb_other_pct(&reg));
  fflush(stdout);
  lm_model_free(m); /* prints the profile when LAMINA_PROFILE=1 */
  lm_ctx_free(ctx);
  return 0;
}
