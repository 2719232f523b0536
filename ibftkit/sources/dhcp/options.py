"""DHCPv4 option and message-type codes the ibftkit client sends or reads, with their RFCs.

Codes are from RFC 2132 (DHCP options and BOOTP vendor extensions) unless noted. Option 203 is
not an IANA-assigned code: it is iPXE's ``DHCP_ISCSI_INITIATOR_IQN`` (``src/include/ipxe/dhcp.h``),
the site-specific range of RFC 3942 §3, also used by ISC configurations as
``option iscsi-initiator-iqn code 203 = string;``.
"""

from __future__ import annotations

import enum


class Option(enum.IntEnum):
    """DHCP option codes (RFC 2132 unless noted)."""

    PAD = 0                    # §3.1
    SUBNET_MASK = 1            # §3.3
    ROUTER = 3                 # §3.5
    DOMAIN_NAME_SERVER = 6     # §3.8
    HOST_NAME = 12             # §3.14
    DOMAIN_NAME = 15           # §3.17
    ROOT_PATH = 17             # §3.19; RFC 4173 gives it the iscsi: syntax
    INTERFACE_MTU = 26         # §5.1
    BROADCAST_ADDRESS = 28     # §5.3
    REQUESTED_ADDRESS = 50     # §9.1
    LEASE_TIME = 51            # §9.2
    OVERLOAD = 52              # §9.3: more options in the BOOTP 'file' and/or 'sname' fields
    MESSAGE_TYPE = 53          # §9.6
    SERVER_ID = 54             # §9.7
    PARAMETER_REQUEST_LIST = 55  # §9.8
    MESSAGE = 56               # §9.9: text a server may send with a DHCPNAK
    MAX_MESSAGE_SIZE = 57      # §9.10
    VENDOR_CLASS_ID = 60       # §9.13
    CLIENT_ID = 61             # §9.14
    ISCSI_INITIATOR_IQN = 203  # iPXE / RFC 3942 site-specific range
    END = 255                  # §3.2


class MessageType(enum.IntEnum):
    """Values of option 53 (RFC 2132 §9.6)."""

    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class Overload(enum.IntFlag):
    """Values of option 52 (RFC 2132 §9.3): which BOOTP fields carry more options."""

    FILE = 1
    SNAME = 2


#: What the client asks for in option 55. Servers such as dnsmasq and ISC dhcpd send only the
#: options a client requests, so 17 and 203 must be here (RFC 2132 §9.8; ``docs/dhcp.md``).
PARAMETER_REQUEST_LIST: tuple[Option, ...] = (
    Option.SUBNET_MASK,
    Option.ROUTER,
    Option.DOMAIN_NAME_SERVER,
    Option.HOST_NAME,
    Option.DOMAIN_NAME,
    Option.ROOT_PATH,
    Option.INTERFACE_MTU,
    Option.BROADCAST_ADDRESS,
    Option.ISCSI_INITIATOR_IQN,
)

#: Option 60 (RFC 2132 §9.13) the client sends.
VENDOR_CLASS = b"ibftkit"

#: Option 57 (RFC 2132 §9.10): a whole Ethernet MTU. Asking for this much keeps servers from
#: overloading 'file'/'sname' (option 52); the client decodes overloaded options all the same.
MAX_MESSAGE_SIZE = 1500

#: DHCP magic cookie, the first four bytes of the options field (RFC 2131 §3).
MAGIC_COOKIE = b"\x63\x82\x53\x63"

SERVER_PORT = 67
CLIENT_PORT = 68
