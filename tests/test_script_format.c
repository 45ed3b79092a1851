/* Python's string formatting in model scripts: '{:SPEC}'.format(v) and
 * '%SPEC' % (v,) for int, bool, float and str values over a grid of specs
 * (fill, align, sign, z, #, 0, width, grouping, precision, every type) give
 * exactly what CPython 3.11 prints (tests/fixtures/format/format_table.tsv,
 * written by gen_format_table.py beside it); where CPython raises, the script
 * fails with a script error. Plus str.format's fields: {!r}, nested {w}. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/script.h"

static int run(const char *src, tu_capture *out, tu_capture *err) {
  lm_ctx *ctx = tu_ctx();
  lms_opts o = {.mode = LMS_MODE_RUN, .out = tu_capture_fn, .out_ud = out, .err = tu_capture_fn, .err_ud = err};
  int st = lms_run_source(ctx, "t.py", src, strlen(src), &o);
  lm_ctx_free(ctx);
  return st;
}

static void test_format_table(void **state) {
  (void)state;
  const char *path = tu_fixture("format/format_table.tsv");
  char *text = tu_read_text(path);
  if (!text) fail_msg("cannot read %s", path);
  int rows = 0, failed = 0;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char *kind = line, *val = strchr(kind, '\t');
    assert_non_null(val);
    *val++ = 0;
    char *spec = strchr(val, '\t');
    assert_non_null(spec);
    *spec++ = 0;
    char *want = strchr(spec, '\t');
    assert_non_null(want);
    *want++ = 0;
    char src[512];
    if (strcmp(kind, "fmt") == 0)
      snprintf(src, sizeof src, "print('{:%s}'.format(%s), end='')\n", spec, val);
    else
      snprintf(src, sizeof src, "print('%%%s' %% (%s,), end='')\n", spec, val);
    tu_capture out = {0}, err = {0};
    int st = run(src, &out, &err);
    bool want_error = strcmp(want, "!error") == 0;
    const char *got = out.text ? out.text : "";
    bool ok = want_error ? st == LMS_SCRIPT_ERROR : st == LMS_OK && strcmp(got, want) == 0;
    if (!ok && failed++ < 40)
      fprintf(stderr, "%s: wanted [%s], got status %d [%s] %s", src, want, st, got, err.text ? err.text : "\n");
    free(out.text);
    free(err.text);
    rows++;
  }
  free(text);
  print_message("%d formatting cases, %d differ from CPython\n", rows, failed);
  assert_true(rows > 1000);
  assert_int_equal(failed, 0);
}

static void test_format_fields(void **state) {
  (void)state;
  static const struct {
    const char *src, *want;
  } cases[] = {
      {"print('{0!r:>6}|{1!s}|{0!r}'.format('a', 2))\n", "   'a'|2|'a'\n"},
      {"print('{!r}'.format(1.5), '{!a:<4}|'.format('x'))\n", "1.5 'x' |\n"},
      {"print('{:{w}.{p}f}|'.format(3.14159, w=8, p=2))\n", "    3.14|\n"},
      {"print('{:{}}|'.format(3, 5))\n", "    3|\n"},
      {"print('{name:>5}|{{}}|{0:x}'.format(255, name='ab'))\n", "   ab|{}|ff\n"},
      {"print('%s %r %5.1f%%' % ('a', 'b', 99.44))\n", "a 'b'  99.4%\n"},
      {"print('%*d|%-*d|%.*f' % (4, 7, 3, 1, 2, 3.14159))\n", "   7|1  |3.14\n"},
      {"print('%c%c' % (104, 'i'))\n", "hi\n"},
      {"print('{:\u00e9>4}|{:*^7.2s}|%c' % 'x' if False else '{:\u00e9>4}|{:*^7.2s}|'.format(1, '\u00e9t\u00e9'))\n",
       "\u00e9\u00e9\u00e91|**\u00e9t***|\n"},
      {"print('%d items' % 3, 'abc' % ())\n", "3 items abc\n"},
      {"print('{}'.format(True), '{:d}'.format(True), '{:>5}'.format(False), format(3.5), format(1234.5, ',.1f'))\n",
       "True 1     0 3.5 1,234.5\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tu_capture out = {0}, err = {0};
    int st = run(cases[i].src, &out, &err);
    if (st != 0 || !out.text || strcmp(out.text, cases[i].want) != 0)
      fail_msg("%s: status %d, printed [%s], wanted [%s] %s", cases[i].src, st, out.text ? out.text : "",
               cases[i].want, err.text ? err.text : "");
    free(out.text);
    free(err.text);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_table),
      cmocka_unit_test(test_format_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
