/* The guest's memory as the guest addresses it: linear addresses through
 * its own paging (real mode and no paging, 32-bit, PAE, 4- and 5-level),
 * and only ever into ordinary guest RAM. Used by exit handlers that must
 * touch guest memory an instruction named (string I/O), later by the GDB
 * stub and TrustVisor. */
#ifndef HV_VMX_GUEST_MEM_H
#define HV_VMX_GUEST_MEM_H
#include <stdbool.h>
#include <stdint.h>

enum guest_walk { WALK_OK, WALK_FAULT, WALK_NOT_RAM };

/* The guest's paging state, as the walk needs it. */
struct guest_paging {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t pdpte[4];          /* PAE: the PDPTEs the last entry loaded */
    bool user;                  /* CPL 3 */
    bool any_rights;            /* a debugger's access: presence only */
};
/* The current VMCS's guest paging state. */
void guest_paging_current(struct guest_paging *pg);
enum guest_walk guest_walk_with(const struct guest_paging *pg, uint64_t linear, bool write,
                                uint64_t *gpa, uint32_t *pf_error);

/* Translates a linear address with the current VMCS's guest paging state.
 * WALK_FAULT: the guest would take #PF (*pf_error holds its error code);
 * WALK_NOT_RAM: a paging structure or the page is not guest RAM. */
enum guest_walk guest_linear_to_phys(uint64_t linear, bool write, uint64_t *gpa,
                                     uint32_t *pf_error);

#endif
