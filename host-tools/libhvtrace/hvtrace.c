/* Host-only glue of libhvtrace.so (built by mk/hvtrace-lib.mk): what
 * ctypes cannot know by itself about the portable decoder in hv/trace/
 * (sizes, the catalogue it was compiled with). The decoding is
 * hv/trace/decode.c's, unchanged. */
#include <stddef.h>
#include <stdint.h>

#include "trace/catalog.h"
#include "trace/decode.h"

#define HVT_ABI 2

int hvt_abi(void) { return HVT_ABI; }
size_t hvt_dec_size(void) { return sizeof(struct trace_dec); }
size_t hvt_item_size(void) { return sizeof(struct tdec_item); }

/* The catalogue compiled in: hvtools checks it equals the one it loaded
 * (else it decodes in Python). */
int hvt_catalog_nargs(unsigned id) { return catalog_nargs(id); }
const char *hvt_catalog_name(unsigned id) { return catalog_event_name(id); }

/* Counters of a decoder, for the summary: frames, records, frames lost,
 * restarts, bad batches. */
void hvt_dec_counters(const struct trace_dec *d, uint64_t out[5])
{
    out[0] = d->frames;
    out[1] = d->records;
    out[2] = d->frames_lost;
    out[3] = d->restarts;
    out[4] = d->bad_batches;
}

/* The items Python must look at one by one: all but records without a
 * ring loss before them, which it takes as runs between these (rendered in
 * C: render.c, lines.c). Returns how many indexes were written to idx. */
size_t hvt_classify(const struct tdec_item *items, size_t n, uint32_t *idx)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++)
        if (items[i].kind != TDEC_RECORD || items[i].lost)
            idx[m++] = (uint32_t)i;
    return m;
}
