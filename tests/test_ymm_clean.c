/* The portable gemm returns with the upper YMM halves clean (vzeroupper), on every
 * microkernel path: dirty halves made each libm expf/tanhf call in the recurrent ops'
 * gate loops 25x slower (see kernel_avx2 in src/kernels/gemm_portable.c). Checked
 * with XGETBV(1) (XINUSE bit 2) where the CPU has it; skipped elsewhere. */
#include <string.h>

#include "testutil.h"
#include "kernels/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
static bool can_probe(void) {
  unsigned a, b, c, d;
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  if (!__get_cpuid_count(0xd, 1, &a, &b, &c, &d)) return false;
  return (a & 4) != 0; /* XGETBV with ECX = 1 */
}
static int ymm_in_use(void) {
  unsigned a, d;
  __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(1));
  return (int)((a >> 2) & 1);
}
#endif

static void test_gemm_leaves_ymm_clean(void **state) {
  (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
  if (!can_probe()) {
    print_message("skipped: no AVX2 or no XGETBV(1)\n");
    return;
  }
  float a[64 * 40], b[40 * 48], c[64 * 48];
  for (int i = 0; i < 64 * 40; i++) a[i] = (float)(i % 13) * 0.1f;
  for (int i = 0; i < 40 * 48; i++) b[i] = (float)(i % 7) * 0.1f;
  /* full 6x16 tiles only (M 6, N 16), partial ones (M 7, N 5), and a mix */
  const int shapes[3][2] = {{6, 16}, {7, 5}, {64, 48}};
  for (int s = 0; s < 3; s++)
    for (int beta = 0; beta < 2; beta++) {
      memset(c, 0, sizeof c);
      lmk_sgemm_portable(false, false, shapes[s][0], shapes[s][1], 40, 1.0f, a, 40, b, 48,
                         (float)beta, c, 48);
      if (ymm_in_use())
        fail_msg("upper YMM halves dirty after a %dx%d gemm (beta %d)", shapes[s][0],
                 shapes[s][1], beta);
    }
#else
  print_message("skipped: not x86-64 GCC\n");
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemm_leaves_ymm_clean)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
