"""Warnings about kernel command lines that boot but are not what the user meant: a misspelt
``ibftkit.*`` or ``rd.iscsi.*`` key, and link words that name one thing twice (``ifname=``,
``bond=``, ``bridge=``). Imported only when a line has such words (start-up).

Never an error: dracut boots these lines (warning, or a later word winning), so ``ibftkit-init``
does too, with one warning per word that names it, what happens instead and, for a key, the known
keys close to it (``difflib``).

What dracut does, followed here:

- ``ifname=`` with a kernel name (``eth0``…): a warning, as ``parse_ifname_opts`` gives one
  (``modules.d/40network/net-lib.sh``: the rename fails when the kernel gave that name to another link).
- ``ifname=`` (``modules.d/40network/ifname-genrules.sh``): an identical word repeated is skipped
  silently; a second name for one MAC warns ``Multiple interface names specified for MAC`` and its
  udev rule comes later, so the later name wins (udev: the last ``NAME=`` assignment); a second MAC
  for one name warns ``Multiple MAC specified for`` and the kernel then refuses the second rename
  (the name is taken), so the first word keeps the name and the later one is dropped.
- ``bond=``/``bridge=`` (``modules.d/35network-legacy/parse-bond.sh``, ``parse-bridge.sh``): each
  word writes ``/tmp/bond.<name>.info`` (``bridge.<name>.info``), so a name given twice is the last
  word's; a slave listed twice, or a link that is already a slave or port of another bond or bridge,
  cannot be enslaved again (the kernel: a link has one master), so it is kept once, in the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from .cmdline_net import BondWord, BridgeWord, IfnameWord

#: the kernel's own names, which dracut's ``parse_ifname_opts`` (``modules.d/40network/net-lib.sh``)
#: warns about: ``eth[0-9]`` to ``eth[0-9][0-9][0-9][0-9]``
_KERNEL_NAME = re.compile(r"eth[0-9]{1,4}")


def close_words(word: str, known: Iterable[str], otherwise: str = "") -> str:
    """`` (did you mean X or Y?)`` with the known words close to ``word`` (``difflib``, at most 3),
    else `` (otherwise)``, or ``""`` without ``otherwise``."""
    near = difflib.get_close_matches(word, list(known), n=3, cutoff=0.7)
    if near:
        return f" (did you mean {' or '.join(near)}?)"
    return f" ({otherwise})" if otherwise else ""


def unknown_key_warning(key: str, value: str | None) -> str:
    """The one warning for an ``ibftkit.*`` or ``rd.iscsi.*`` key ibftkit does not know (a typo, or
    a word of another release): the word, that it is ignored, and the known keys close to it."""
    from .cmdline import _VALUE_WORDS, _WORDS, IBFTKIT_KEYS

    word = key if value is None else f"{key}={value}"
    if key.startswith("ibftkit."):
        return f"kernel command line {word}: not an ibftkit key, ignored" + close_words(
            key, IBFTKIT_KEYS, "ibftkit's keys: docs/init.md, 'Kernel command-line keys'")
    known = sorted(k for k in (*_WORDS, *_VALUE_WORDS, "rd.iscsi.mp") if k.startswith("rd.iscsi."))
    return f"kernel command line {word}: not a dracut iSCSI key ibftkit knows, ignored" + close_words(
        key, known, "dracut.cmdline(7), 'iSCSI'; ibftkit's: docs/cmdline.md, 'iSCSI words'")


def check_ifnames(words: Sequence[IfnameWord], warnings: list[str]) -> tuple[IfnameWord, ...]:
    """``ifname=`` words as dracut's rules end up naming the links (module docstring): repeats
    dropped, one name per MAC (the later word's), one MAC per name (the first word's)."""
    kept: list[IfnameWord] = []
    for w in words:
        word = f"kernel command line ifname={w.name}:{w.mac}"
        if w in kept:
            continue
        if _KERNEL_NAME.fullmatch(w.name):
            warnings.append(f"{word}: {w.name} is a name the kernel gives (eth0, eth1, …): the rename fails when "
                            "the kernel gave it to another link; use a name of your own such as bootnet (dracut "
                            "warns the same)")
        taken = [k for k in kept if k.name == w.name]
        if taken:
            warnings.append(f"{word}: the name {w.name} is given to MAC {taken[0].mac} already "
                            f"(ifname={w.name}:{taken[0].mac}); a name is one link's, this word is ignored")
            continue
        same = [k for k in kept if k.mac == w.mac]
        if same:
            warnings.append(f"{word}: MAC {w.mac} is named {same[0].name} by an earlier ifname=; the later "
                            f"word wins (as udev applies dracut's rules): the link is named {w.name}")
            kept.remove(same[0])
        kept.append(w)
    return tuple(kept)


def check_members(bonds: Sequence[BondWord], bridges: Sequence[BridgeWord],
                  warnings: list[str]) -> tuple[tuple[BondWord, ...], tuple[BridgeWord, ...]]:
    """``bond=`` and ``bridge=`` words as dracut keeps them (module docstring): one word per name
    (the last), each link a slave or port once (in the first bond, then bridge, that lists it)."""
    masters: dict[str, str] = {}  # slave or port -> the word that has it

    def last_per_name(names: Sequence[str], key: str) -> list[int]:
        order: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in order:
                warnings.append(f"kernel command line {key}={name}: given twice; the last {key}={name}:… "
                                f"is used (as dracut's parse-{key}.sh writes one file per name)")
                del order[name]
            order[name] = i
        return sorted(order.values())

    def members(key: str, name: str, links: tuple[str, ...], what: str) -> tuple[str, ...]:
        out: list[str] = []
        for link in links:
            if link in out:
                again = f"listed twice in {key}={name}"
            elif link in masters:
                again = f"a slave or port of {masters[link]} already"
            else:
                out.append(link)
                masters[link] = f"{key}={name}"
                continue
            text = (f"kernel command line {key}={name}:{','.join(links)}: {what} {link} is {again}; "
                    "a link has one master, so it is kept once, in the first")
            if text not in warnings:
                warnings.append(text)
        return tuple(out)

    new_bonds = tuple(BondWord(b.name, members("bond", b.name, b.slaves, "slave"), b.mode, b.options, b.mtu)
                      for b in (bonds[i] for i in last_per_name([b.name for b in bonds], "bond")))
    new_bridges = tuple(BridgeWord(b.name, members("bridge", b.name, b.ports, "port"))
                        for b in (bridges[i] for i in last_per_name([b.name for b in bridges], "bridge")))
    return new_bonds, new_bridges
