/* Numeric CSV files: plain text or gzip (path ending in .gz). */
#ifndef LM_CSV_H
#define LM_CSV_H

#include "core/core.h"

/* Reads a table of numbers into a float32 (rows, cols) tensor (lm_tensor_new,
 * on the context's list). delim is the separator (0 means ','); ' ' means any
 * run of spaces and tabs. The first skip_rows lines are skipped (a header);
 * blank lines are ignored; a field may be quoted ("1.5"). Every row must have
 * as many values as the first. Errors are LM_ERR_FORMAT with
 * "file:line:column: ..." for a bad number or a ragged row. */
lm_tensor *lmd_load_csv(lm_ctx *ctx, const char *path, char delim, int skip_rows);

#endif
