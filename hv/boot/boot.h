/* Constants shared by the boot assembly (entry.S) and hv_main. */
#ifndef HV_BOOT_BOOT_H
#define HV_BOOT_BOOT_H

#define BOOT_STACK_SIZE     (16 * 1024)
#define BOOT_STACK_TOP_SYM  boot_stack_top

#ifndef __ASSEMBLY__
#include <stdint.h>
extern uint8_t boot_stack[], boot_stack_top[];
extern uint64_t boot_pml4[];
extern uint32_t boot_mbi;
void hv_main(uint32_t mbi_phys);
#endif
#endif
