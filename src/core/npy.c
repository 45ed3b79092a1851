/* NumPy .npy files and .npz archives.
 * .npy: "\x93NUMPY", version (1.0: u16 header length; 2.0/3.0: u32), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw data in C order. */
#include "core/npy.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "lamina's file formats assume a little-endian host"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static lm_status npy_bad(lm_ctx *ctx, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lm_status npy_bad(lm_ctx *ctx, const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lm_fail(ctx, LM_ERR_FORMAT, "'%s': %s", what, msg);
}

/* ---- header dict ---- */

typedef struct npy_header {
  char descr[16];
  bool fortran;
  int ndim;
  int64_t shape[LM_MAX_DIMS];
} npy_header;

typedef struct npy_scan {
  const char *s;
  size_t len, pos;
} npy_scan;

static void sc_ws(npy_scan *sc) {
  while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
                               sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
    sc->pos++;
}

static bool sc_char(npy_scan *sc, char c) {
  sc_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == c) {
    sc->pos++;
    return true;
  }
  return false;
}

static bool sc_word(npy_scan *sc, const char *w) {
  sc_ws(sc);
  size_t n = strlen(w);
  if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, w, n) != 0) return false;
  sc->pos += n;
  return true;
}

/* A quoted string ('...' or "...", no escapes) into out. */
static bool sc_string(npy_scan *sc, char *out, size_t cap) {
  sc_ws(sc);
  if (sc->pos >= sc->len || (sc->s[sc->pos] != '\'' && sc->s[sc->pos] != '"')) return false;
  char q = sc->s[sc->pos++];
  size_t k = 0;
  while (sc->pos < sc->len && sc->s[sc->pos] != q) {
    if (k + 1 >= cap) return false;
    out[k++] = sc->s[sc->pos++];
  }
  if (sc->pos >= sc->len) return false;
  sc->pos++;
  out[k] = 0;
  return true;
}

static bool sc_shape(npy_scan *sc, npy_header *h) {
  if (!sc_char(sc, '(')) return false;
  h->ndim = 0;
  if (sc_char(sc, ')')) return true;
  for (;;) {
    sc_ws(sc);
    int64_t v = 0;
    size_t start = sc->pos;
    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9') {
      if (v > (INT64_MAX - 9) / 10) return false;
      v = v * 10 + (sc->s[sc->pos++] - '0');
    }
    if (sc->pos == start || h->ndim == LM_MAX_DIMS) return false;
    if (sc->pos < sc->len && sc->s[sc->pos] == 'L') sc->pos++; /* Python 2 longs */
    h->shape[h->ndim++] = v;
    bool comma = sc_char(sc, ',');
    if (sc_char(sc, ')')) return true;
    if (!comma) return false;
  }
}

static lm_status parse_header(lm_ctx *ctx, const char *what, const char *s, size_t len,
                              npy_header *h) {
  npy_scan sc = {s, len, 0};
  bool have_descr = false, have_fortran = false, have_shape = false;
  if (!sc_char(&sc, '{')) return npy_bad(ctx, what, "the header is not a Python dict");
  while (!sc_char(&sc, '}')) {
    char key[32];
    if (!sc_string(&sc, key, sizeof key) || !sc_char(&sc, ':'))
      return npy_bad(ctx, what, "cannot read the header dict near byte %zu", sc.pos);
    if (strcmp(key, "descr") == 0) {
      if (sc_char(&sc, '['))
        return npy_bad(ctx, what, "structured dtypes (a list 'descr') are not supported");
      if (!sc_string(&sc, h->descr, sizeof h->descr))
        return npy_bad(ctx, what, "the header's 'descr' is not a dtype string");
      have_descr = true;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (sc_word(&sc, "True"))
        h->fortran = true;
      else if (sc_word(&sc, "False"))
        h->fortran = false;
      else
        return npy_bad(ctx, what, "the header's 'fortran_order' is not True or False");
      have_fortran = true;
    } else if (strcmp(key, "shape") == 0) {
      if (!sc_shape(&sc, h))
        return npy_bad(ctx, what, "the header's 'shape' is not a tuple of at most %d sizes",
                       LM_MAX_DIMS);
      have_shape = true;
    } else {
      return npy_bad(ctx, what, "unknown header key '%s'", key);
    }
    if (!sc_char(&sc, ',')) {
      if (!sc_char(&sc, '}'))
        return npy_bad(ctx, what, "cannot read the header dict near byte %zu", sc.pos);
      break;
    }
  }
  if (!have_descr || !have_fortran || !have_shape)
    return npy_bad(ctx, what, "the header lacks '%s'",
                   !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
  if (h->fortran)
    return npy_bad(ctx, what,
                   "fortran_order=True arrays are not supported; save a C-ordered array "
                   "(np.ascontiguousarray)");
  return LM_OK;
}

/* ---- dtype conversion ---- */

typedef struct npy_dtype {
  char kind; /* f, i, u, b */
  int size;
  bool swap; /* big-endian data */
  lm_dtype to;
} npy_dtype;

static lm_status parse_descr(lm_ctx *ctx, const char *what, const char *d, npy_dtype *dt) {
  char order = d[0];
  int size = 0;
  bool ok = (order == '<' || order == '>' || order == '|' || order == '=') && d[1] && d[2] &&
            !d[3];
  if (ok) {
    dt->kind = d[1];
    size = d[2] - '0';
  }
  dt->size = size;
  dt->swap = order == '>' && size > 1;
  if (ok && dt->kind == 'f' && (size == 4 || size == 8))
    dt->to = LM_FLOAT32;
  else if (ok && dt->kind == 'u' && size == 1)
    dt->to = LM_FLOAT32; /* image bytes become floats, as Keras code casts them */
  else if (ok && (dt->kind == 'i' || dt->kind == 'u') && (size == 1 || size == 2 || size == 4 ||
                                                          size == 8))
    dt->to = LM_INT32;
  else if (ok && dt->kind == 'b' && size == 1)
    dt->to = LM_INT32;
  else
    return npy_bad(ctx, what,
                   "dtype '%s' is not supported (float32/64, int8-64, uint8-64 and bool are)", d);
  return LM_OK;
}

static void load_bytes(const unsigned char *src, int size, bool swap, unsigned char *out) {
  for (int b = 0; b < size; b++) out[b] = src[swap ? size - 1 - b : b];
}

static lm_status convert(lm_ctx *ctx, const char *what, const npy_dtype *dt,
                         const unsigned char *src, lm_tensor *t) {
  int64_t n = t->size;
  if (!dt->swap && dt->size == 4 && (dt->kind == 'f' || dt->kind == 'i')) {
    memcpy(t->data, src, (size_t)n * 4);
    return LM_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    unsigned char b[8];
    load_bytes(src + i * dt->size, dt->size, dt->swap, b);
    if (dt->kind == 'f') {
      float f;
      double d;
      if (dt->size == 4) {
        memcpy(&f, b, 4);
      } else {
        memcpy(&d, b, 8);
        f = (float)d;
      }
      ((float *)t->data)[i] = f;
      continue;
    }
    if (dt->kind == 'b') {
      ((int32_t *)t->data)[i] = b[0] != 0;
      continue;
    }
    int64_t v;
    if (dt->kind == 'u') {
      uint64_t u = 0;
      for (int k = dt->size - 1; k >= 0; k--) u = u << 8 | b[k];
      v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
    } else {
      int8_t i8;
      int16_t i16;
      int32_t i32;
      switch (dt->size) {
        case 1: memcpy(&i8, b, 1); v = i8; break;
        case 2: memcpy(&i16, b, 2); v = i16; break;
        case 4: memcpy(&i32, b, 4); v = i32; break;
        default: memcpy(&v, b, 8);
      }
    }
    if (t->dtype == LM_FLOAT32) {
      ((float *)t->data)[i] = (float)v;
      continue;
    }
    if (v < INT32_MIN || v > INT32_MAX)
      return npy_bad(ctx, what, "value %lld at index %lld does not fit in int32", (long long)v,
                     (long long)i);
    ((int32_t *)t->data)[i] = (int32_t)v;
  }
  return LM_OK;
}

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

lm_tensor *lm_npy_parse(lm_ctx *ctx, const void *data, size_t len, const char *what) {
  const unsigned char *p = data;
  if (len < 10 || memcmp(p, npy_magic, 6) != 0) {
    npy_bad(ctx, what, "not a .npy file (no \\x93NUMPY magic)");
    return NULL;
  }
  int major = p[6], minor = p[7];
  size_t hstart, hlen;
  if (major == 1) {
    hstart = 10;
    hlen = rd16(p + 8);
  } else if ((major == 2 || major == 3) && len >= 12) {
    hstart = 12;
    hlen = rd32(p + 8);
  } else {
    npy_bad(ctx, what, ".npy format version %d.%d is not supported", major, minor);
    return NULL;
  }
  if (hlen > len - hstart) {
    npy_bad(ctx, what, "truncated: the header needs %zu bytes, the file has %zu", hlen,
            len - hstart);
    return NULL;
  }
  npy_header h;
  memset(&h, 0, sizeof h);
  npy_dtype dt = {0, 0, false, LM_FLOAT32};
  if (parse_header(ctx, what, (const char *)p + hstart, hlen, &h) ||
      parse_descr(ctx, what, h.descr, &dt))
    return NULL;
  uint64_t count = 1;
  for (int i = 0; i < h.ndim; i++) {
    if (h.shape[i] && count > UINT64_MAX / 16 / (uint64_t)h.shape[i]) {
      npy_bad(ctx, what, "the shape is too large");
      return NULL;
    }
    count *= (uint64_t)h.shape[i];
  }
  size_t avail = len - hstart - hlen;
  if (count * (uint64_t)dt.size > avail) {
    npy_bad(ctx, what, "truncated: the shape needs %llu bytes of data, the file has %zu",
            (unsigned long long)(count * (uint64_t)dt.size), avail);
    return NULL;
  }
  lm_tensor *t = lm_tensor_new(ctx, dt.to, h.ndim, h.shape);
  if (!t) return NULL;
  if (convert(ctx, what, &dt, p + hstart + hlen, t)) {
    lm_tensor_free(t);
    return NULL;
  }
  return t;
}

lm_tensor *lm_tensor_load_npy(lm_ctx *ctx, const char *path) {
  if (!ctx) return NULL;
  if (!path) {
    lm_fail(ctx, LM_ERR_ARG, "load_npy: no file name given");
    return NULL;
  }
  char *data;
  size_t len;
  if (lm_read_file(ctx, path, &data, &len)) return NULL;
  lm_tensor *t = lm_npy_parse(ctx, data, len, path);
  lm_dealloc(ctx, data);
  return t;
}

lm_status lm_tensor_save_npy(const lm_tensor *t, const char *path) {
  if (!t) return LM_ERR_ARG;
  lm_ctx *ctx = t->ctx;
  if (!path) return lm_fail(ctx, LM_ERR_ARG, "save_npy: no file name given");
  lm_buf b;
  lm_buf_init(&b, ctx);
  lm_buf_printf(&b, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                t->dtype == LM_INT32 ? "<i4" : "<f4");
  for (int i = 0; i < t->ndim; i++) lm_buf_printf(&b, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  lm_buf_puts(&b, t->ndim == 1 ? ",), }" : "), }");
  /* numpy pads so that the data starts on a 64-byte boundary */
  size_t pre = b.len + 11 > 65535 ? 12 : 10;
  static const char spaces[64] = "                                                               ";
  lm_buf_putn(&b, spaces, (64 - (pre + b.len + 1) % 64) % 64); /* a no-op once b.oom */
  lm_buf_putn(&b, "\n", 1);
  if (b.oom) {
    lm_buf_free(&b);
    return LM_ERR_NOMEM;
  }
  unsigned char magic[12];
  memcpy(magic, npy_magic, 6);
  magic[6] = pre == 10 ? 1 : 2;
  magic[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) magic[8 + i] = (unsigned char)(b.len >> (8 * i));
  const void *parts[3] = {magic, b.data, t->data};
  size_t lens[3] = {pre, b.len, (size_t)t->size * lm_dtype_size(t->dtype)};
  lm_status st = lm_write_file_atomic(ctx, path, parts, lens, 3);
  lm_buf_free(&b);
  return st;
}

/* ---- .npz (zip) ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  if (size && items > SIZE_MAX / size) return Z_NULL;
  lm_ctx *ctx = opaque;
  void *p = lm_alloc(ctx, (size_t)items * size);
  if (!p) lm_clear_error(ctx); /* zlib says Z_MEM_ERROR; the caller reports it */
  return p;
}
static void z_free(voidpf opaque, voidpf p) { lm_dealloc(opaque, p); }

typedef struct npz_reader {
  lm_ctx *ctx;
  const char *path;
  const unsigned char *z;
  size_t len;
} npz_reader;

static lm_status zip_bad(const npz_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static lm_status zip_bad(const npz_reader *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lm_fail(r->ctx, LM_ERR_FORMAT, "'%s': %s", r->path, msg);
}

/* The central directory's place and size, through the zip64 records when needed. */
static lm_status find_central_dir(const npz_reader *r, uint64_t *count, uint64_t *off,
                                  uint64_t *size) {
  const unsigned char *z = r->z;
  size_t len = r->len;
  if (len < 22) return zip_bad(r, "not a zip archive (too short for an .npz)");
  /* the record sits at the end, before a comment of at most 65535 bytes */
  size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0, e = 0;
  bool found = false;
  for (size_t k = len - 22 + 1; k-- > lo && !found;)
    if (rd32(z + k) == 0x06054b50) {
      found = true;
      e = k;
    }
  if (!found) return zip_bad(r, "not a zip archive (no end of central directory record)");
  *count = rd16(z + e + 10);
  *size = rd32(z + e + 12);
  *off = rd32(z + e + 16);
  if (*count == 0xFFFF || *size == 0xFFFFFFFF || *off == 0xFFFFFFFF) {
    if (e < 20 || rd32(z + e - 20) != 0x07064b50)
      return zip_bad(r, "zip64 archive without a zip64 locator");
    uint64_t z64 = rd64(z + e - 20 + 8);
    if (len < 56 || z64 > len - 56 || rd32(z + z64) != 0x06064b50)
      return zip_bad(r, "zip64 end of central directory record is missing");
    *count = rd64(z + z64 + 32);
    *size = rd64(z + z64 + 40);
    *off = rd64(z + z64 + 48);
  }
  if (*off > len || *size > len - *off)
    return zip_bad(r, "the central directory lies outside the file");
  return LM_OK;
}

typedef struct zip_member {
  const char *name;
  size_t name_len;
  int method, flags;
  uint32_t crc;
  uint64_t csize, usize, local;
} zip_member;

/* Parses the central directory entry at *pos (within [pos, end)). */
static lm_status read_member(const npz_reader *r, uint64_t *pos, uint64_t end, zip_member *m) {
  const unsigned char *p = r->z + *pos;
  if (end - *pos < 46 || rd32(p) != 0x02014b50)
    return zip_bad(r, "corrupt central directory entry at byte %llu", (unsigned long long)*pos);
  m->flags = (int)rd16(p + 8);
  m->method = (int)rd16(p + 10);
  m->crc = rd32(p + 16);
  m->csize = rd32(p + 20);
  m->usize = rd32(p + 24);
  size_t nlen = rd16(p + 28), elen = rd16(p + 30), clen = rd16(p + 32);
  m->local = rd32(p + 42);
  if (end - *pos - 46 < nlen + elen + clen)
    return zip_bad(r, "corrupt central directory entry at byte %llu", (unsigned long long)*pos);
  m->name = (const char *)p + 46;
  m->name_len = nlen;
  /* zip64 extra field: the 8-byte values for fields that read 0xFFFFFFFF, in order */
  const unsigned char *x = p + 46 + nlen, *xend = x + elen;
  while (xend - x >= 4) {
    size_t id = rd16(x), sz = rd16(x + 2);
    if ((size_t)(xend - x - 4) < sz) break;
    if (id == 1) {
      const unsigned char *v = x + 4, *vend = v + sz;
      uint64_t *fields[3] = {&m->usize, &m->csize, &m->local};
      for (int i = 0; i < 3; i++)
        if (*fields[i] == 0xFFFFFFFF && vend - v >= 8) {
          *fields[i] = rd64(v);
          v += 8;
        }
    }
    x += 4 + sz;
  }
  *pos += 46 + nlen + elen + clen;
  return LM_OK;
}

static lm_status inflate_member(const npz_reader *r, const unsigned char *src, const zip_member *m,
                                unsigned char *out, const char *what) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = r->ctx;
  int zr = inflateInit2(&zs, -15);
  if (zr != Z_OK)
    return zr == Z_MEM_ERROR ? lm_fail(r->ctx, LM_ERR_NOMEM, "out of memory inflating '%s'", what)
                             : zip_bad(r, "cannot inflate member '%s'", what);
  uint64_t in = 0, done = 0;
  for (;;) {
    uint64_t ai = m->csize - in, ao = m->usize - done;
    zs.next_in = (Bytef *)(uintptr_t)(src + in);
    zs.avail_in = ai > UINT_MAX ? UINT_MAX : (uInt)ai;
    zs.next_out = out + done;
    zs.avail_out = ao > UINT_MAX ? UINT_MAX : (uInt)ao;
    uInt bi = zs.avail_in, bo = zs.avail_out;
    zr = inflate(&zs, Z_NO_FLUSH);
    in += bi - zs.avail_in;
    done += bo - zs.avail_out;
    if (zr != Z_OK || (bi == zs.avail_in && bo == zs.avail_out)) break;
  }
  inflateEnd(&zs);
  if (zr == Z_MEM_ERROR) return lm_fail(r->ctx, LM_ERR_NOMEM, "out of memory inflating '%s'", what);
  if (zr != Z_STREAM_END || done != m->usize) {
    const char *why = zr == Z_STREAM_END || done == m->usize ? "does not match the recorded size"
                      : zr == Z_DATA_ERROR                   ? "is invalid"
                                                             : "ends early";
    return zip_bad(r, "member '%s' is corrupt (its deflate data %s)", what, why);
  }
  return LM_OK;
}

/* The member's bytes: a pointer into the archive (stored) or a new buffer (*owned). */
static lm_status member_data(const npz_reader *r, const zip_member *m, const char *what,
                             const unsigned char **data, unsigned char **owned) {
  *owned = NULL;
  const unsigned char *lh = r->z + m->local;
  if (m->local > r->len || r->len - m->local < 30 || rd32(lh) != 0x04034b50)
    return zip_bad(r, "member '%s' has no local header", what);
  uint64_t start = m->local + 30 + rd16(lh + 26) + rd16(lh + 28);
  if (start > r->len || m->csize > r->len - start)
    return zip_bad(r, "member '%s' runs past the end of the archive", what);
  if (m->flags & 1) return zip_bad(r, "member '%s' is encrypted", what);
  const unsigned char *src = r->z + start;
  if (m->method == 0) {
    if (m->csize != m->usize) return zip_bad(r, "stored member '%s' has two sizes", what);
    *data = src;
  } else if (m->method == 8) {
    /* deflate cannot expand beyond ~1032:1; a larger claim is corruption */
    if (m->usize / 1032 > m->csize + 1)
      return zip_bad(r, "member '%s' claims an impossible size", what);
    unsigned char *buf = lm_alloc(r->ctx, m->usize ? (size_t)m->usize : 1);
    if (!buf) return LM_ERR_NOMEM;
    lm_status st = inflate_member(r, src, m, buf, what);
    if (st) {
      lm_dealloc(r->ctx, buf);
      return st;
    }
    *data = *owned = buf;
  } else {
    return zip_bad(r, "member '%s' uses compression method %d (only stored and deflate are read)",
                   what, m->method);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t k = 0; k < m->usize;) {
    uInt chunk = m->usize - k > UINT_MAX ? UINT_MAX : (uInt)(m->usize - k);
    crc = crc32(crc, *data + k, chunk);
    k += chunk;
  }
  if ((uint32_t)crc != m->crc) {
    lm_dealloc(r->ctx, *owned);
    *owned = NULL;
    return zip_bad(r, "member '%s' fails its CRC check", what);
  }
  return LM_OK;
}

void lm_npz_free(lm_ctx *ctx, int n, char **names, lm_tensor **arrays) {
  for (int i = 0; i < n; i++) {
    if (names) lm_dealloc(ctx, names[i]);
    if (arrays) lm_tensor_free(arrays[i]);
  }
  lm_dealloc(ctx, names);
  lm_dealloc(ctx, arrays);
}

/* Loads member m as names[i], arrays[i]. */
static lm_status load_member(const npz_reader *r, const zip_member *m, char **name,
                             lm_tensor **array) {
  lm_ctx *ctx = r->ctx;
  char *member = lm_alloc(ctx, m->name_len + 1);
  if (!member) return LM_ERR_NOMEM;
  memcpy(member, m->name, m->name_len);
  if (strlen(member) != m->name_len || m->name_len < 4 ||
      strcmp(member + m->name_len - 4, ".npy") != 0) {
    lm_status st = zip_bad(r, "member '%s' is not a .npy array", member);
    lm_dealloc(ctx, member);
    return st;
  }
  size_t wn = strlen(r->path) + m->name_len + 2;
  char *what = lm_alloc(ctx, wn);
  const unsigned char *data = NULL;
  unsigned char *owned = NULL;
  lm_status st = what ? LM_OK : LM_ERR_NOMEM;
  if (!st) {
    snprintf(what, wn, "%s:%s", r->path, member);
    st = member_data(r, m, member, &data, &owned);
  }
  if (!st) {
    *array = lm_npy_parse(ctx, data, (size_t)m->usize, what);
    if (!*array) st = lm_errcode(ctx);
  }
  lm_dealloc(ctx, owned);
  lm_dealloc(ctx, what);
  if (st) {
    lm_dealloc(ctx, member);
    return st;
  }
  member[m->name_len - 4] = 0; /* "x_train.npy" -> "x_train" */
  *name = member;
  return LM_OK;
}

lm_status lm_npz_load(lm_ctx *ctx, const char *path, int *n, char ***names,
                      lm_tensor ***arrays) {
  if (!ctx) return LM_ERR_ARG;
  if (!path || !n || !names || !arrays) return lm_fail(ctx, LM_ERR_ARG, "npz_load: NULL argument");
  *n = 0;
  *names = NULL;
  *arrays = NULL;
  char *raw;
  size_t len;
  lm_status st = lm_read_file(ctx, path, &raw, &len);
  if (st) return st;
  npz_reader r = {ctx, path, (const unsigned char *)raw, len};
  uint64_t count = 0, off = 0, size = 0;
  char **nm = NULL;
  lm_tensor **arr = NULL;
  int done = 0;
  st = find_central_dir(&r, &count, &off, &size);
  if (!st && count > (uint64_t)(size / 46)) st = zip_bad(&r, "corrupt central directory");
  if (!st && count > 0) {
    nm = lm_alloc(ctx, (size_t)count * sizeof *nm);
    arr = lm_alloc(ctx, (size_t)count * sizeof *arr);
    if (!nm || !arr) st = LM_ERR_NOMEM;
  }
  uint64_t pos = off;
  for (uint64_t i = 0; i < count && !st; i++) {
    zip_member m = {0};
    st = read_member(&r, &pos, off + size, &m);
    if (!st) st = load_member(&r, &m, &nm[i], &arr[i]);
    if (!st) done++;
  }
  lm_dealloc(ctx, raw);
  if (st) {
    lm_npz_free(ctx, done, nm, arr);
    return st;
  }
  *n = done;
  *names = nm;
  *arrays = arr;
  return LM_OK;
}
