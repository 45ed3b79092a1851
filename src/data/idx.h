/* Floor 6: IDX files (the MNIST / Fashion-MNIST format).
 *
 * Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16,
 * 0x0C int32, 0x0D float32, 0x0E float64), a rank byte, then one big-endian
 * uint32 per dimension and the values, big-endian, row-major. Files whose
 * name ends in .gz are inflated first (lm_read_file). The public entry is
 * lm_tensor_load_idx (lamina.h). */
#ifndef LM_DATA_IDX_H
#define LM_DATA_IDX_H

#include "core/core.h"

/* Parse an IDX image held in memory into a float32 tensor (public, owned by
 * the context). what names the source in messages. max_items > 0 keeps the
 * first items along axis 0 only. */
lm_tensor *lmd_idx_parse(lm_ctx *ctx, const unsigned char *buf, size_t len, const char *what,
                         int64_t max_items);

#endif
