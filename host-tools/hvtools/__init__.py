"""Host-side tools for the hypervisor: serial framing (frame), the trace event
catalogue read from hv/trace/*.def (catalog) and trace record decoding
(records). Runs on Debian's /usr/bin/python3 with Debian packages only."""
