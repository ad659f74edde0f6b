/* serial_mode=plain: readable "[cpuN] text" lines for people without hvlog
 * (events printed by name with their arguments). Called by the drain only,
 * while it owns the line. */
#ifndef HV_SERIAL_PLAIN_H
#define HV_SERIAL_PLAIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "trace/wire.h"

void plain_reset(void);
void plain_text(uint32_t cpu, const char *s, size_t n);
void plain_event(uint32_t cpu, const struct wire_raw *w, uint64_t lost);

#endif
