/* Two small PALs for the TrustVisor scenarios (trustvisor_pal.c holds them):
 * a template of two pages, code then data, copied into pal_mem before each
 * REG (UNREG scrubs the pages), and a caller that checks the callee-saved
 * registers survive the call. */
#ifndef GUEST_SCENARIOS_TVPAL_H
#define GUEST_SCENARIOS_TVPAL_H
#include "../guest.h"
#include "tvabi.h"

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

#define TVP_PG 4096
/* The scenarios' usual PAL: the template copied into mem (two pages, CODE
 * then DATA), a STACK and a PARAM page of one page each. */
static inline void tvp_sections(struct tv_pal_sections *s, u8 *mem, u8 *stack, u8 *param)
{
	memcpy(mem, tvp_template, 2 * TVP_PG);
	*s = (struct tv_pal_sections){ .num_sections = 4 };
	s->sections[0] = (struct tv_pal_section){ TV_PAL_SECTION_CODE, 1, (u64)mem };
	s->sections[1] = (struct tv_pal_section){ TV_PAL_SECTION_DATA, 1, (u64)mem + TVP_PG };
	s->sections[2] = (struct tv_pal_section){ TV_PAL_SECTION_STACK, 1, (u64)stack };
	s->sections[3] = (struct tv_pal_section){ TV_PAL_SECTION_PARAM, 1, (u64)param };
}
#endif
