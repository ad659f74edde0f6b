"""Debian's Linux kernel image, read on the host for the debugger: the
vmlinux inside a bzImage (bzimage), its sections (vmlinux), the kernel's own
compressed symbol table (kallsyms) and its ORC unwind tables (orc), and a
minimal ELF of symbols gdb can load (symelf). Debian ships neither a
System.map nor DWARF outside its ~1 GB -dbg package; the image it boots
already holds both the names and the unwind data."""
