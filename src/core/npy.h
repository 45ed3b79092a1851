/* NumPy .npz archives: a zip of .npy members (stored or deflated), as written
 * by np.savez and np.savez_compressed. The single-array .npy functions,
 * lm_tensor_load_npy and lm_tensor_save_npy, are public (lamina.h). */
#ifndef LM_NPY_H
#define LM_NPY_H

#include "core/core.h"

/* Loads every member. *names gets the member names without ".npy" ("arr_0",
 * "x_train"), *arrays the tensors (public ones, on the context's list), both in
 * archive order. Free with lm_npz_free. On failure *n is 0 and both are NULL;
 * errors name the archive and the member. */
lm_status lm_npz_load(lm_ctx *ctx, const char *path, int *n, char ***names,
                      lm_tensor ***arrays);
/* Frees the names, the arrays and the tensors in them (NULL-tolerant). */
void lm_npz_free(lm_ctx *ctx, int n, char **names, lm_tensor **arrays);

/* Parses one .npy image held in memory; what names it in errors
 * ("a.npz:x.npy"). The tensor is public (lm_tensor_new). */
lm_tensor *lm_npy_parse(lm_ctx *ctx, const void *data, size_t len, const char *what);

#endif
