#ifndef HV_MEM_IDENTITY_H
#define HV_MEM_IDENTITY_H

/* Extends the hypervisor's identity map over all RAM above 4 GiB; once, on
 * the BSP, after pmm_init. Returns 0, or -1 (reported) out of pages. */
int mem_map_all_ram(void);

#endif
