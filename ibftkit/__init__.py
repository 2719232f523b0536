"""ibftkit: from firmware to a logged-in iSCSI boot disk.

Nothing heavy is imported here: ``ibftkit-init`` starts in an initramfs where every
import costs boot time. scapy and pyroute2 are imported only by the modules that need them.
"""

__version__ = "0.1.0"
