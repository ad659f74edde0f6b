"""Symbol look-ups in build/hv.elf for system tests (pyelftools)."""
import os

from elftools.elf.elffile import ELFFile

from testpaths import BUILD


def symbol_range(name, elf_path=os.path.join(BUILD, "hv.elf")):
    """(start, end) of a function symbol in hv.elf."""
    with open(elf_path, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name and sym["st_info"]["type"] == "STT_FUNC":
                return sym["st_value"], sym["st_value"] + sym["st_size"]
    raise KeyError(f"{name} not in {elf_path}")
