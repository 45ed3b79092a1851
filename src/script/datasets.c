/* keras.datasets.fashion_mnist.load_data() (and mnist): IDX files, plain or
 * gzip, from $LAMINA_FASHION_MNIST, Debian's dataset-fashion-mnist, or
 * ../shared/data/fashion-mnist. A minimal reader: big-endian header, uint8. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "script/interp.h"

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads dir/base(.gz) into an int32 tensor of the IDX shape. */
static lm_tensor *read_idx(lms_interp *I, const char *dir, const char *base, const lms_node *at) {
  size_t n = strlen(dir) + strlen(base) + 8;
  char *path = lms_alloc(I, n);
  snprintf(path, n, "%s/%s.gz", dir, base);
  if (!file_exists(path)) snprintf(path, n, "%s/%s", dir, base);
  char *data = NULL;
  size_t len = 0;
  if (lm_read_file(I->ctx, path, &data, &len) != LM_OK) lms_fail_lib(I, at);
  const unsigned char *d = (const unsigned char *)data;
  int nd = len >= 4 ? d[3] : 0;
  if (len < 4 || d[0] != 0 || d[1] != 0 || d[2] != 0x08 || nd < 1 || nd > 3 || len < 4 + 4 * (size_t)nd) {
    lm_dealloc(I->ctx, data);
    lms_fail_rt(I, at, "%s: not an IDX file of unsigned bytes", path);
  }
  int64_t shape[3];
  size_t total = 1;
  for (int i = 0; i < nd; i++) {
    shape[i] = be32(d + 4 + 4 * i);
    total *= (size_t)shape[i];
  }
  size_t off = 4 + 4 * (size_t)nd;
  if (shape[0] > 10000000 || (nd > 1 && shape[1] > 100000) || (nd > 2 && shape[2] > 100000) ||
      len - off < total) {
    lm_dealloc(I->ctx, data);
    lms_fail_rt(I, at, "%s: truncated IDX file (expected %zu values)", path, total);
  }
  lm_tensor *t = lm_tensor_new(I->ctx, LM_INT32, nd, shape);
  if (!t) {
    lm_dealloc(I->ctx, data);
    lms_fail_lib(I, at);
  }
  int32_t *o = lm_tensor_i32(t);
  for (size_t i = 0; i < total; i++) o[i] = d[off + i];
  lm_dealloc(I->ctx, data);
  return t;
}

static const char *find_dir(lms_interp *I, bool fashion) {
  const char *env = getenv(fashion ? "LAMINA_FASHION_MNIST" : "LAMINA_MNIST");
  if (env && *env) {
    size_t n = strlen(env) + 40;
    char *probe = lms_alloc(I, n);
    snprintf(probe, n, "%s/train-labels-idx1-ubyte.gz", env);
    if (file_exists(probe)) return env;
    snprintf(probe, n, "%s/train-labels-idx1-ubyte", env);
    return file_exists(probe) ? env : NULL;
  }
  static const char *const fashion_dirs[] = {
      "/usr/share/fashion-mnist", "/usr/share/dataset-fashion-mnist",
      "/usr/share/datasets/fashion-mnist", "../shared/data/fashion-mnist",
      "../../shared/data/fashion-mnist", "../../../shared/data/fashion-mnist", NULL};
  static const char *const mnist_dirs[] = {"/usr/share/mnist", "/usr/share/dataset-mnist", NULL};
  const char *const *dirs = fashion ? fashion_dirs : mnist_dirs;
  const char *shared = getenv("LAMINA_SHARED");
  if (fashion && shared && *shared) {
    size_t n = strlen(shared) + 32;
    char *p = lms_alloc(I, n);
    snprintf(p, n, "%s/data/fashion-mnist", shared);
    char *probe = lms_alloc(I, n + 32);
    snprintf(probe, n + 32, "%s/train-labels-idx1-ubyte.gz", p);
    if (file_exists(probe)) return p;
  }
  for (int i = 0; dirs[i]; i++) {
    size_t n = strlen(dirs[i]) + 40;
    char *probe = lms_alloc(I, n);
    snprintf(probe, n, "%s/train-labels-idx1-ubyte.gz", dirs[i]);
    if (file_exists(probe)) return dirs[i];
    snprintf(probe, n, "%s/train-labels-idx1-ubyte", dirs[i]);
    if (file_exists(probe)) return dirs[i];
  }
  return NULL;
}

lms_value *lms_fashion_mnist_load(lms_interp *I, lms_value *self, lms_args *a) {
  (void)self;
  bool fashion = strcmp(a->callee->data, "fashion") == 0;
  const char *dir = find_dir(I, fashion);
  if (!dir) {
    if (fashion)
      lms_fail_rt(I, a->call,
                  "Fashion-MNIST not found: install Debian's dataset-fashion-mnist package "
                  "(apt-get install dataset-fashion-mnist) or set LAMINA_FASHION_MNIST to a folder "
                  "holding train-images-idx3-ubyte.gz and the other three IDX files");
    lms_fail_rt(I, a->call,
                "MNIST not found: set LAMINA_MNIST to a folder holding train-images-idx3-ubyte.gz "
                "and the other three IDX files");
  }
  static const char *const files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  lms_value *parts[4];
  for (int i = 0; i < 4; i++) parts[i] = lms_array(I, read_idx(I, dir, files[i], a->call), a->call);
  lms_value *out = lms_seq(I, V_TUPLE, 2);
  for (int k = 0; k < 2; k++) {
    lms_value *pair = lms_seq(I, V_TUPLE, 2);
    pair->u.seq.items[0] = parts[2 * k];
    pair->u.seq.items[1] = parts[2 * k + 1];
    out->u.seq.items[k] = pair;
  }
  return out;
}
