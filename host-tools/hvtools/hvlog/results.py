"""results/<timestamp>[-label]/: raw.bin (every byte, written as it
arrives), decoded.log (every item, no colour), summary.txt, and the
exports asked for."""
from __future__ import annotations

import os
import re
import time


class Results:
    def __init__(self, root: str, label: str | None = None) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = stamp + (("-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label)) if label else "")
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, name)
        n = 1
        while True:
            try:
                os.mkdir(path)
                break
            except FileExistsError:
                n += 1
                path = os.path.join(root, f"{name}.{n}")
        self.path = path
        self.raw = open(os.path.join(path, "raw.bin"), "wb", buffering=0)
        self.log = open(os.path.join(path, "decoded.log"), "w", encoding="utf-8")

    def write_raw(self, data: bytes) -> None:
        """Unbuffered: the bytes are in the file when this returns."""
        self.raw.write(data)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def write_text(self, name: str, text: str) -> None:
        with open(self.file(name), "w", encoding="utf-8") as f:
            f.write(text)

    def close(self) -> None:
        for f in (self.raw, self.log):
            if not f.closed:
                f.close()
