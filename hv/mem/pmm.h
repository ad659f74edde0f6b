/* The hypervisor's own physical pages (VMCS, EPT, stacks, rings). They come
 * from one contiguous pool right after the image, so the hypervisor's whole
 * footprint is one range [hv_footprint_start, hv_footprint_end) that is
 * easy to hide from the guest (E820 hook) and to deny it (EPT). */
#ifndef HV_PMM_H
#define HV_PMM_H
#include <stdint.h>
#include <stddef.h>

#define PAGE_SIZE 4096ull

extern uint64_t hv_footprint_start, hv_footprint_end;

/* Returns 0, or -1 (with a message) if the pool cannot be placed in RAM. */
int pmm_init(uint64_t pool_bytes);
/* Zeroed, page-aligned, physically contiguous; NULL when exhausted. Safe
 * to call from any CPU outside NMI context. */
void *pmm_alloc_pages(size_t count);
void pmm_free_pages(void *p, size_t count);
size_t pmm_free_count(void);

#endif
