#ifndef HV_VMX_EPT_H
#define HV_VMX_EPT_H
#include <stdint.h>
#include <stdbool.h>

/* Builds the identity EPT over everything the firmware reports, at least
 * the first 4 GiB of guest-physical memory (RAM write-back, everything
 * else uncached: a documented simplification of the MTRRs), with the
 * hypervisor's footprint left unmapped. Returns the EPT pointer, or 0 on
 * failure (reported). One EPT serves every CPU. */
uint64_t ept_build(void);
bool ept_in_footprint(uint64_t gpa);
/* An access above what is mapped: maps its GiB uncached (identity) if it
 * is below MAXPHYADDR and outside the footprint. False if it may not be. */
bool ept_map_on_demand(uint64_t gpa);
/* A CPU's own root, sharing all tables with ept_build()'s except the walk
 * to the 4 KiB page at gpa, which starts NOT present; *pte_out is its
 * entry. Returns the EPT pointer, or 0 if out of pages. */
uint64_t ept_build_cpu(uint64_t gpa, uint64_t **pte_out);
struct mtrr_state;
/* RAM leaves take the memory types these MTRRs give them; every CPU
 * flushes at its next ept_sync (before its next entry). */
void ept_fold_memory_types(const struct mtrr_state *m);
/* Before an entry: flush EPT-derived translations if the types changed. */
void ept_sync(uint64_t *seen_generation);
/* Sets that entry and flushes the CPU's cached translations for the root. */
void ept_set_page(uint64_t eptp, uint64_t *pte, uint64_t value);
/* The EPT pointer of a root a hypapp built (a view of its own, 4 KiB
 * aligned): the walk length and paging-structure memory type of the
 * global one (SDM Vol. 3C, 24.6.11). */
uint64_t ept_pointer_of(uint64_t root);
/* On this CPU: invalidate the guest-physical and combined mappings tagged
 * with this EPT pointer's EP4TA (INVEPT single-context where offered,
 * else all-context; SDM Vol. 3C, 28.3.1, 28.4.3.1, 30.3 INVEPT). */
void ept_invalidate(uint64_t eptp);
#define EPT_PAGE_RW_UC  0x3ull      /* read/write, no execute, uncached */
#define EPT_ACCESS_MASK 0x7ull      /* read, write, execute (28.2.2) */

/* The 4 KiB leaf of guest-physical page gpa in the tables every CPU
 * shares, 1 GiB and 2 MiB leaves above it split into equivalent 4 KiB
 * ones on the way. NULL if gpa is not mapped, lies in a GiB a CPU has a
 * private copy of (the LAPIC page's), or no page is left for a table.
 * For hypapps changing what the guest may do with one of its pages: do it
 * with every other CPU stopped (quiesce), then ept_flush_everywhere(). */
uint64_t *ept_leaf_4k(uint64_t gpa);
/* Holds the tables' lock across a hypapp's quiesce (hypapp_quiesce), so no
 * CPU is stopped while it holds it; ept_* calls in between do not take it
 * again. Exit handlers only. */
void ept_hold(void);
void ept_unhold(void);
/* Every CPU invalidates its EPT-derived translations (guest-physical and
 * combined, INVEPT all-context, SDM Vol. 3C 28.4.3.1 / 30.3) before its
 * next VM entry: after a present entry was changed (28.4.3.1). */
void ept_flush_everywhere(void);

#endif
