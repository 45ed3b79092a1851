/* docs/training.md's example: callbacks, a crash-safe checkpoint and resuming.
 *   ./callbacks [DIR]      trains a small classifier on two noisy spirals,
 *                          writes DIR/log.csv, DIR/best.safetensors, DIR/train.ckpt;
 *   ./callbacks DIR resume continues from DIR/train.ckpt.
 * Then: lamina plot DIR/log.csv -o curves.png */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lamina.h>

static double step_decay(int epoch, double lr, void *ud) {
  (void)ud;
  return epoch > 0 && epoch % 20 == 0 ? lr * 0.5 : lr; /* halve every 20 epochs */
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  bool resume = argc > 2 && strcmp(argv[2], "resume") == 0;
  char csv[1024], best[1024], ckpt[1024];
  snprintf(csv, sizeof csv, "%s/log.csv", dir);
  snprintf(best, sizeof best, "%s/best.safetensors", dir);
  snprintf(ckpt, sizeof ckpt, "%s/train.ckpt", dir);

  lm_ctx *ctx = lm_ctx_new(NULL, NULL);
  lm_ctx_set_seed(ctx, 7);
  int64_t shape[1] = {2};
  lm_sym *in = lm_input(ctx, 1, shape, LM_FLOAT32, NULL);
  lm_sym *h = lm_layer_call(lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}), in);
  h = lm_layer_call(lm_layer_dense(ctx, 32, &(lm_dense_opts){.activation = "relu"}), h);
  lm_sym *out = lm_layer_call(lm_layer_dense(ctx, 1, &(lm_dense_opts){.activation = "sigmoid"}), h);
  lm_model *model = lm_model_new(ctx, 1, &in, 1, &out, NULL);
  const char *loss = "binary_crossentropy", *metric = "acc";
  lm_compile_opts co = {.optimizer = lm_optimizer_adam(ctx, &(lm_optimizer_opts){.lr = 0.01f}),
                        .n_losses = 1,
                        .losses = &loss,
                        .n_metrics = 1,
                        .metrics = &metric};
  if (!model || lm_model_compile(model, &co)) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    return 1;
  }

  /* two interleaved spirals with noise; shuffled so the last 20% (validation) is mixed */
  enum { N = 800 };
  int64_t xs[2] = {N, 2}, ys[2] = {N, 1};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, 2, xs), *y = lm_tensor_new(ctx, LM_FLOAT32, 2, ys);
  uint64_t s = 42;
  for (int i = 0; i < N; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(s >> 11) / 9007199254740992.0;
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double noise = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.3;
    int label = i % 2;
    double t = 0.5 + 3.0 * u, a = t * 2.2 + label * 3.14159265358979;
    lm_tensor_f32(x)[2 * i] = (float)(t * cos(a) / 3.5 + noise);
    lm_tensor_f32(x)[2 * i + 1] = (float)(t * sin(a) / 3.5 + noise);
    lm_tensor_f32(y)[i] = (float)label;
  }

  lm_callback *cbs[] = {
      lm_callback_lr_scheduler(ctx, step_decay, NULL, 0),
      lm_callback_early_stopping(
          ctx,
          &(lm_early_stopping_opts){.patience = 15, .verbose = 1, .restore_best_weights = true}),
      lm_callback_model_checkpoint(ctx, best, &(lm_model_checkpoint_opts){.save_best_only = true}),
      lm_callback_terminate_on_nan(ctx),
      lm_callback_csv_logger(ctx, csv, NULL, resume), /* after the scheduler: it logs lr */
      lm_callback_checkpoint(ctx, ckpt, 0),           /* last: sees every callback's state */
  };
  lm_fit_opts fo = LM_FIT_DEFAULTS;
  fo.epochs = 60;
  fo.batch_size = 32;
  fo.verbose = 2;
  fo.validation_split = 0.2f;
  fo.callbacks = cbs;
  fo.n_callbacks = (int)(sizeof cbs / sizeof *cbs);
  fo.resume_from = resume ? ckpt : NULL;
  lm_history *hist = lm_model_fit(model, &(lm_data){1, &x, NULL}, &(lm_data){1, &y, NULL}, &fo);
  if (!hist) {
    fprintf(stderr, "%s\n", lm_errmsg(ctx));
    lm_ctx_free(ctx);
    return 1;
  }
  int n = lm_history_n_epochs(hist);
  printf("epochs run: %d, last val_acc: %.4f\n", n,
         n ? lm_history_get(hist, "val_acc")[n - 1] : 0.0);
  lm_ctx_free(ctx);
  return 0;
}
