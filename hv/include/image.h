/* The hypervisor image's own layout, as hv/boot/hv.ld places it. Symbols
 * only (no code): the fatal path checks return addresses against the text,
 * the page pool starts after the image. */
#ifndef HV_IMAGE_H
#define HV_IMAGE_H
#include <stdint.h>

extern uint8_t hv_start[], hv_end[], hv_bss_start[], hv_bss_end[];
extern uint8_t hv_text_start[], hv_text_end[];

#endif
