#ifndef HV_SMP_SMP_H
#define HV_SMP_SMP_H
#include <stdint.h>
#include "acpi/acpi.h"

/* Starts every CPU of the MADT except the caller (the BSP). Returns the
 * number of CPUs online, BSP included. */
uint32_t smp_start_aps(const struct acpi_cpus *cpus);
/* Per-CPU set-up that every CPU (BSP too) runs on itself. */
void cpu_init_self(struct percpu *p);

#endif
