"""Each robot step of the process once: typed inputs in, the robot's typed result and its evidence out.

The durable flow (``flows.process.activities``) and every interface (``rpa step``) are thin adapters over
these functions: they decide where the inputs come from (the flow's own record, or the ticket's fields)
and where the evidence goes (``flows.steps.evidence_notes``), never how a console is worked.
"""
