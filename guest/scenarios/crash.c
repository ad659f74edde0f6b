/* A deliberate unexpected exception (#UD outside any fixup): the guest must
 * report GUEST FAULT, the summary and GUEST DONE, then stop -- never hang
 * silently. Only when named: scenarios=crash. */
#include "../guest.h"

static void run(void)
{
	info("executing ud2 without a fixup");
	asm volatile("ud2");
	check_fail("survived", "ud2 returned");
}

SCENARIO_EXPLICIT(99, crash, run, "deliberate unhandled #UD (tests the fault report)");
