#ifndef HV_SELFTEST_SELFTEST_H
#define HV_SELFTEST_SELFTEST_H
/* Deliberate faults asked for with selftest=ud|pf|gp|nmi|df, so tests can
 * prove that the fatal-path dumps name the right vector and RIP. */
void selftest_run(int kind);
/* Selftests that run on the other CPUs alongside the guest. */
void selftest_start_background(int kind);
/* quiesce_selftest.c */
void selftest_quiesce(void);
void selftest_quiesce_stuck(void);
/* crypto_selftest.c */
void selftest_crypto(void);
#endif
