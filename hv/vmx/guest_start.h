#ifndef HV_VMX_GUEST_START_H
#define HV_VMX_GUEST_START_H
#include <stdint.h>

#define E820_MAX 64
struct e820_entry { uint64_t addr, len; uint32_t type; };
struct e820_table { struct e820_entry e[E820_MAX]; uint32_t count; };

/* The real-mode INT 15h hook: a VMCALL;IRET stub in the top kilobyte of
 * conventional memory. A VMCALL from stub_linear is an INT 15h call. */
struct int15_hook {
    uint16_t orig_seg, orig_off, stub_seg;
    uint32_t stub_linear;
};

extern struct int15_hook int15_hook;
extern struct e820_table guest_e820;

/* Guest state for real mode at cs:ip with DL = dl, in the current VMCS. */
void vmx_guest_real_mode(uint16_t cs, uint16_t ip, uint8_t dl);

/* Applies vmx_corrupt=FIELD from the command line to the guest VMCS. */
void vmx_apply_corruption(void);

#endif
