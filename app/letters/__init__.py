"""Letters: the open letter itself, its recipients and first signatories, and its pages."""
