/* TrustVisor as a hypapp (hv/hypapp/hypapp.h): its ABI is abi/tvabi.h,
 * documented in trustvisor/README.md. */
#ifndef TRUSTVISOR_TRUSTVISOR_H
#define TRUSTVISOR_TRUSTVISOR_H

/* Once, from hv_main after hypapp_init: registers the hypapp. */
void trustvisor_register(void);

#endif
