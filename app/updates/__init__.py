"""Updates to signers: organisers write one (with versions in other languages), it is sent
through the job queue to confirmed signers who agreed to hear more, each in the language they
signed in where a version exists; every mail carries a one-click unsubscribe link."""
