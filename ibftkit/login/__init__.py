"""iSCSI login: argv and node-record builders, the backends, the retry loop."""
