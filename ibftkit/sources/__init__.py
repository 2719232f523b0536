"""Where a boot configuration comes from: the iBFT, DHCP, the kernel command line, root paths."""
