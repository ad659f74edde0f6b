/* Constants shared by the boot assembly and C. */
#ifndef HV_BOOT_BOOT_H
#define HV_BOOT_BOOT_H

#define BOOT_STACK_SIZE     (16 * 1024)
#define BOOT_STACK_TOP_SYM  boot_stack_top
/* The AP trampoline runs from this real-mode page (SIPI vector 0x08). */
#define TRAMPOLINE_ADDR     0x8000

#ifndef __ASSEMBLY__
#include <stdint.h>
extern uint8_t hv_start[], hv_end[], hv_bss_start[], hv_bss_end[];
extern uint8_t hv_text_start[], hv_text_end[];
extern uint8_t boot_stack[], boot_stack_top[];
extern uint64_t boot_pml4[];
extern uint32_t boot_mbi;
void hv_main(uint32_t mbi_phys);
#endif
#endif
