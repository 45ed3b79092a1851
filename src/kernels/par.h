/* OpenMP loops of the kernels: LMK_PAR_FOR(nt, cond) before a for statement
 * splits it statically over nt threads when cond holds (static schedule: the
 * same split for the same thread count, so results are deterministic); without
 * OpenMP it is nothing. LMK_PAR_MIN: work (multiply-adds or elements) below
 * which one thread is faster. */
#ifndef LM_KERNELS_PAR_H
#define LM_KERNELS_PAR_H

#define LMK_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define LMK_PAR_FOR(nt, cond) \
  LMK_PRAGMA(omp parallel for schedule(static) num_threads(nt) if (cond))
#else
#define LMK_PAR_FOR(nt, cond)
#endif
#define LMK_PAR_MIN 32768

#endif
