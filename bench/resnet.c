/* The residual stack of shared/bench/peers/resnet.py, lamina's side:
 *
 *   bench_resnet [--threads N] [--steps S] [--repeats R] [--warmup W] [--config NAME]
 *
 * Input(32, 32, 3) -> Conv2D(64, 3, same) -> 4 x [Conv2D(64, 3, same, relu) ->
 * BatchNormalization -> Conv2D(64, 3, same) -> BatchNormalization -> add block
 * input -> relu] -> GlobalAveragePooling2D -> Dense(10, softmax); SGD(lr 0.01,
 * momentum 0.9), sparse categorical crossentropy (the peer uses logits with
 * CrossEntropyLoss: the same work up to the softmax), batch 32 over 4
 * synthetic batches. Prints one JSON line with the peer's keys (plus
 * peak_rss_mb); LAMINA_PROFILE=1 adds the per-op table. */
#define _POSIX_C_SOURCE 200809L
#include "conv_bench.h"

enum { BATCH = 32, NB = 4, C = 64 };

static int fail(lm_ctx *ctx, const char *what) {
  fprintf(stderr, "bench_resnet: %s: %s\n", what, lm_errmsg(ctx));
  lm_ctx_free(ctx);
  return 1;
}

static lm_sym *block(lm_ctx *ctx, lm_sym *x) {
  lm_conv2d_opts relu = {.padding = "same", .activation = "relu"}, lin = {.padding = "same"};
  lm_sym *y = lm_layer_call(lm_layer_conv2d(ctx, C, 3, 3, &relu), x);
  y = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), y);
  y = lm_layer_call(lm_layer_conv2d(ctx, C, 3, 3, &lin), y);
  y = lm_layer_call(lm_layer_batch_normalization(ctx, NULL), y);
  lm_sym *xy[2] = {y, x};
  return lm_layer_call(lm_layer_activation(ctx, "relu", NULL), lm_add(ctx, 2, xy));
}

int main(int argc, char **argv) {
  cb_args a = {.threads = 2, .steps = 8, .repeats = 3, .warmup = 5};
  if (cb_parse(argc, argv, &a)) return 2;
  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  if (!ctx) return 1;
  lm_ctx_set_seed(ctx, 0);
  lm_ctx_set_threads(ctx, a.threads);
  int64_t in_shape[3] = {32, 32, 3};
  lm_sym *in = lm_input(ctx, 3, in_shape, LM_FLOAT32, NULL);
  lm_sym *x = lm_layer_call(lm_layer_conv2d(ctx, C, 3, 3, &(lm_conv2d_opts){.padding = "same"}), in);
  for (int i = 0; i < 4; i++) x = block(ctx, x);
  x = lm_layer_call(lm_layer_global_average_pooling2d(ctx, NULL), x);
  lm_sym *y = lm_layer_call(lm_layer_dense(ctx, 10, &(lm_dense_opts){.activation = "softmax"}), x);
  lm_model *m = lm_model_new(ctx, 1, &in, 1, &y, "resnet");
  if (!m) return fail(ctx, "building the model");
  lm_optimizer *opt = lm_optimizer_sgd(ctx, &(lm_optimizer_opts){.lr = 0.01f, .momentum = 0.9f});
  const char *loss = "sparse_categorical_crossentropy";
  lm_compile_opts co = {.optimizer = opt, .n_losses = 1, .losses = &loss};
  if (!opt || lm_model_compile(m, &co)) return fail(ctx, "compile");

  lm_tensor *xs[NB], *ys[NB];
  lm_data dx[NB], dy[NB];
  int64_t xshape[4] = {BATCH, 32, 32, 3}, yshape[1] = {BATCH};
  for (int b = 0; b < NB; b++) {
    xs[b] = lm_tensor_new(ctx, LM_FLOAT32, 4, xshape);
    ys[b] = lm_tensor_new(ctx, LM_INT32, 1, yshape);
    if (!xs[b] || !ys[b]) return fail(ctx, "tensors");
    for (int64_t k = 0; k < lm_tensor_size(xs[b]); k++) lm_tensor_f32(xs[b])[k] = cb_uniform();
    for (int k = 0; k < BATCH; k++) lm_tensor_i32(ys[b])[k] = (int32_t)(cb_next() % 10);
    dx[b] = (lm_data){1, &xs[b], NULL};
    dy[b] = (lm_data){1, &ys[b], NULL};
  }
  cb_region reg = {0};
  double med, best, loss_end;
  if (cb_time_train(m, NB, dx, dy, &a, &reg, &med, &best, &loss_end)) return fail(ctx, "train");
  double fwd = 2.0 * (32.0 * 32 * C * 27 + 8.0 * 32 * 32 * C * 9 * C + (double)C * 10);
  double sps = (double)a.steps * BATCH / med;
  printf("{\"config\": \"%s\", \"bench\": \"resnet\", \"framework\": \"lamina\", "
         "\"lamina_version\": \"%s\", \"threads\": %d, \"steps\": %d, \"repeats\": %d, "
         "\"warmup\": %d, \"batch\": %d, \"train_samples_per_sec\": %.2f, "
         "\"train_samples_per_sec_best\": %.2f, \"train_step_ms\": %.2f, "
         "\"train_step_cpu_ms\": %.2f, "
         "\"fwd_flops_per_sample\": %.1f, \"train_gflops_per_sec\": %.3f, \"loss_end\": %.4f, "
         "\"peak_rss_mb\": %.1f, \"timed_wall_s\": %.2f, \"other_cpu_pct\": %.1f}\n",
         a.config, LAMINA_VERSION, lm_ctx_threads(ctx), a.steps, a.repeats, a.warmup, BATCH, sps,
         (double)a.steps * BATCH / best, 1e3 * med / a.steps,
         1e3 * reg.cpu / ((double)a.steps * a.repeats), fwd, sps * 3.0 * fwd / 1e9,
         loss_end, cb_peak_rss_mb(), reg.wall, cb_other_pct(&reg));
  fflush(stdout);
  lm_model_free(m);
  lm_ctx_free(ctx);
  return 0;
}
