/* Two small PALs for the TrustVisor scenarios (trustvisor_pal.c holds them):
 * a template of two pages, code then data, copied into pal_mem before each
 * REG (UNREG scrubs the pages), and a caller that checks the callee-saved
 * registers survive the call. */
#ifndef GUEST_SCENARIOS_TVPAL_H
#define GUEST_SCENARIOS_TVPAL_H
#include "../guest.h"

extern const u8 tvp_template[], tvp_add[], tvp_bad[];
/* tvp_add(a, b, u64 io[2]): io[0] += a + b, io[1] = its own call count
 * (kept in its DATA page), returns a + b (uses its stack).
 * tvp_bad(mode, addr): 0 reads addr (outside its sections), 1 writes its
 * own code, 2 clobbers RBX/R12 then #UD, 3 loops for ever, 4 returns 77,
 * 5 jumps into its DATA page, 6 reads the u64 v at addr, writes 2v + 1
 * at addr + 8 and returns v (a page lent to it by SHARE). */
#define TVP_OFF(sym) ((u64)(sym) - (u64)tvp_template)

/* Calls entry(a, b, c) with RBX, RBP, R12-R15 set to patterns; after the
 * return tvp_regs_bad is nonzero if any of them changed. */
u64 tvp_call(u64 entry, u64 a, u64 b, u64 c);
extern volatile u32 tvp_regs_bad;
#endif
