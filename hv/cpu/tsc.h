#ifndef HV_TSC_H
#define HV_TSC_H
#include <stdint.h>

extern uint64_t tsc_per_ms;
void tsc_calibrate(void);           /* against the PIT, once on the BSP */
void udelay(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);

#endif
