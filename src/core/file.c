/* Whole-file reads (plain or gzip) and atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- atomic write ---- */

static lm_status write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
    ssize_t w = write(fd, c, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return LM_ERR_IO;
    }
    c += w;
    n -= (size_t)w;
  }
  return LM_OK;
}

/* Makes the rename itself durable. Best effort: by now the new file is in
 * place and complete, so a folder that cannot be synced (some file systems
 * refuse fsync on directories) is no reason to report the save as failed. */
static void sync_parent_dir(const char *path) {
  char dir[4096] = ".";
  const char *slash = strrchr(path, '/');
  if (slash) {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return; /* such a folder name is rare; skipping costs durability only */
    memcpy(dir, path, n);
    dir[n] = 0;
  }
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

lm_status lm_write_file_atomic(lm_ctx *ctx, const char *path, const void *const *parts,
                               const size_t *lens, int n_parts) {
  if (!path || !*path) return lm_fail(ctx, LM_ERR_ARG, "no file name given");
  if (n_parts < 0 || (n_parts > 0 && (!parts || !lens)))
    return lm_fail(ctx, LM_ERR_ARG, "lm_write_file_atomic: bad parts");
  size_t n = strlen(path) + 40;
  char *tmp = lm_alloc(ctx, n);
  if (!tmp) return LM_ERR_NOMEM;
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());

  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    lm_status st = lm_fail(ctx, LM_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    lm_dealloc(ctx, tmp);
    return st;
  }
  int err = 0;
  for (int i = 0; i < n_parts && !err; i++)
    if (lens[i] && write_all(fd, parts[i], lens[i])) err = errno;
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    lm_dealloc(ctx, tmp);
    return lm_fail(ctx, LM_ERR_IO, "cannot write '%s': %s", path, strerror(err));
  }
  lm_dealloc(ctx, tmp);
  sync_parent_dir(path);
  return LM_OK;
}

/* ---- whole-file read ---- */

static lm_status read_plain(lm_ctx *ctx, const char *path, char **data, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm_fail(ctx, LM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat stt;
  size_t cap = 1 << 16;
  if (fstat(fd, &stt) == 0) {
    if (S_ISDIR(stt.st_mode)) {
      close(fd);
      return lm_fail(ctx, LM_ERR_IO, "cannot read '%s': %s", path, strerror(EISDIR));
    }
    if (S_ISREG(stt.st_mode) && stt.st_size >= 0 && (uintmax_t)stt.st_size < SIZE_MAX - 1)
      cap = (size_t)stt.st_size + 1;
  }
  char *buf = lm_alloc(ctx, cap);
  if (!buf) {
    close(fd);
    return LM_ERR_NOMEM;
  }
  size_t n = 0;
  for (;;) {
    if (n + 1 >= cap) { /* grows only when the file changed size or is a pipe */
      if (cap > SIZE_MAX / 2) {
        lm_fail(ctx, LM_ERR_NOMEM, "'%s' is too large to read", path);
        goto fail;
      }
      char *p = lm_realloc(ctx, buf, cap * 2);
      if (!p) goto fail;
      buf = p;
      cap *= 2;
    }
    size_t want = cap - 1 - n;
    if (want > (size_t)1 << 30) want = (size_t)1 << 30;
    ssize_t r = read(fd, buf + n, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      lm_fail(ctx, LM_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  *data = buf;
  *len = n;
  return LM_OK;
fail:
  close(fd);
  lm_dealloc(ctx, buf);
  return lm_errcode(ctx);
}

/* zlib's own allocations go through the context too. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  if (size && items > SIZE_MAX / size) return Z_NULL;
  lm_ctx *ctx = opaque;
  void *p = lm_alloc(ctx, (size_t)items * size);
  if (!p) lm_clear_error(ctx); /* zlib reports Z_MEM_ERROR; the caller fails with NOMEM */
  return p;
}
static void z_free(voidpf opaque, voidpf p) { lm_dealloc(opaque, p); }

/* Inflates gzip data (all members, as gunzip does) into an lm_alloc'd buffer. */
static lm_status gunzip(lm_ctx *ctx, const char *path, const unsigned char *src, size_t n_src,
                        char **data, size_t *len) {
  if (n_src < 18 || src[0] != 0x1f || src[1] != 0x8b)
    return lm_fail(ctx, LM_ERR_FORMAT, "'%s' is not gzip data", path);
  /* the trailer's size (mod 2^32) is a good first guess for the output */
  size_t isize = (size_t)src[n_src - 4] | (size_t)src[n_src - 3] << 8 |
                 (size_t)src[n_src - 2] << 16 | (size_t)src[n_src - 1] << 24;
  size_t cap = (isize < ((size_t)1 << 28) ? isize : ((size_t)1 << 28)) + 1;
  char *buf = lm_alloc(ctx, cap);
  if (!buf) return LM_ERR_NOMEM;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = ctx;
  int zr = inflateInit2(&zs, 15 + 16);
  if (zr != Z_OK) {
    lm_dealloc(ctx, buf);
    return zr == Z_MEM_ERROR ? lm_fail(ctx, LM_ERR_NOMEM, "out of memory inflating '%s'", path)
                             : lm_fail(ctx, LM_ERR_IO, "cannot inflate '%s'", path);
  }
  size_t in = 0, out = 0;
  lm_status st = LM_OK;
  for (;;) {
    if (out + 1 >= cap) {
      if (cap > SIZE_MAX / 2) {
        st = lm_fail(ctx, LM_ERR_NOMEM, "'%s' is too large to inflate", path);
        break;
      }
      char *p = lm_realloc(ctx, buf, cap * 2);
      if (!p) {
        st = LM_ERR_NOMEM;
        break;
      }
      buf = p;
      cap *= 2;
    }
    size_t avail_in = n_src - in, avail_out = cap - 1 - out;
    zs.next_in = (Bytef *)(uintptr_t)(src + in);
    zs.avail_in = avail_in > UINT_MAX ? UINT_MAX : (uInt)avail_in;
    zs.next_out = (Bytef *)buf + out;
    zs.avail_out = avail_out > UINT_MAX ? UINT_MAX : (uInt)avail_out;
    uInt before_in = zs.avail_in, before_out = zs.avail_out;
    zr = inflate(&zs, Z_NO_FLUSH);
    in += before_in - zs.avail_in;
    out += before_out - zs.avail_out;
    if (zr == Z_STREAM_END) {
      if (in == n_src) break;
      /* another gzip member follows (concatenated files) */
      if (inflateReset(&zs) != Z_OK) zr = Z_DATA_ERROR;
      else continue;
    }
    if (zr == Z_MEM_ERROR) {
      st = lm_fail(ctx, LM_ERR_NOMEM, "out of memory inflating '%s'", path);
      break;
    }
    if (zr == Z_OK) continue;
    if (zr == Z_BUF_ERROR && in == n_src) {
      st = lm_fail(ctx, LM_ERR_FORMAT, "'%s' is truncated (gzip data ends early)", path);
      break;
    }
    if (zr == Z_BUF_ERROR) continue; /* output was full: grow and go on */
    st = lm_fail(ctx, LM_ERR_FORMAT, "'%s' is corrupt gzip data: %s", path,
                 zs.msg ? zs.msg : "inflate failed");
    break;
  }
  inflateEnd(&zs);
  if (st) {
    lm_dealloc(ctx, buf);
    return st;
  }
  buf[out] = 0;
  *data = buf;
  *len = out;
  return LM_OK;
}

lm_status lm_read_file(lm_ctx *ctx, const char *path, char **data, size_t *len) {
  if (!path || !data || !len) return lm_fail(ctx, LM_ERR_ARG, "lm_read_file: NULL argument");
  *data = NULL;
  *len = 0;
  char *raw = NULL;
  size_t n_raw = 0;
  lm_status st = read_plain(ctx, path, &raw, &n_raw);
  if (st || !ends_with(path, ".gz")) {
    if (!st) {
      *data = raw;
      *len = n_raw;
    }
    return st;
  }
  st = gunzip(ctx, path, (const unsigned char *)raw, n_raw, data, len);
  lm_dealloc(ctx, raw);
  return st;
}
