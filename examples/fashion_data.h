/* Fashion-MNIST for the examples: where the IDX files are, and loading them
 * as Keras users do (images / 255 as (N, 28, 28, 1), integer labels (N,)). */
#ifndef LAMINA_EXAMPLES_FASHION_DATA_H
#define LAMINA_EXAMPLES_FASHION_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lamina.h"

/* DIR given on the command line, else $LAMINA_FASHION_MNIST, Debian's
 * dataset-fashion-mnist package or ../shared/data/fashion-mnist. */
static const char *fashion_find_dir(const char *arg) {
  static const char *const candidates[] = {
      "/usr/share/datasets/fashion-mnist",
      "../shared/data/fashion-mnist",
      "../../shared/data/fashion-mnist",
  };
  if (arg) return arg;
  const char *env = getenv("LAMINA_FASHION_MNIST");
  if (env) return env;
  char probe[512];
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", candidates[i]);
    if (access(probe, R_OK) == 0) return candidates[i];
  }
  return NULL;
}

/* Images scaled to [0, 1] as (N, 28, 28, 1) with ndim 4 or as (N, 28, 28) (28
 * steps of 28 features) with ndim 3; ndim 0: labels as (N,). max_items 0: all. */
static lm_tensor *fashion_load(lm_ctx *ctx, const char *dir, const char *name,
                               int64_t max_items, int ndim) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  lm_tensor *t = lm_tensor_load_idx(ctx, path, max_items);
  if (!t || ndim == 0) return t;
  int64_t shape[4] = {lm_tensor_dim(t, 0), 28, 28, 1};
  lm_tensor *x = lm_tensor_new(ctx, LM_FLOAT32, ndim == 3 ? 3 : 4, shape);
  if (x) {
    const float *s = lm_tensor_f32(t);
    float *d = lm_tensor_f32(x);
    for (int64_t i = 0; i < lm_tensor_size(x); i++) d[i] = s[i] / 255.0f;
  }
  lm_tensor_free(t);
  return x;
}

#endif
