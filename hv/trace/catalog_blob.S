/* The trace catalogue's exact bytes, so the hypervisor can announce its
 * CRC-32 in the HELLO frame and the host decoder can refuse a mismatch.
 * Paths are relative to the top of the tree, where make runs. */
    .section .rodata
    .globl events_def_start, events_def_end
events_def_start:
    .incbin "hv/trace/events.def"
events_def_end:
