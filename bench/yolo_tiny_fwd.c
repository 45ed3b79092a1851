/* The YOLOv2-tiny-like backbone of shared/bench/peers/yolo_tiny_fwd.py,
 * lamina's side: batch-1 inference latency on a 416x416x3 image.
 *
 *   bench_yolo_tiny_fwd [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]
 *
 * Input(416, 416, 3) -> 6 x [Conv2D(16 << i, 3, same, use_bias=False) ->
 * BatchNormalization -> LeakyReLU(0.1) -> MaxPooling2D(2)] (the sixth pool is
 * MaxPooling2D(2, strides 1, 'same'), 13x13 -> 13x13) -> 2 x [Conv2D(1024, 3,
 * same, use_bias=False) -> BatchNormalization -> LeakyReLU(0.1)] ->
 * Conv2D(125, 1) (linear, with bias). Moving statistics are non-trivial
 * (mean ~ U(-0.05, 0.05) through Keras' random_uniform, variance ones) so no
 * BatchNormalization is an identity.
 *
 * lamina has one inference path, lm_model_predict (BatchNormalization with the
 * moving statistics, folded into the convolution where the graph does that).
 * Its median latency over S calls after W warmup calls is reported as
 * median_ms and, for the peer's schema, under both eager_median_ms and
 * frozen_median_ms (PyTorch's eager module and its jit-frozen, BN-folded
 * one). R > 1 repeats the S calls and takes the median of all of them.
 * Prints one JSON line (plus peak_rss_mb); LAMINA_PROFILE=1 adds the per-op
 * table. */
#define _POSIX_C_SOURCE 200809L
#include "conv_bench.h"

enum { HW = 416 };

static int fail(lm_ctx *ctx, const char *what) {
  fprintf(stderr, "bench_yolo_tiny_fwd: %s: %s\n", what, lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

/* Conv2D(filters, k, same, no bias) -> BatchNormalization -> LeakyReLU(0.1) */
static lm_sym *cbl(lm_ctx *ctx, lm_sym *x, int filters) {
  lm_conv2d_opts co = {.padding = "same", .no_bias = true};
  lm_batchnorm_opts bo = {.moving_mean_initializer = "random_uniform"};
  x = lm_layer_call(lm_layer_conv2d(ctx, filters, 3, 3, &co), x);
  x = lm_layer_call(lm_layer_batch_normalization(ctx, &bo), x);
  return lm_layer_call(lm_layer_leaky_relu(ctx, 0.1f, NULL), x);
}

int main(int argc, char **argv) {
  cb_args a = {.threads = 2, .steps = 20, .repeats = 1, .warmup = 3};
  if (cb_parse(argc, argv, &a)) return 2;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_ctx_set_seed(ctx, 0);
  lm_ctx_set_threads(ctx, a.threads);
  int64_t in_shape[3] = {HW, HW, 3};
  lm_sym *in = lm_input(ctx, 3, in_shape, LM_FLOAT32, NULL);
  lm_sym *x = in;
  for (int i = 0; i < 6; i++) {
    x = cbl(ctx, x, 16 << i);
    lm_pool2d_opts po = {.strides = {i < 5 ? 2 : 1, i < 5 ? 2 : 1},
                         .padding = i < 5 ? "valid" : "same"};
    x = lm_layer_call(lm_layer_max_pooling2d(ctx, 2, 2, &po), x);
  }
  x = cbl(ctx, x, 1024);
  x = cbl(ctx, x, 1024);
  lm_sym *y = lm_layer_call(lm_layer_conv2d(ctx, 125, 1, 1, NULL), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, "yolo_tiny");
  if (!m) return fail(ctx, "building the model");
  /* inference only: predict needs no compile (the model's own inference plan) */

  int64_t xshape[4] = {1, HW, HW, 3};
  lm_tensor *xt = lm_tensor_new(ctx, LM_FLOAT32, 4, xshape);
  if (!xt) return fail(ctx, "tensors");
  for (int64_t k = 0; k < lm_tensor_size(xt); k++) lm_tensor_f32(xt)[k] = cb_uniform();
  lm_data dx = {1, &xt, NULL};

  lm_tensor *out = NULL;
  for (int i = 0; i < a.warmup; i++) {
    if (lm_model_predict(m, &dx, 1, &out)) return fail(ctx, "predict");
    lm_tensor_free(out);
  }
  int n = a.steps * a.repeats;
  double *ts = calloc((size_t)n, sizeof *ts);
  if (!ts) return fail(ctx, "out of memory");
  cb_region reg = {0};
  cb_begin(&reg);
  for (int i = 0; i < n; i++) {
    double t0 = cb_now();
    if (lm_model_predict(m, &dx, 1, &out)) return fail(ctx, "predict");
    ts[i] = cb_now() - t0;
    if (i + 1 < n) lm_tensor_free(out);
  }
  cb_end(&reg);
  double best = ts[0];
  for (int i = 1; i < n; i++)
    if (ts[i] < best) best = ts[i];
  double med = cb_median(ts, n);
  free(ts);
  /* sanity: the output is 13x13x125 and finite */
  double checksum = 0;
  for (int64_t k = 0; k < lm_tensor_size(out); k++) checksum += lm_tensor_f32(out)[k];
  int64_t out_size = lm_tensor_size(out);
  lm_tensor_free(out);

  /* 2 FLOP per multiply-accumulate, convolutions only (the peer's count) */
  double fwd = 0;
  int hw = HW, cin = 3;
  for (int i = 0; i < 8; i++) {
    int cout = i < 6 ? 16 << i : 1024;
    fwd += 2.0 * hw * hw * 9.0 * cin * cout;
    cin = cout;
    if (i < 5) hw /= 2;
  }
  fwd += 2.0 * hw * hw * cin * 125;
  printf("{\"config\": \"%s\", \"bench\": \"yolo_tiny_fwd\", \"framework\": \"lamina\", "
         "\"lamina_version\": \"%s\", \"threads\": %d, \"steps\": %d, \"repeats\": %d, "
         "\"warmup\": %d, \"batch\": 1, \"input\": \"416x416x3\", \"fwd_gflop\": %.4f, "
         "\"median_ms\": %.2f, \"min_ms\": %.2f, "
         "\"eager_median_ms\": %.2f, \"eager_min_ms\": %.2f, \"eager_gflops_per_sec\": %.2f, "
         "\"frozen_median_ms\": %.2f, \"frozen_min_ms\": %.2f, \"frozen_gflops_per_sec\": %.2f, "
         "\"output_size\": %lld, \"output_sum\": %.4g, \"peak_rss_mb\": %.1f, "
         "\"timed_wall_s\": %.2f, \"other_cpu_pct\": %.1f}\n",
         a.config, LAMINA_VERSION, lm_ctx_threads(ctx), a.steps, a.repeats, a.warmup, fwd / 1e9,
         1e3 * med, 1e3 * best, 1e3 * med, 1e3 * best, fwd / med / 1e9, 1e3 * med, 1e3 * best,
         fwd / med / 1e9, (long long)out_size, checksum, cb_peak_rss_mb(), reg.wall,
         cb_other_pct(&reg));
  fflush(stdout);
  lm_model_free(m);
  lm_ctx_free(ctx);
  return 0;
}
