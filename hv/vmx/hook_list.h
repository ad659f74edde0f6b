/* A short list of handlers an owner registered (exit intercepts, entry
 * stages, CPUID leaves, EPT violations, VMCALLs): one shape for all of
 * them, and a full list is reported, never dropped silently. */
#ifndef HV_VMX_HOOK_LIST_H
#define HV_VMX_HOOK_LIST_H
#include <stdbool.h>

#define MAX_HOOKS 8

struct hook_list { unsigned n; void *fn[MAX_HOOKS]; };

/* Appends fn; false (reported, naming `what`) when the list is full. */
bool hook_add(struct hook_list *l, void *fn, const char *what);

#endif
