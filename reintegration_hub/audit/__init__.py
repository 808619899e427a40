"""The administrators' audit browser (the trail itself is written by ``core.audit``)."""
