"""Privacy: keys, encryption of addresses, keyed hashes, and retention (purge) jobs."""
