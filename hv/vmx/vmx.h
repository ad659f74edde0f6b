/* The VMX core's entry points. */
#ifndef HV_VMX_VMX_H
#define HV_VMX_VMX_H
#include <stdint.h>
#include <stdbool.h>
#include "vmx/vcpu.h"

/* Once, on the BSP: controls, EPT, MSR bitmap. Returns false (reported)
 * if this CPU cannot run the hypervisor. */
bool vmx_global_init(void);
/* On each CPU: VMXON, its VMCS loaded and filled with host state and
 * controls. Returns false (reported) on failure. */
bool vmx_cpu_init(void);
/* Real-mode guest state at 0:7c00 with DL = boot drive, then VMLAUNCH.
 * Never returns. */
void vmx_launch_guest(uint8_t boot_drive) __attribute__((noreturn));

const char *vmx_error_text(int status);
uint32_t vmx_preemption_ticks(void);
uint32_t vmx_timer_ticks(uint64_t tsc_cycles);
/* Prints every CPU's VM exit counts by reason (host command EXIT_STATS). */
void vmx_print_exit_stats(void);
void vmcs_dump_all(void);
void vmx_entry_failed(int invalid) __attribute__((noreturn));
void vmx_exit_handler(struct vcpu *v);
void vmx_enter_guest(struct vcpu *v, int launch) __attribute__((noreturn));

#endif
