#ifndef HV_VMX_EPT_H
#define HV_VMX_EPT_H
#include <stdint.h>
#include <stdbool.h>

/* Builds the identity EPT over the first 4 GiB of guest-physical memory
 * (RAM write-back, everything else uncached: a documented simplification
 * of the MTRRs) with the hypervisor's footprint left unmapped. Returns the
 * EPT pointer, or 0 on failure (reported). One EPT serves every CPU. */
uint64_t ept_build(void);
bool ept_in_footprint(uint64_t gpa);

#endif
